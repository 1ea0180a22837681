"""The learning-rate finder: the same fit loop on a copy of the model, with an exponential LR per step."""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explainers.training.batches import Batches, split_indices
from explainers.training.build import build_model, l1_penalty, make_optimizer
from explainers.training.callbacks import Cancellation, LRSweep
from explainers.training.config import TrainConfig
from explainers.training.loop import FitState, fit
from explainers.training.run import server_slot
from explainers.training.runtime import (
    configure_threads,
    resolve_device,
    run_at_low_priority,
    seed_everything,
)

if TYPE_CHECKING:
    from torch import nn

    from explainers.training.data import ImageDataset


@dataclass(frozen=True)
class LRFinderResult:
    """Loss along an exponential learning-rate sweep."""

    lrs: np.ndarray  # (T,)
    losses: np.ndarray  # (T,) smoothed
    raw_losses: np.ndarray  # (T,)
    suggested_lr: float


def lr_find(
    config: TrainConfig,
    dataset: ImageDataset,
    num_steps: int = 200,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    *,
    model: nn.Module | None = None,
    stop: threading.Event | None = None,
) -> LRFinderResult:
    """Exponential LR sweep on a copy of the model -> loss per LR and a suggested LR (steepest descent).

    Waits for one of the server's training slots first (ServerBusy when the queue is full; ValueError
    when ``stop`` is set while waiting)."""
    import torch
    import torch.nn.functional as F

    from explainers.training.augment import augmenter

    def cancelled() -> bool:
        return stop is not None and stop.is_set()

    # The sweep trains like a run, so it takes a training slot like one (and queues behind the cap).
    with server_slot(cancelled) as got:
        if not got:
            raise ValueError("The learning-rate finder was stopped while it waited for a free training slot.")
        configure_threads()
        device = resolve_device(config.device)
        seed_everything(config.seed)
        net = copy.deepcopy(model) if model is not None else build_model(config, dataset)
        net = net.to(device)
        train_idx, _ = split_indices(config, dataset)
        batches = Batches(dataset, train_idx, min(config.batch_size, len(train_idx)), device,
                          generator=torch.Generator().manual_seed(config.seed + 2),
                          augment=augmenter(config.augment, config.augmentations))
        num_steps = max(2, num_steps)
        sweep = LRSweep(start_lr, end_lr, num_steps)
        state = FitState(model=net, opt=make_optimizer(config, net.parameters(), start_lr), batches=batches,
                         epochs=math.ceil(num_steps / batches.per_epoch), loss_fn=F.cross_entropy,
                         penalty=l1_penalty(net, config.l1))
        # on a lowered thread, like a run: the caller is usually a page's script thread
        run_at_low_priority(fit, state, [sweep, Cancellation(cancelled)])
        del state, batches, net  # freed before the slot is released (and the heap trimmed)
    lrs, smooth = np.asarray(sweep.lrs), np.asarray(sweep.smooth)
    return LRFinderResult(lrs, smooth, np.asarray(sweep.raw), suggest_lr(lrs, smooth, config.lr))


def suggest_lr(lrs: np.ndarray, losses: np.ndarray, fallback: float) -> float:
    """(T,), (T,) -> the LR of steepest descent of the smoothed loss vs log LR, before its minimum."""
    if len(lrs) < 5:
        return float(fallback)
    lo = max(1, len(lrs) // 10)
    hi = int(np.argmin(losses))
    if hi - lo < 3:
        return float(lrs[max(0, hi)] / 10)
    grads = np.gradient(losses[lo : hi + 1], np.log10(lrs[lo : hi + 1]))
    return float(lrs[lo + int(np.argmin(grads))])
