"""The guided regularisation experiment: one regulariser per arm on the overfit base, and honest sentences."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from explainers.training import TrainConfig, TrainRun
from explainers.training import experiment as ex
from explainers.training.data import ImageDataset


def test_each_arm_changes_exactly_one_regulariser_of_an_unregularised_base():
    cfgs = ex.experiment_configs(TrainConfig(model="fast_cnn", dropout=0.1, weight_decay=1e-4, scheduler="onecycle"))
    base = cfgs["none"]
    assert (base.model, base.weight_decay, base.dropout, base.augment, base.patience, base.l1) == ("mlp", 0, 0, False, 0, 0)
    assert base.subset == 500 and base.scheduler == "none" and not base.problems()
    for name, cfg in cfgs.items():
        changed = {k for k, v in cfg.as_dict().items() if v != base.as_dict()[k]}
        assert changed == set(ex.ARMS[name]), name


def test_verdicts_read_the_gap_from_the_records():
    none = [{"epoch": e, "train_acc": 1.0, "val_acc": 0.8} for e in range(1, 16)]
    l2 = [{"epoch": e, "train_acc": 0.9, "val_acc": 0.85} for e in range(1, 16)]
    early = none[:5]
    assert "gap of 20%" in ex.verdict("none", none, none)
    assert "narrowed the train–validation gap (20% → 5%)" in ex.verdict("L2 (weight decay)", l2, none)
    assert "80% → 85%" in ex.verdict("L2 (weight decay)", l2, none)
    assert "after 5 of 15 epochs" in ex.verdict("early stopping", early, none)
    assert "did not change" in ex.verdict("dropout", none, none)
    assert "not enough" in ex.verdict("dropout", [], none)


def _tiny_digits(n: int = 240) -> ImageDataset:
    import torch

    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 4
    x = (torch.rand(n, 1, 8, 8, generator=g) * 60).to(torch.uint8)
    x[torch.arange(n), 0, y * 2, :] = 255  # a bright row per class: learnable, and memorisable
    return ImageDataset(name="tiny", classes=("a", "b", "c", "d"), train_x=x, train_y=y, test_x=x[:40], test_y=y[:40],
                        mean=(0.3,), std=(0.3,), synthetic=True)


def test_the_arms_train_through_the_engine_and_early_stopping_stops():
    ds = _tiny_digits()
    cfgs = ex.experiment_configs(TrainConfig(dataset="synthetic-digits", subset=200, batch_size=32), epochs=6)
    runs = {n: TrainRun(replace(c, patience=1) if n == "early stopping" else c, ds).start() for n, c in cfgs.items()}
    for r in runs.values():
        assert r.join(120)
    snaps = {n: r.snapshot() for n, r in runs.items()}
    assert all(s.status == "finished" for s in snaps.values()), {n: s.message for n, s in snaps.items()}
    assert all(np.isfinite(e["val_loss"]) for s in snaps.values() for e in s.epochs)
    for n, s in snaps.items():
        assert ex.verdict(n, s.epochs, snaps["none"].epochs).startswith(n)
