"""A reloaded Trainer page finds its run again (issue 15): the resume code in the URL, adopted by the new
session only once the old one has disconnected; stale or foreign codes change nothing."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from explainers import training
from pages.widgets import sessions
from pages.widgets.trainer import resume
from tests.app.test_trainer_page import PAGE, page, state

LONG = {"trainer_subset": 2000, "trainer_epochs": 30, "trainer_batch": 16}


@pytest.fixture(autouse=True)
def _no_runs_left_behind():
    yield
    training.stop_all_runs(timeout=30)


@pytest.fixture
def tabs(monkeypatch):
    """AppTest gives every session the same id: here each page() call is a tab with its own id, and the
    test says which tabs are still connected."""
    now = {"sid": "tab-1", "connected": {"tab-1"}}
    monkeypatch.setattr(sessions, "session_id", lambda: now["sid"])
    monkeypatch.setattr(sessions, "is_connected", lambda sid: sid in now["connected"])
    return now


def started(tabs) -> tuple:
    first = page(**LONG)
    first.button(key="trainer_start").click().run()
    assert not first.exception, first.exception
    run = state(first).run
    assert run is not None and run.alive
    code = first.query_params.get(resume.RESUME_KEY)
    assert code and len(code) >= 16  # unguessable
    return first, run, code


def open_tab(tabs, sid: str, code: str) -> AppTest:
    """A new session (tab ``sid``, connected) opening the Trainer at a URL carrying ``code``."""
    tabs["sid"] = sid
    tabs["connected"].add(sid)
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params[resume.RESUME_KEY] = code
    at.session_state["trainer_dataset"] = "synthetic-digits"
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_reloaded_tab_takes_its_run_back_and_owns_it(tabs):
    first, run, code = started(tabs)
    tabs["connected"].discard("tab-1")  # the reload closed the old connection
    again = open_tab(tabs, "tab-2", code)
    assert state(again).run is run  # the same run, still training
    assert state(again).token is state(first).token  # its owner now lives in the new session
    assert any("Your run is back" in t.value for t in again.toast)
    assert again.button(key="trainer_stop").disabled is False  # the learner can stop it from here
    assert "tab-2" in sessions._WATCHER._callbacks and "trainer-run" in sessions._WATCHER._callbacks["tab-2"]
    assert "trainer-run" not in sessions._WATCHER._callbacks.get("tab-1", {})  # the old tab's end no longer stops it
    run.stop()
    assert run.join(60)


def test_a_code_whose_tab_is_still_open_or_unknown_changes_nothing(tabs):
    first, run, code = started(tabs)  # tab-1 stays connected: its code is no share link
    for sid, given in (("tab-3", code), ("tab-4", "not-a-code")):
        other = open_tab(tabs, sid, given)
        assert state(other).run is None and not other.toast
        if given == "not-a-code":
            assert resume.RESUME_KEY not in other.query_params  # a stale code leaves the URL quietly
    assert state(first).run is run and run.alive
