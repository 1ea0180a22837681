"""Shared by the browser tests and the benchmarks: a real Streamlit server and settle-waiting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SETTLED = "[data-testid='stApp'][data-test-script-state='notRunning']"
# Every panel drawn by our browser component (pages/widgets/slider_panel.py): each sits in a shadow root, which
# document.querySelectorAll does not enter.
PANELS = """() => [...document.querySelectorAll("*")].map((e) => e.shadowRoot && e.shadowRoot.querySelector(".nl-panel"))
  .filter(Boolean)"""
# The page's text includes t, the panels' included (document.body.innerText does not enter a shadow root).
_HAS_TEXT = "t => document.body.innerText.includes(t) || (" + PANELS + ")().some((p) => p.innerText.includes(t))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(script: str, port: int, log_path: Path, extra_env: dict | None = None,
                    cwd: Path | None = None) -> subprocess.Popen:
    """Start `streamlit run script` on 127.0.0.1:port and wait until /_stcore/health answers ok.

    `script` is relative to `cwd`, the checkout it runs from (this one unless told: benchmarks/ab.py runs
    another revision beside it)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", script,
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
            # Tests read the error they assert against; visitors get "none" from .streamlit/config.toml.
            "--client.showErrorDetails", "full",
        ],
        cwd=cwd or ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    deadline = time.monotonic() + 90
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy in 90 s; see {log_path}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_settled(pg, timeout: float = 60_000) -> None:
    """Wait until the script run has finished (the app reports notRunning) and stays so briefly."""
    pg.wait_for_selector(SETTLED, timeout=timeout)
    pg.wait_for_timeout(150)  # a rerun triggered by the last delta starts within this window
    pg.wait_for_selector(SETTLED, timeout=timeout)


def wait_text(pg, text: str, timeout: float = 20_000) -> None:
    """Wait until `text` shows on the page, in a browser-drawn panel or outside one."""
    pg.wait_for_function(_HAS_TEXT, arg=text, timeout=timeout)


def open_page(pg, base: str, path: str = "") -> None:
    pg.goto(f"{base}/{path}", wait_until="domcontentloaded")
    pg.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    wait_settled(pg)


def assert_no_exception(pg) -> None:
    exc = pg.locator("[data-testid='stException']")
    assert exc.count() == 0, exc.first.inner_text()
