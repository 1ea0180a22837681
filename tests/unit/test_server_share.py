"""Training leaves the server room (issue 16): thread cap, one job per session, a bounded queue, the LR
finder in the same queue, memory released after a run."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest
import torch

from explainers import training as tr
from explainers.training import (
    Callback,
    ServerBusy,
    TrainConfig,
    TrainRun,
    lr_find,
    runtime,
)
from explainers.training import run as run_mod
from explainers.training.data import synthetic_digits
from tests.unit.runs import _clean_runs, wait_for  # noqa: F401 (an autouse fixture)


@pytest.fixture(scope="module")
def tiny():
    return synthetic_digits(600, 200, seed=11)


def fast(**kw) -> TrainConfig:
    base = {"model": "mlp", "epochs": 2, "batch_size": 32, "subset": 256, "val_fraction": 0.1,
            "live_every_s": 0.05, "device": "cpu"}
    base.update(kw)
    return TrainConfig(**base)


class Slow(Callback):
    """Sleeps after each batch so a run stays active while the test looks at it."""

    def after_batch(self, state):
        time.sleep(0.05)


def slow_run(ds, **kw) -> TrainRun:
    return TrainRun(fast(epochs=50), ds, callbacks=[Slow()], **kw)


def test_torch_uses_at_most_all_cores_but_one(monkeypatch):
    before = torch.get_num_threads()
    try:
        for cores, asked, expected in ((8, None, 7), (8, 99, 7), (8, 2, 2), (1, None, 1), (2, None, 1)):
            monkeypatch.setattr(runtime.os, "cpu_count", lambda c=cores: c)
            monkeypatch.setattr(runtime, "_THREADS_SET", False)
            assert runtime.configure_threads(asked) == expected
    finally:
        torch.set_num_threads(before)


def test_one_job_per_session(tiny):
    first = slow_run(tiny, session="tab-1").start()
    with pytest.raises(ServerBusy, match="already has a run"):
        slow_run(tiny, session="tab-1").start()
    other = slow_run(tiny, session="tab-2").start()  # another tab is welcome
    pair = slow_run(tiny, session="tab-3").start()
    slow_run(tiny, session="tab-3", job=pair.job).start()  # the race: two runs of one job
    first.stop()
    assert first.join(20)
    again = TrainRun(fast(), tiny, session="tab-1").start()  # its slot in the session is free again
    assert again.join(60) and again.snapshot().status == "finished"
    other.stop()


def test_the_queue_is_bounded(tiny, monkeypatch):
    tr.set_max_concurrent_runs(1)
    monkeypatch.setattr(run_mod, "MAX_QUEUE", 2)
    running = slow_run(tiny).start()
    wait_for(lambda: running.snapshot().status == "running")
    waiting = [slow_run(tiny).start() for _ in range(2)]
    wait_for(lambda: tr.active_runs() == (1, 2))
    with pytest.raises(ServerBusy, match="2 runs are already waiting"):
        slow_run(tiny).start()
    assert [w.snapshot().queue_position for w in waiting] == [1, 2]
    waiting[0].stop()
    wait_for(lambda: tr.active_runs() == (1, 1))
    slow_run(tiny).start()  # room again


def test_the_lr_finder_queues_behind_the_cap_and_can_be_stopped(tiny):
    tr.set_max_concurrent_runs(1)
    running = slow_run(tiny).start()
    wait_for(lambda: running.snapshot().status == "running")
    stop = threading.Event()
    out: dict = {}

    def find():
        try:
            out["result"] = lr_find(fast(), tiny, num_steps=20, stop=stop)
        except ValueError as exc:
            out["error"] = str(exc)

    t = threading.Thread(target=find)
    t.start()
    wait_for(lambda: tr.active_runs() == (1, 1))  # it waits in the same queue as runs
    time.sleep(0.3)
    assert "result" not in out
    stop.set()
    t.join(10)
    assert "stopped while it waited" in out["error"]
    # With a free slot it runs, and gives the slot back.
    running.stop()
    assert running.join(20)
    res = lr_find(fast(), tiny, num_steps=20)
    assert len(res.lrs) > 5 and tr.active_runs() == (0, 0)


def test_a_finished_run_lets_go_of_optimizer_and_batches(tiny):
    seen = {}

    class Grab(Callback):
        def after_batch(self, state):
            seen.setdefault("opt", weakref.ref(state.opt))
            seen.setdefault("batches", weakref.ref(state.batches))

    run = TrainRun(fast(), tiny, callbacks=[Grab()]).start()
    assert run.join(60) and run.snapshot().status == "finished"
    gc.collect()
    assert seen["opt"]() is None and seen["batches"]() is None
    assert run.model is not None and run.result is not None  # what the page shows stays


def _nice_of(tid: int) -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, tid)


@pytest.mark.skipif(not hasattr(threading, "get_native_id") or not hasattr(__import__("os"), "setpriority"),
                    reason="per-thread nice values are a Linux feature")
def test_training_threads_run_below_the_page_threads(tiny, monkeypatch):
    monkeypatch.setenv("NEURAL_LENS_TRAIN_NICE", "7")
    mine = _nice_of(threading.get_native_id())
    seen = {}

    class Look(Callback):
        def after_batch(self, state):
            seen.setdefault("nice", _nice_of(threading.get_native_id()))

    run = TrainRun(fast(epochs=1), tiny, callbacks=[Look()]).start()
    assert run.join(60) and run.snapshot().status == "finished"
    assert seen["nice"] == min(19, mine + 7)  # the run's thread was lowered ...
    assert _nice_of(threading.get_native_id()) == mine  # ... and the caller's thread was not
    # a job the page starts in its own thread (the LR finder) runs on a lowered thread too, result intact
    assert runtime.run_at_low_priority(lambda: _nice_of(threading.get_native_id())) == min(19, mine + 7)
    with pytest.raises(ZeroDivisionError):
        runtime.run_at_low_priority(lambda: 1 / 0)
    assert _nice_of(threading.get_native_id()) == mine
    monkeypatch.setenv("NEURAL_LENS_TRAIN_NICE", "0")  # the operator can turn it off
    assert runtime.run_at_low_priority(lambda: _nice_of(threading.get_native_id())) == mine
    monkeypatch.setenv("NEURAL_LENS_TRAIN_NICE", "lots")  # a bad value falls back to the default
    assert runtime.training_nice() == 10
