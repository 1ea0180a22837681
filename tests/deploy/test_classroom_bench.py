"""benchmarks/classroom.py, smoke: two simulated sessions for a few seconds through the proxy to two apps."""

from __future__ import annotations

import pytest

from benchmarks.classroom import MAX_SESSIONS, make_room, measure, row
from tests.deploy.helpers import proxied_room, require_haproxy


def test_two_sessions_move_sliders_through_the_proxy_on_both_processes():
    require_haproxy()
    with proxied_room(2) as room:
        out = measure(room, sessions=2, seconds=5, period=1.0, timeout=60, settle=0.5)
    assert out.errors == []
    assert sorted(log.page for log in out.logs) == ["convolution", "perceptron"]
    # Each session had its page load and at least two slider moves answered, each by a finished run.
    assert all(log.load is not None and len(log.responses) >= 2 for log in out.logs)
    assert 0 < out.median() <= out.p90() < 60
    # leastconn + the sticky cookie: one session per process, and both processes did the work.
    assert {log.backend for log in out.logs} == {"app1", "app2"}
    apps = [u for u in out.usage if u.name.startswith("app")]
    assert len(apps) == 2 and all(u.cpu_percent > 0 and u.rss_peak >= u.rss_before > 0 for u in apps)
    assert any(u.name == "haproxy" for u in out.usage)
    assert row(out).startswith("| 2 apps, proxy | 2 |")


def test_the_benchmark_is_bounded():
    room = object.__new__(object)  # never reached: the bounds are checked first
    with pytest.raises(ValueError, match="sessions"):
        measure(room, sessions=MAX_SESSIONS + 1, seconds=5)
    with pytest.raises(ValueError, match="seconds"):
        measure(room, sessions=1, seconds=10_000)


def test_a_class_arriving_at_once_on_a_fresh_server_sees_no_error():
    """Four tabs open together on a just-started server (two Convolution, two Perceptron).

    plotly imports pandas lazily and looks it up in sys.modules without Python's import lock, so a
    session could meet a pandas that another session was still importing ("partially initialized
    module 'pandas'") unless app.py imports it whole first.
    """
    with make_room("direct") as room:
        out = measure(room, sessions=4, seconds=2, period=1.0, timeout=90, settle=0.1)
    assert out.errors == []
    assert all(log.load is not None for log in out.logs)
