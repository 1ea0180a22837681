# Neural Lens: `make run` to use the app, `make test` to run every test layer.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
CHROMIUM ?= /usr/bin/chromium
# pyflakes, pycodestyle errors, import order, pyupgrade, bugbear, pylint errors.
RUFF_ARGS := --target-version py311 --select E4,E7,E9,F,I,UP,B,PLE --ignore B905

.PHONY: run test unit app browser lint chromium bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m streamlit run app.py --server.port $(PORT)

# Debian's Chromium for the browser tests; Playwright never downloads a browser here.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "chromium: not installed and cannot apt-get it (not root); browser tests will say so"; \
	fi

# Debian's HAProxy for `make serve` and the proxy tests (tests/deploy, tests/browser/test_proxy_browser.py).
haproxy:
	@if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then \
		echo "haproxy: $$(command -v haproxy || echo /usr/sbin/haproxy)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy; \
	else \
		echo "haproxy: not installed and cannot apt-get it (not root); proxy tests will say so"; \
	fi

# Every core serves pages: N app processes behind HAProxy with sticky sessions (Ctrl-C stops all).
N ?= 2
.PHONY: haproxy serve compose-secret
serve: $(VENV)/.runtime haproxy
	$(PY) -m deploy.serve --apps $(N) --port $(PORT)

# One cookie secret per deployment for compose.yaml, kept in .env (git- and docker-ignored).
compose-secret:
	@if grep -qs '^NEURAL_LENS_COOKIE_SECRET=.' .env; then \
		echo ".env already has NEURAL_LENS_COOKIE_SECRET"; \
	else \
		umask 077; echo "NEURAL_LENS_COOKIE_SECRET=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" >> .env; \
		echo "wrote NEURAL_LENS_COOKIE_SECRET to .env"; \
	fi

# ruff, then the layer contracts in .importlinter (pages -> widgets -> figures/training -> maths/models).
lint: $(VENV)/.dev
	$(PY) -m ruff check $(RUFF_ARGS) .
	$(VENV)/bin/lint-imports

unit: $(VENV)/.dev
	$(PY) -m pytest tests/unit

app: $(VENV)/.dev
	$(PY) -m pytest tests/app

browser: $(VENV)/.dev chromium haproxy
	$(PY) -m pytest tests/browser

test: $(VENV)/.dev chromium haproxy lint
	$(PY) -m pytest -ra tests

bench: $(VENV)/.dev chromium
	$(PY) -m benchmarks.latency

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis tests/browser/artifacts
