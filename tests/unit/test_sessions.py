"""The session watcher: end callbacks fire once a session has been gone longer than the grace period."""

from __future__ import annotations

from pages.widgets import sessions


def test_end_callbacks_fire_after_the_grace_period_only(monkeypatch):
    connected = {"a": True, "b": True}
    monkeypatch.setattr(sessions, "_runtime_says_active", lambda sid: connected[sid])
    w = sessions._Watcher()
    fired: list[str] = []
    w._callbacks = {"a": {"run": lambda: fired.append("a-run"), "uploads": lambda: fired.append("a-up")},
                    "b": {"run": lambda: fired.append("b-run")}}
    assert w.check(0.0, grace=10.0) == []
    connected["a"] = False  # tab closed (or a network blip)
    assert w.check(1.0, grace=10.0) == [] and fired == []
    connected["a"] = True  # it reconnected inside the window: nothing happens, the clock restarts
    assert w.check(5.0, grace=10.0) == []
    connected["a"] = False
    assert w.check(6.0, grace=10.0) == []
    assert w.check(15.9, grace=10.0) == [] and fired == []
    assert w.check(16.0, grace=10.0) == ["a"]
    assert sorted(fired) == ["a-run", "a-up"]
    assert w.check(100.0, grace=10.0) == [] and len(fired) == 2  # once only; b is still connected


def test_a_failing_callback_does_not_stop_the_others(monkeypatch):
    monkeypatch.setattr(sessions, "_runtime_says_active", lambda sid: False)
    w = sessions._Watcher()
    fired = []

    def boom():
        raise RuntimeError("cleanup failed")

    w._callbacks = {"x": {"one": boom, "two": lambda: fired.append(1)}}
    w.check(0.0, grace=0.0)
    assert fired == [1]


def test_no_runtime_means_no_session_ends(monkeypatch):
    monkeypatch.setattr(sessions, "_runtime_says_active", lambda sid: None)  # AppTest, scripts
    w = sessions._Watcher()
    w._callbacks = {"x": {"one": lambda: (_ for _ in ()).throw(AssertionError("must not fire"))}}
    assert w.check(0.0, grace=0.0) == [] and w.check(1e6, grace=0.0) == []


def test_grace_is_longer_than_streamlits_reconnect_window(monkeypatch):
    monkeypatch.delenv("NEURAL_LENS_SESSION_GRACE_S", raising=False)
    import streamlit as st

    assert sessions.grace_seconds() > st.get_option("server.disconnectedSessionTTL")
    monkeypatch.setenv("NEURAL_LENS_SESSION_GRACE_S", "3")
    assert sessions.grace_seconds() == 3.0
