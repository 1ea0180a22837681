"""What defines a training run: the choices the UI offers (one definition) and the TrainConfig value.

A run is fully described by a TrainConfig (the dataset is a key string such as "mnist" or
"folder:pets@64"), so the same value can start a thread here or a remote runner elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# key -> label: the trainer page shows exactly these keys with these labels.
OPTIMIZERS: dict[str, str] = {"sgd": "SGD", "sgd_momentum": "SGD + momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULERS: dict[str, str] = {
    "none": "Constant",
    "step": "StepLR (÷10 every third of the run)",
    "onecycle": "OneCycle",
    "cosine": "Cosine",
}
DEVICES: dict[str, str] = {
    "auto": "Auto",  # CUDA, then Apple GPU, then CPU: said in the menu's help
    "cpu": "CPU",
    "cuda": "CUDA GPU",
    "mps": "Apple GPU (MPS)",
}
STATUSES = ("queued", "running", "finished", "stopped", "failed")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run."""

    dataset: str = "synthetic-digits"  # dataset key (explainers.training.data grammar, folders included)
    model: str = "fast_cnn"  # key of models.MODELS
    optimizer: str = "adam"  # a key of OPTIMIZERS; "sgd_momentum" uses momentum 0.9
    lr: float = 1e-3  # peak learning rate (OneCycle's max)
    batch_size: int = 64  # images per step
    epochs: int = 2  # passes over the training split
    weight_decay: float = 0.0  # handed to the optimizer (decoupled for AdamW)
    l1: float = 0.0  # strength of the L1 penalty on weights (conv and linear, not biases)
    dropout: float | None = None  # None = the model's own default; ignored when the model has none
    scheduler: str = "none"  # a key of SCHEDULERS; "step" = x0.1 every third of the run
    patience: int = 0  # early stopping: epochs without a better val loss; 0 = off; best weights restored
    augment: bool = False  # augment each batch on the fly (on tensors, on the device)
    augmentations: tuple[str, ...] = ()  # () = small shifts (+-2 px) and rotations (+-10 deg), fit for digits;
    # else names from explainers.training.augment.OPERATIONS ("flip", "crop", "rotate", "jitter"), e.g. for photos
    subset: int | None = None  # train on only this many images (None = the whole training split)
    seed: int = 0  # split, shuffles, init, dropout and augmentation: the same seed repeats a run bit for bit
    device: str = "auto"  # a key of DEVICES; "auto" picks cuda, then mps, then cpu
    val_fraction: float = 0.1  # held out of the training set for validation
    strip_size: int = 16  # test images whose predictions are shown live
    live_every_s: float = 1.0  # how often filters and strip predictions are refreshed
    histograms: bool = True  # weight and gradient histograms per layer per epoch

    def problems(self) -> list[str]:
        """Human-readable problems with this config; empty when it can run."""
        return [*_name_problems(self), *_number_problems(self), *_augmentation_problems(self)]

    def as_dict(self) -> dict:
        """Plain values (JSON-ready) of every field."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def dataset_problem(key: str) -> str | None:
    """Why a dataset key cannot name a dataset (None when it can): the data package's grammar decides."""
    from explainers.training.data import parse_spec

    try:
        parse_spec(key)
    except ValueError as exc:
        return str(exc)
    return None


def _choice(what: str, value: str, choices: dict[str, str]) -> list[str]:
    return [] if value in choices else [f"Unknown {what} {value!r}; choose one of {', '.join(choices)}."]


def _name_problems(c: TrainConfig) -> list[str]:
    from models import MODELS

    out = [p for p in [dataset_problem(c.dataset)] if p]
    if c.model not in MODELS:
        out.append(f"Unknown model {c.model!r}.")
    out += _choice("optimizer", c.optimizer, OPTIMIZERS) + _choice("scheduler", c.scheduler, SCHEDULERS)
    return out + _choice("device", c.device, DEVICES)


def _number_problems(c: TrainConfig) -> list[str]:
    checks = [
        (math.isfinite(c.lr) and c.lr > 0, "The learning rate must be a positive number."),
        (c.batch_size >= 1, "The batch size must be at least 1."),
        (c.epochs >= 1, "Train for at least one epoch."),
        (c.weight_decay >= 0 and c.l1 >= 0, "Weight decay and L1 strength cannot be negative."),
        (c.dropout is None or 0.0 <= c.dropout < 1.0, "Dropout must be in [0, 1)."),
        (0.0 <= c.val_fraction < 0.9, "The validation fraction must be in [0, 0.9)."),
        (c.patience <= 0 or c.val_fraction > 0, "Early stopping needs a validation split (val_fraction > 0)."),
        (c.subset is None or c.subset >= 2, "The training subset needs at least 2 images."),
    ]
    return [message for ok, message in checks if not ok]


def _augmentation_problems(c: TrainConfig) -> list[str]:
    from explainers.training.augment import OPERATIONS

    unknown = [a for a in c.augmentations if a not in OPERATIONS]
    if not unknown:
        return []
    return [f"Unknown augmentation {', '.join(unknown)}; choose from {', '.join(OPERATIONS)}."]
