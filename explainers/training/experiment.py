"""The guided regularisation experiment: the overfit preset trained five times, with nothing, L2, dropout,
augmentation and early stopping, each compared against "none" (issue 13: regularisation you can see).

Only configs and a one-sentence reading of finished runs' epoch records live here; the runs go through
the ordinary runner (its cap and queue), like any other run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from explainers.training.config import TrainConfig

# what each arm changes on the overfit base; one knob at a time, strong enough to see on 500 images
ARMS: dict[str, dict] = {
    "none": {},
    "L2 (weight decay)": {"weight_decay": 1e-2},
    "dropout": {"dropout": 0.3},
    "augmentation": {"augment": True},
    "early stopping": {"patience": 3},
}


def experiment_configs(base: TrainConfig, epochs: int = 15) -> dict[str, TrainConfig]:
    """One config per arm: the overfit base (no regularisation at all) with one regulariser switched on."""
    plain = replace(base, model="mlp", weight_decay=0.0, l1=0.0, dropout=0.0, augment=False, augmentations=(),
                    patience=0, scheduler="none", epochs=epochs, subset=base.subset or 500, histograms=False)
    return {name: replace(plain, **change) for name, change in ARMS.items()}


def _last(epochs: Sequence[Mapping], key: str) -> float | None:
    values = [e[key] for e in epochs if e.get(key) is not None]
    return float(values[-1]) if values else None


def gap(epochs: Sequence[Mapping]) -> float | None:
    """Training minus validation accuracy at the last epoch (None without both)."""
    t, v = _last(epochs, "train_acc"), _last(epochs, "val_acc")
    return None if t is None or v is None else t - v


def verdict(name: str, epochs: Sequence[Mapping], baseline: Sequence[Mapping]) -> str:
    """One sentence on what the regulariser did, from its run's and the no-regularisation run's epoch records."""
    g, g0 = gap(epochs), gap(baseline)
    v, v0 = _last(epochs, "val_acc"), _last(baseline, "val_acc")
    if g is None or g0 is None or v is None or v0 is None:
        return f"{name}: not enough epochs to compare."
    if name == "none":
        return (f"none: training accuracy {g0 + v0:.0%} vs validation {v0:.0%}, a gap of {g0:.0%}: "
                "it memorises the training images.")
    what = {"L2 (weight decay)": "pulling the weights towards zero",
            "dropout": "switching random neurons off while training",
            "augmentation": "showing shifted and rotated versions of each image",
            "early stopping": f"stopping after {len(epochs)} of {len(baseline)} epochs with the best weights"}[name]
    closed = "narrowed" if g < g0 - 0.005 else ("widened" if g > g0 + 0.005 else "did not change")
    return (f"{name}: {what} {closed} the train–validation gap ({g0:.0%} → {g:.0%}); "
            f"validation accuracy {v0:.0%} → {v:.0%}.")
