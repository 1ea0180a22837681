"""Shared by the AppTest files: run one page script with a URL query and no exception."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "pages"


def run_page(script: str, query: dict | None = None, *, timeout: float = 60) -> AppTest:
    """Run pages/<script> once with `query` as its URL parameters; assert it raised nothing."""
    at = AppTest.from_file(str(PAGES / script), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def slider(at: AppTest, label: str):
    """The slider with this label (StopIteration names a missing one in the traceback)."""
    return next(s for s in at.slider if s.label == label)
