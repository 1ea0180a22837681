"""The moments a learner gets stuck, recognised from a run's numbers (numpy only; the page words the advice).

- ``one_class_collapse``: (nearly) every test picture gets the same answer and accuracy is near chance,
  the usual end of training from scratch on a few hundred photos;
- ``train_below_validation``: an epoch's training accuracy under its validation accuracy, which
  dropout, augmentation and the running average over a still-improving epoch explain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Collapse:
    """Most test pictures got one answer: which class, what share, and the accuracy vs chance."""

    predicted_class: int
    share: float  # fraction of test pictures predicted as predicted_class
    accuracy: float
    chance: float  # accuracy of always answering the most common test class


def one_class_collapse(labels: np.ndarray, predictions: np.ndarray, num_classes: int,
                       min_share: float = 0.9, margin: float = 0.05) -> Collapse | None:
    """(N,), (N,) ints -> a Collapse when >= min_share of the answers are one class and accuracy is within
    ``margin`` of the majority-class rate; None otherwise (or with no test pictures)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if len(labels) == 0:
        return None
    counts = np.bincount(predictions, minlength=num_classes)
    top = int(counts.argmax())
    share = float(counts[top] / len(predictions))
    accuracy = float((labels == predictions).mean())
    chance = float(np.bincount(labels, minlength=num_classes).max() / len(labels))
    if share >= min_share and accuracy <= chance + margin:
        return Collapse(top, share, accuracy, chance)
    return None


def train_below_validation(epochs: Sequence[dict], margin: float = 0.005) -> dict | None:
    """The last epoch record whose training accuracy is below its validation accuracy by more than margin, or None.

    Records are the run's per-epoch dicts ({"train_acc", "val_acc", ...}); a missing value never counts."""
    for rec in reversed(list(epochs)):
        t, v = rec.get("train_acc"), rec.get("val_acc")
        if t is not None and v is not None:
            return rec if t < v - margin else None
    return None
