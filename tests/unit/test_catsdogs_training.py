"""Cats vs dogs through the real training engine: drawn pets are learned, augmentation runs,
and a frozen ResNet-18 (random weights, no download) only changes its head."""

from __future__ import annotations

import functools

import pytest
import torch

import models.registry as cd
from explainers import training as tr
from explainers.training import TrainConfig, TrainRun
from explainers.training.data import (
    BUILTIN_DATASETS,
    catsdogs,
    downloader,
    is_available,
    weights,
)
from models import MODELS


@pytest.fixture(scope="module")
def drawn():
    return catsdogs.synthetic_pets(n_train=320, n_test=120, size=32, seed=5)


@pytest.fixture(autouse=True)
def _clean_runs():
    yield
    tr.stop_all_runs()


def _config(**kw) -> TrainConfig:
    base = {"dataset": "synthetic-pets", "model": "catsdogs_cnn", "epochs": 4, "batch_size": 32, "lr": 1e-3,
            "dropout": 0.0, "scheduler": "onecycle", "device": "cpu", "val_fraction": 0.1, "live_every_s": 0.5,
            "histograms": False}
    base.update(kw)
    return TrainConfig(**base)


def test_registries_know_the_cats_vs_dogs_parts(tmp_path):
    assert {"catsdogs_cnn", "resnet18_transfer", "resnet18_frozen"} <= set(MODELS)
    assert {"synthetic-pets", "cifar-catsdog", "oxford-pets"} <= set(BUILTIN_DATASETS)
    assert MODELS["catsdogs_cnn"].supports(3, 64) and not MODELS["catsdogs_cnn"].supports(1, 28)
    assert MODELS["resnet18_frozen"].supports(3, 96) and not MODELS["resnet18_frozen"].supports(1, 28)
    assert is_available("synthetic-pets", tmp_path)
    assert not is_available("cifar-catsdog", tmp_path) and not is_available("oxford-pets@96", tmp_path)


def test_the_tutorial_cnn_learns_drawn_cats_and_dogs(drawn):
    run = TrainRun(_config(), drawn).start()
    assert run.join(120)
    snap = run.snapshot()
    assert snap.status == "finished", snap.message
    assert run.result.test_accuracy >= 0.9
    assert run.result.confusion.shape == (2, 2)
    assert snap.epochs[-1]["train_loss"] < snap.epochs[0]["train_loss"]


def test_an_augmented_run_trains_and_unknown_operations_fail_clearly(drawn):
    run = TrainRun(_config(epochs=1, augment=True, augmentations=("flip", "crop", "rotate", "jitter")), drawn).start()
    assert run.join(120)
    assert run.snapshot().status == "finished", run.snapshot().message
    with pytest.raises(ValueError, match="Unknown augmentation zoom"):
        TrainRun(_config(epochs=1, augment=True, augmentations=("zoom",)), drawn)


def test_a_frozen_resnet_run_only_changes_the_head(drawn, monkeypatch):
    monkeypatch.setattr(cd, "build_resnet18_transfer", functools.partial(cd.build_resnet18_transfer, pretrained=False))
    run = TrainRun(_config(model="resnet18_frozen", epochs=1, subset=96, lr=1e-2, scheduler="none"), drawn)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    run.start()
    assert run.join(120)
    assert run.snapshot().status == "finished", run.snapshot().message
    after = run.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"backbone.fc.0.weight", "backbone.fc.0.bias"}  # batch-norm statistics included


def test_missing_weights_stop_the_run_with_a_friendly_error(drawn, monkeypatch, tmp_path):
    """Building never downloads (it happens on every rerun): the architecture works for a model card,
    and training fails at its first step with a message that says what to do."""
    from models import build_model, model_card

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setattr(downloader.urllib.request, "urlopen", lambda *a, **k: pytest.fail("build must not download"))
    card = model_card(build_model("resnet18_transfer", 3, 32, 2), (3, 32, 32))
    assert card.output_shape == (2,)
    run = TrainRun(_config(model="resnet18_transfer", epochs=1, subset=64), drawn).start()
    assert run.join(60)
    snap = run.snapshot()
    assert snap.status == "failed"
    assert "not downloaded yet" in snap.message and "Download the weights" in snap.message
    with pytest.raises(ValueError, match="from scratch works offline"):  # what the race and the CLI see
        weights.fetch_resnet18_weights(download=False)


def test_the_speed_benchmark_times_the_engine_loop(tmp_path):
    """benchmarks/catsdogs_speed goes through the engine's Batches and fit: a positive rate per row."""
    import json

    from benchmarks import catsdogs_speed

    out = tmp_path / "rows.json"
    assert catsdogs_speed.main(["--sizes", "64", "--models", "catsdogs_cnn", "--device", "cpu", "--steps", "2",
                                "--batch", "4", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["model"], r["size"], r["device"]) for r in rows] == [("catsdogs_cnn", 64, "cpu")]
    assert rows[0]["images_per_second"] > 0
