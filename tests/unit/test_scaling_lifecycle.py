"""Scaling out: worker processes are always cleaned up, and every failure is one clear line.

Stop, a session that ends (its owner token collected), a timeout, a worker killed mid-run and
a worker that raises: after each, no worker process of ours is left running.
"""

from __future__ import annotations

import gc
import os
import signal
import time

import pytest

from explainers import scaling as sc
from tests.unit.scaling_procs import is_running, live_children

# Long enough on any machine to be caught running: thousands of timed repeats after 100 steps.
LONG = sc.DataParallelPlan(world_size=2, batch_per_rank=64, steps=100, timing_repeats=5000)


def _wait_for(job: sc.Job, status: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while job.snapshot().status != status:
        assert not job.snapshot().done, job.snapshot().message
        assert time.monotonic() < deadline, f"never reached {status!r}: {job.snapshot()}"
        time.sleep(0.05)


def _assert_all_gone(pids: list[int]) -> None:
    assert pids, "the job started no worker"
    assert not [p for p in pids if is_running(p)]
    assert live_children() == []


def test_stop_ends_every_worker():
    job = sc.start(LONG)
    _wait_for_pids(job)
    job.stop()
    assert job.join(30)
    snap = job.snapshot()
    assert snap.status == "stopped" and "every worker process has been ended" in snap.message
    _assert_all_gone(job.pids())


def _wait_for_pids(job: sc.Job, n: int = 2) -> None:
    deadline = time.monotonic() + 60
    while len(job.pids()) < n:
        assert time.monotonic() < deadline and not job.snapshot().done, job.snapshot().message
        time.sleep(0.02)


def test_a_session_that_ends_stops_its_job():
    class Token:
        pass

    token = Token()
    job = sc.start(LONG, owner=token)
    _wait_for_pids(job)
    del token
    gc.collect()
    assert job.join(30)
    assert job.snapshot().status == "stopped"
    _assert_all_gone(job.pids())


def test_a_run_past_its_time_limit_is_killed_with_a_message():
    job = sc.start(LONG, timeout_s=0.5)
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "failed" and isinstance(snap.error, sc.JobTimeout)
    assert snap.message == "The run took longer than 0.5 s and was stopped."
    _assert_all_gone(job.pids())


def test_a_worker_killed_mid_run_fails_the_job_and_the_others_are_ended():
    job = sc.start(LONG)
    _wait_for(job, "running")  # the workers are up and reporting
    os.kill(job.pids()[1], signal.SIGKILL)
    assert job.join(30)
    snap = job.snapshot()
    assert snap.status == "failed" and isinstance(snap.error, sc.WorkerCrashed)
    assert snap.message == "Worker rank 1 crashed (killed by SIGKILL); the other ranks were stopped."
    _assert_all_gone(job.pids())
    with pytest.raises(sc.WorkerCrashed):
        raise snap.error


def test_a_worker_that_raises_gives_its_first_line():
    bad = sc.DataParallelPlan(world_size=2, steps=1)
    object.__setattr__(bad, "model", "no-such-model")
    with pytest.MonkeyPatch.context() as mp:  # past the plan's own check, so the worker itself meets the bad value
        mp.setattr(sc.DataParallelPlan, "problems", lambda self: [])
        job = sc.start(bad)
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status == "failed" and isinstance(snap.error, sc.WorkerCrashed)
    assert snap.message.startswith("Worker rank ") and "Unknown model 'no-such-model'" in snap.message
    assert "\n" not in snap.message
    _assert_all_gone(job.pids())


def test_run_raises_the_jobs_error_and_jobs_queue_for_the_slot():
    first = sc.start(LONG)
    second = sc.start(LONG)  # one job at a time server-wide: this one waits
    _wait_for_pids(first)
    assert second.snapshot().status == "queued" and second.pids() == []
    second.stop()
    first.stop()
    assert first.join(30) and second.join(30)
    assert second.snapshot().status == "stopped"
    sc.stop_all_jobs()
    assert sc.live_jobs() == []
    _assert_all_gone(first.pids())
    with pytest.raises(sc.JobTimeout, match="longer than 0.3 s"):
        sc.run(LONG, timeout_s=0.3)
    assert live_children() == []
