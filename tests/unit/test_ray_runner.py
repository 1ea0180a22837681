"""The Ray runner against a real local Ray (2 CPUs): same numbers as the local runner, stop, a killed worker.

Needs ray (requirements-ray.txt, part of requirements-dev.txt); skipped with that reason otherwise.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import pytest

pytest.importorskip("ray", reason="ray is not installed: pip install -r requirements-ray.txt")

from explainers.training import ServerBusy, TrainConfig, configure_threads  # noqa: E402
from explainers.training.data import load_dataset  # noqa: E402
from explainers.training.runners.local import LocalRunner  # noqa: E402
from explainers.training.runners.ray import RayRunner  # noqa: E402

SHORT = TrainConfig(dataset="synthetic-digits", model="fast_cnn", epochs=1, subset=600, batch_size=64, seed=3,
                    histograms=False)
# Long enough to be caught mid-epoch on a busy 2-core machine: 20000 images, batches of 32.
LONG = replace(SHORT, subset=None, batch_size=32, epochs=3)


@pytest.fixture(scope="module")
def runner():
    import ray

    if ray.is_initialized():
        ray.shutdown()
    r = RayRunner("local", init_options={"num_cpus": 2, "object_store_memory": 128 * 2**20})
    r.connect()
    yield r
    ray.shutdown()


def _wait(run, predicate, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while True:
        snap = run.snapshot()
        if predicate(snap):
            return snap
        assert time.monotonic() < deadline, f"timed out; last snapshot: {snap.status}: {snap.message}"
        time.sleep(0.3)


def test_two_concurrent_runs_match_the_local_runner_for_the_same_seed(runner):
    dataset = load_dataset(SHORT.dataset)
    a, b = runner.start(SHORT, dataset), runner.start(SHORT, dataset)
    snaps = [_wait(r, lambda s: s.done) for r in (a, b)]
    assert [s.status for s in snaps] == ["finished", "finished"], [s.message for s in snaps]
    # A Ray run trains with the CPUs Ray gave it (1 thread); so does the reference here.
    import torch

    configure_threads()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = LocalRunner().start(SHORT, dataset)
        assert local.join(300)
    finally:
        torch.set_num_threads(threads)
    assert a.result.test_accuracy == b.result.test_accuracy == local.result.test_accuracy
    assert snaps[0].step_loss == local.snapshot().step_loss  # the same fit loop, batch for batch
    # The trained weights came back: the model rebuilt here predicts like the worker's did.
    assert a.model is not None
    from explainers.training import evaluate

    assert evaluate(a.model, dataset).test_accuracy == pytest.approx(a.result.test_accuracy)
    assert a.placement.node == "this machine, through Ray" and a.placement.device == "cpu"
    assert a.placement.label() == "this machine, through Ray, CPU"


def test_a_gpu_run_on_a_cluster_without_gpus_is_refused_in_one_line(runner):
    assert not runner.has_gpus()
    with pytest.raises(ValueError, match="The Ray cluster has no GPU"):
        runner.start(replace(SHORT, device="cuda"))


def test_stop_works_mid_epoch(runner):
    run = runner.start(LONG, session="tab-1")
    with pytest.raises(ServerBusy, match="already has a run"):  # one run per learner, as on the local runner
        runner.start(SHORT, session="tab-1")
    _wait(run, lambda s: s.status == "running" and s.batch >= 3)
    run.stop()
    snap = _wait(run, lambda s: s.done, timeout=60)
    assert snap.status == "stopped" and "Stopped by the user" in snap.message
    assert snap.epoch == 1 and snap.batch < snap.batches_per_epoch  # it did not finish the epoch first
    assert not run.alive


def test_a_killed_worker_says_so_and_frees_its_slot_for_the_next_run(runner):
    a, b = runner.start(LONG), runner.start(LONG)
    for r in (a, b):
        _wait(r, lambda s: s.status == "running")
    c, d = runner.start(SHORT), runner.start(SHORT)  # both CPUs are busy: they wait, in order
    assert [(r.snapshot().status, r.snapshot().queue_position) for r in (c, d)] == [("queued", 1), ("queued", 2)]
    assert c.placement.label() == "the Ray cluster (waiting for a free slot)"
    d.stop()  # a queued run leaves the queue at once
    snap = d.snapshot()
    assert snap.status == "stopped" and "had not started yet" in snap.message
    assert c.snapshot().queue_position == 1
    os.kill(a._where["pid"], signal.SIGKILL)  # the node loses the worker (out of memory, crash, ...)
    lost = _wait(a, lambda s: s.done, timeout=60)
    assert lost.status == "failed"
    assert "stopped unexpectedly" in lost.message and "start the run once more" in lost.message
    assert "\n" not in lost.message
    # Ray gave the dead worker's CPU to the waiting run.
    _wait(c, lambda s: s.status in ("running", "finished"), timeout=120)
    b.stop()
    assert _wait(b, lambda s: s.done, timeout=60).status == "stopped"
    assert _wait(c, lambda s: s.done).status == "finished"


def test_a_worker_that_ignores_stop_is_ended(runner, monkeypatch):
    import ray

    from explainers.training.runners import ray as ray_runner

    run = runner.start(LONG)
    _wait(run, lambda s: s.status == "running")
    actor = run._actor
    monkeypatch.setattr(ray_runner, "KILL_AFTER_S", 0.0)
    monkeypatch.setattr(ray_runner, "_stop_actor", lambda actor: None)  # the stop flag never arrives
    run.stop()
    snap = _wait(run, lambda s: s.done, timeout=30)
    assert snap.status == "stopped" and "did not stop within" in snap.message
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(actor.snapshot.remote(), timeout=30)


def test_after_the_cluster_connection_is_gone_nothing_starts_a_new_cluster(runner):
    """Last in this file: it shuts the module's Ray down. Ray's API starts a fresh local cluster when
    called unconnected, in whatever thread calls it (here it once came from a garbage-collection
    finalizer, and the cluster's death took the whole test process down)."""
    import gc

    import ray

    class Owner:  # stands for a session's token: a weak-referenceable object
        pass

    owner = Owner()
    run = runner.start(LONG, owner=owner)
    _wait(run, lambda s: s.status == "running")
    ray.shutdown()
    del owner
    gc.collect()  # the owner's finalizer asks the (gone) actor to stop
    run.stop()
    snap = run.snapshot()
    assert snap.status == "failed" and "lost its connection to the Ray cluster" in snap.message
    run.kill()
    assert not ray.is_initialized()  # none of these started a new cluster
