# Neural Lens in a container, after Streamlit's Docker guide (docs.streamlit.io, "Deploy Streamlit using Docker").
#   docker build -t neural-lens .                       # CPU-only torch (the default, much smaller)
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t neural-lens:cuda .
#   docker run -p 8501:8501 -e STREAMLIT_SERVER_COOKIE_SECRET="$(openssl rand -hex 32)" neural-lens
# For every core of a machine use compose.yaml (several of these behind HAProxy), not one big container.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEURAL_LENS_DATA=/app/data

WORKDIR /app

# Dependencies before the code, so editing a page does not reinstall torch. torch and torchvision
# come as a matching pair from one index (a mismatched pair fails at import).
COPY requirements.txt ./
RUN pip install torch torchvision --index-url "${TORCH_INDEX}" \
    && pip install -r requirements.txt

COPY . .
# Not root; the data folder is the one place the app writes (datasets, imported zips).
RUN useradd --create-home --uid 1000 lens \
    && mkdir -p /app/data \
    && chown lens:lens /app/data
USER lens

EXPOSE 8501
# The slim image has no curl; Python asks the same question the guide's curl does.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]

ENTRYPOINT ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.fileWatcherType=none"]
