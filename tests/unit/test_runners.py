"""The runner seam: the local runner is today's TrainRun; the runner is chosen by $NEURAL_LENS_RAY_ADDRESS."""

from __future__ import annotations

import sys

import pytest

from explainers.training import TrainConfig
from explainers.training.runners import Placement, RunnerUnavailable, get_runner
from explainers.training.runners.local import LocalRunner

TINY = TrainConfig(dataset="synthetic-digits", model="fast_cnn", epochs=1, subset=300, batch_size=64, seed=5,
                   histograms=False)


def test_the_local_runner_trains_in_this_process_like_a_train_run():
    from explainers.training import TrainRun
    from explainers.training.data import load_dataset

    ds = load_dataset(TINY.dataset)
    run = LocalRunner().start(TINY, ds)
    assert run.join(120)
    snap = run.snapshot()
    assert snap.status == "finished" and run.result is not None and run.model is not None
    assert run.placement == Placement("local", "this machine", "cpu")
    assert run.placement.label() == "this machine, CPU"
    # the same loop as a TrainRun started by hand, so the same numbers for the same seed
    ref = TrainRun(TINY, ds).start()
    assert ref.join(120)
    assert ref.result.test_accuracy == run.result.test_accuracy


def test_the_local_runner_refuses_a_bad_config_before_starting():
    with pytest.raises(ValueError, match="epoch"):
        LocalRunner().start(TrainConfig(epochs=0))


def test_the_environment_picks_the_runner(monkeypatch):
    monkeypatch.delenv("NEURAL_LENS_RAY_ADDRESS", raising=False)
    assert get_runner().name == "local" and get_runner() is get_runner()
    monkeypatch.setenv("NEURAL_LENS_RAY_ADDRESS", "ray://nowhere.invalid:10001")
    runner = get_runner()
    assert runner.name == "ray" and runner.address == "ray://nowhere.invalid:10001"
    assert get_runner("").name == "local"


def test_without_ray_installed_the_page_gets_one_line_saying_what_to_do(monkeypatch):
    from explainers.training.runners.ray import RayRunner

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RunnerUnavailable, match="requirements-ray.txt") as err:
        RayRunner("auto").start(TINY)
    assert "\n" not in str(err.value)


def test_placement_labels():
    assert Placement("ray", "", "").label() == "the Ray cluster (waiting for a free slot)"
    assert Placement("ray", "cluster node gpu-1 (10.0.0.7)", "cuda").label() == "cluster node gpu-1 (10.0.0.7), GPU"
