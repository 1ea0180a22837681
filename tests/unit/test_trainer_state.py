"""TrainerState: one object per session, widget values through put/get, finished runs kept once and numbered."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explainers.training import TrainConfig
from pages.widgets.trainer.state import (
    MAX_RECORDS,
    STATE_KEY,
    Keys,
    RunRecord,
    TrainerState,
    describe,
)


class FakeRun:
    """What TrainerState reads from a TrainRun: id, config, model, result and snapshot().done."""

    def __init__(self, id: int, done: bool = True, dataset: str = "mnist", result: object | None = "result"):
        self.id, self.done = id, done
        self.config = TrainConfig(dataset=dataset, model="mlp", lr=0.01)
        self.model, self.result = object(), result

    def snapshot(self):
        return SimpleNamespace(done=self.done)


def test_one_state_per_session_created_on_first_use():
    session: dict = {}
    state = TrainerState.of(session)
    assert session[STATE_KEY] is state and TrainerState.of(session) is state
    assert state.run is None and state.records == [] and not state.active
    session[STATE_KEY] = "left over from an older version"
    assert isinstance(TrainerState.of(session), TrainerState)
    assert TrainerState.of({}) is not state  # sessions share nothing
    assert TrainerState.of({}).token is not state.token


def test_widget_values_go_to_their_keys():
    session: dict = {}
    state = TrainerState.of(session)
    state.put(Keys.LR, 0.05)
    state.put_all({Keys.MODEL: "mlp", Keys.augmentation("flip"): False})
    assert session == {STATE_KEY: state, "trainer_lr": 0.05, "trainer_model": "mlp", "trainer_cd_flip": False}
    assert state.get(Keys.MODEL) == "mlp" and state.get(Keys.DATASET, "none") == "none"


def test_finished_runs_are_archived_once_numbered_and_capped():
    state = TrainerState.of({})
    assert state.archive(FakeRun(1, result=None)) is None  # failed before any result: nothing to show
    first = state.archive(FakeRun(7))
    assert isinstance(first, RunRecord) and first.label.startswith("Run 1: ") and first.dataset == "mnist"
    assert state.archive(FakeRun(7)) is None and len(state.records) == 1  # the page may see the end twice
    for i in range(MAX_RECORDS + 2):
        state.archive(FakeRun(100 + i, dataset="fashion-mnist" if i % 2 else "mnist"))
    assert len(state.records) == MAX_RECORDS
    assert state.records[-1].label.startswith(f"Run {MAX_RECORDS + 3}: ")  # numbering never restarts
    assert all(r.dataset == "fashion-mnist" for r in state.records_for("fashion-mnist"))
    assert len(state.records_for("mnist")) + len(state.records_for("fashion-mnist")) == MAX_RECORDS


def test_active_follows_the_latest_run_and_the_race():
    state = TrainerState.of({})
    state.run = FakeRun(1, done=False)
    assert state.active
    state.run.done = True
    assert not state.active
    state.race = [FakeRun(2, done=True), FakeRun(3, done=False)]
    assert state.race_active
    state.race[1].done = True
    assert not state.race_active


@pytest.mark.parametrize(("changes", "text"), [
    ({}, "MLP 784-64-64-64-10, adam lr 0.001"),
    ({"subset": 500, "weight_decay": 1e-3, "augment": True}, "MLP 784-64-64-64-10, adam lr 0.001, 500 imgs, wd 0.001, aug"),
    ({"l1": 1e-5, "dropout": 0.2, "patience": 3}, "MLP 784-64-64-64-10, adam lr 0.001, L1 1e-05, drop 0.2, early stop 3"),
    ({"model": "catsdogs_cnn", "optimizer": "sgd"}, "Cats-vs-dogs CNN, sgd lr 0.001"),  # "(from scratch)" cut
])
def test_describe_names_what_differs(changes, text):
    assert describe(TrainConfig(**{"model": "mlp", "lr": 1e-3, **changes})) == text
