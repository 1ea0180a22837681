"""Hostile shared links: any value for any URL key of any page gives a page, never a traceback.

The keys are the ones each page itself writes to its URL (found by running it once), so a new
setting is fuzzed as soon as it exists. A fixed corpus covers the values that used to crash
(inf, NaN, very long digit strings, negatives, out-of-range numbers); hypothesis adds arbitrary
text, several keys at once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from pages.widgets.catalog import LESSONS

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [info.path for info in LESSONS]
CORPUS = ["inf", "-inf", "nan", "NaN", "1e999", "9" * 400, "-" + "9" * 40, "99999", "-1", "-99999",
          "", " ", "0x1f", "1,2,3", "../../etc/passwd", "folder:.@64", "folder:uploads@64",
          "a" * 300, "\u202e\u0000", "None", "[]", "%00", "1e-400", "3e-5"]


def _run(script: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    return at


@cache
def url_keys(script: str) -> tuple[str, ...]:
    """Every key the page writes to its URL on a default run."""
    at = _run(script, {})
    assert not at.exception, at.exception
    return tuple(sorted(at.query_params.keys()))


def _assert_page(at: AppTest, query: dict[str, str]) -> None:
    assert not at.exception, f"{query}: {at.exception}"
    assert at.main.children, f"{query}: the page drew nothing"


@pytest.mark.parametrize("script", SCRIPTS)
def test_pages_write_their_settings_to_the_url(script):
    assert url_keys(script), f"{script} puts no setting in its URL"


@pytest.mark.parametrize("value", CORPUS)
@pytest.mark.parametrize("script", SCRIPTS)
def test_corpus_value_in_every_key_at_once(script, value):
    query = {k: value for k in url_keys(script)}
    _assert_page(_run(script, query), query)


@pytest.mark.parametrize("script", SCRIPTS)
def test_arbitrary_text_in_any_keys(script):
    keys = url_keys(script)

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.dictionaries(st.sampled_from(keys), st.text(max_size=40), min_size=1, max_size=4))
    def check(query):
        _assert_page(_run(script, query), query)

    check()
