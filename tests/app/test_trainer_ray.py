"""The Trainer page with NEURAL_LENS_RAY_ADDRESS set: the run executes on a (local) Ray, the page says where,
and the finished run is archived with its model like a local one. Needs ray (requirements-ray.txt)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray", reason="ray is not installed: pip install -r requirements-ray.txt")

from streamlit.testing.v1 import AppTest  # noqa: E402

from explainers.training import runners  # noqa: E402
from pages.widgets.trainer.state import STATE_KEY  # noqa: E402

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "trainer.py")


@pytest.fixture
def ray_runner(monkeypatch):
    import ray

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setenv(runners.RAY_ADDRESS_ENV, "local")
    runner = runners.get_runner()
    runner.init_options = {"num_cpus": 2, "object_store_memory": 128 * 2**20}
    yield runner
    ray.shutdown()
    runners._RUNNERS.pop("local", None)  # the next test gets a fresh runner, not one of a shut-down Ray


def _texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("caption", "info", "error", "success") for e in getattr(at, kind))


def test_a_run_started_on_the_page_trains_on_ray_and_comes_back_with_its_model(ray_runner):
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {"trainer_dataset": "synthetic-digits", "trainer_subset": 200, "trainer_epochs": 1,
                 "trainer_batch": 64}.items():
        at.session_state[k] = v
    at.run()
    at.button(key="trainer_start").click().run()
    assert not at.exception, at.exception
    state = at.session_state[STATE_KEY]
    run = state.run
    assert run.placement.runner == "ray"
    # While Ray starts the worker the run waits on the cluster's queue, and the page says whose queue.
    assert "The Ray cluster is busy" in _texts(at) or "Training on this machine, through Ray" in _texts(at)
    assert run.join(300), run.snapshot().message
    at.run()  # the fragment sees the finished run, archives it and reruns the page
    assert not at.exception, at.exception
    assert run.snapshot().status == "finished"
    assert "Training on this machine, through Ray, CPU." in _texts(at)  # where it ran
    record = state.records[-1]
    assert record.id == run.id and record.model is not None and record.result.test_accuracy == run.result.test_accuracy
    assert at.button(key="trainer_start").disabled is False


def test_an_unreachable_cluster_is_one_line_on_the_page(monkeypatch):
    import ray

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setenv(runners.RAY_ADDRESS_ENV, "ray://127.0.0.1:9")  # nothing listens on the discard port
    try:
        at = AppTest.from_file(PAGE, default_timeout=120)
        for k, v in {"trainer_dataset": "synthetic-digits", "trainer_subset": 200, "trainer_epochs": 1}.items():
            at.session_state[k] = v
        at.run()
        at.button(key="trainer_start").click().run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        assert any("Cannot reach the Ray cluster at 'ray://127.0.0.1:9'" in e for e in errors), errors
        assert at.session_state[STATE_KEY].run is None
        # The failed attempt leaves nothing behind: a cluster that is there later is reached.
        from explainers.training.runners.ray import RayRunner

        later = RayRunner("local", init_options={"num_cpus": 1, "object_store_memory": 128 * 2**20})
        later.connect()
        assert later.ray.is_initialized()
    finally:
        runners._RUNNERS.pop("ray://127.0.0.1:9", None)
        if ray.is_initialized():
            ray.shutdown()
