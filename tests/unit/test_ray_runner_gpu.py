"""The Ray runner on a cluster that has a GPU: one GPU per run, so Ray queues runs until the GPU is free.

Ray schedules by declared resources, so a local Ray told it has one GPU (ray.init(num_gpus=1)) tests
the queueing on any machine; torch inside the worker still trains where it can ("auto": the CPU here).
Needs ray (requirements-ray.txt); skipped with that reason otherwise.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

pytest.importorskip("ray", reason="ray is not installed: pip install -r requirements-ray.txt")

from explainers.training import TrainConfig  # noqa: E402
from explainers.training.runners.ray import RayRunner  # noqa: E402

SHORT = TrainConfig(dataset="synthetic-digits", model="fast_cnn", epochs=1, subset=600, batch_size=64, seed=3,
                    histograms=False)
LONG = replace(SHORT, subset=None, batch_size=32, epochs=3)


@pytest.fixture(scope="module")
def gpu_runner():
    import ray

    if ray.is_initialized():
        ray.shutdown()
    r = RayRunner("local", init_options={"num_cpus": 2, "num_gpus": 1, "object_store_memory": 128 * 2**20})
    r.connect()
    yield r
    ray.shutdown()


def _wait(run, predicate, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while not predicate(snap := run.snapshot()):
        assert time.monotonic() < deadline, f"timed out; last snapshot: {snap.status}: {snap.message}"
        time.sleep(0.3)
    return snap


def test_each_run_takes_the_gpu_so_the_next_waits_although_a_cpu_is_free(gpu_runner):
    assert gpu_runner.has_gpus()
    a = gpu_runner.start(LONG)
    _wait(a, lambda s: s.status == "running")
    assert a._where["gpus"] == ["0"]  # Ray gave the run the cluster's GPU
    b = gpu_runner.start(SHORT)
    time.sleep(3)  # time enough for Ray to start b if it only needed a CPU
    snap = b.snapshot()
    assert snap.status == "queued" and snap.queue_position == 1 and "Waiting for a GPU" in snap.message
    a.stop()
    assert _wait(a, lambda s: s.done, timeout=60).status == "stopped"
    assert _wait(b, lambda s: s.done).status == "finished"
    assert b._where["gpus"] == ["0"]


def test_a_cpu_only_run_does_not_wait_for_the_gpu(gpu_runner):
    a = gpu_runner.start(LONG)
    _wait(a, lambda s: s.status == "running")
    b = gpu_runner.start(replace(SHORT, device="cpu"))
    assert _wait(b, lambda s: s.done).status == "finished" and b._where["gpus"] == []
    a.stop()
    _wait(a, lambda s: s.done, timeout=60)
