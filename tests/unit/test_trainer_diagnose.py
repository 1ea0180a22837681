"""Recognising the stuck moments from a run's numbers (issue 13 item 4)."""

from __future__ import annotations

import numpy as np

from explainers.training.diagnose import one_class_collapse, train_below_validation


def test_one_class_at_chance_is_a_collapse_and_a_learning_model_is_not():
    labels = np.array([0] * 50 + [1] * 50)
    c = one_class_collapse(labels, np.ones(100, int), 2)
    assert c is not None and c.predicted_class == 1 and c.share == 1.0 and c.accuracy == 0.5 and c.chance == 0.5
    assert one_class_collapse(labels, labels.copy(), 2) is None  # right answers: no collapse
    mostly = np.ones(100, int)
    mostly[:5] = 0  # 95% one class, still chance-level
    assert one_class_collapse(labels, mostly, 2) is not None
    assert one_class_collapse(np.array([], int), np.array([], int), 2) is None


def test_training_below_validation_uses_the_last_complete_epoch():
    epochs = [{"epoch": 1, "train_acc": 0.77, "val_acc": 0.98}, {"epoch": 2, "train_acc": 0.99, "val_acc": 0.97}]
    assert train_below_validation(epochs) is None  # the last epoch is fine
    assert train_below_validation(epochs[:1])["epoch"] == 1
    assert train_below_validation([{"epoch": 1, "train_acc": 0.5, "val_acc": None}]) is None
    assert train_below_validation([]) is None
