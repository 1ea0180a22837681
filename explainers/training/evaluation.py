"""Evaluation: the test set (EvalResult with confusion matrix and per-example numbers) and a validation split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers.training.batches import norm_consts

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explainers.training.data import ImageDataset


@dataclass(frozen=True)
class EvalResult:
    """Test-set evaluation of a trained model."""

    test_accuracy: float
    test_loss: float
    confusion: np.ndarray  # (K, K) counts, rows = true class, columns = predicted
    per_class_accuracy: np.ndarray  # (K,), NaN where a class has no test image
    losses: np.ndarray  # (N,) cross-entropy per test image
    probabilities: np.ndarray  # (N, K)
    predictions: np.ndarray  # (N,)
    labels: np.ndarray  # (N,)
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    epochs_completed: int = 0
    best_epoch: int | None = None
    stopped_early: bool = False
    device: str = "cpu"


def _test_outputs(model: nn.Module, dataset: ImageDataset, dev: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (losses (N,), probabilities (N, K)) over the test set, eval mode, no grad."""
    import torch
    import torch.nn.functional as F

    scale, shift = norm_consts(dataset, dev)
    losses, probs = [], []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(dataset.test_y), batch_size):
                xb = dataset.test_x[s : s + batch_size].to(dev).float() * scale + shift
                yb = dataset.test_y[s : s + batch_size].to(dev)
                logits = model(xb).float()  # (B, K)
                losses.append(F.cross_entropy(logits, yb, reduction="none").cpu())
                probs.append(torch.softmax(logits, 1).cpu())
    finally:
        model.train(was_training)
    k = dataset.num_classes
    loss = torch.cat(losses).numpy() if losses else np.zeros(0, np.float32)
    prob = torch.cat(probs).numpy() if probs else np.zeros((0, k), np.float32)
    return loss, prob


def evaluate(
    model: nn.Module, dataset: ImageDataset, *, device: str | None = None, batch_size: int = 1024, **extra: Any
) -> EvalResult:
    """Test-set evaluation -> EvalResult (confusion, per-class accuracy, per-example losses and probabilities)."""
    dev = device or next(model.parameters()).device.type
    loss, prob = _test_outputs(model, dataset, dev, batch_size)
    k = dataset.num_classes
    labels = dataset.test_y.numpy().astype(np.int64)
    pred = prob.argmax(1).astype(np.int64) if len(prob) else np.zeros(0, np.int64)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, pred), 1)
    support = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)
    return EvalResult(
        test_accuracy=float((pred == labels).mean()) if len(labels) else float("nan"),
        test_loss=float(loss.mean()) if len(loss) else float("nan"),
        confusion=confusion, per_class_accuracy=per_class, losses=loss, probabilities=prob,
        predictions=pred, labels=labels, device=dev, **extra,
    )


def evaluate_split(model: nn.Module, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                   scale: torch.Tensor, shift: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy of model on x[idx] (uint8, normalised with scale and shift), eval mode."""
    import torch
    import torch.nn.functional as F

    if len(idx) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    with torch.no_grad():
        for s in range(0, len(idx), 1024):
            b = idx[s : s + 1024]
            logits = model(x[b].float() * scale + shift).float()
            loss_sum += F.cross_entropy(logits, y[b], reduction="sum")
            correct += (logits.argmax(1) == y[b]).sum()
    model.train(was_training)
    return float(loss_sum) / len(idx), int(correct) / len(idx)
