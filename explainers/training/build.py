"""The parts a config names: a seeded model, the optimizer, the per-step scheduler, the L1 penalty."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from explainers.training.runtime import SEED_LOCK

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explainers.training.config import TrainConfig
    from explainers.training.data import ImageDataset


def build_model(config: TrainConfig, dataset: ImageDataset) -> nn.Module:
    """The config's model for this dataset, initialised from config.seed (torch's global RNG left as it was)."""
    import torch

    from models import MODELS
    from models import build_model as build

    spec = MODELS.get(config.model)
    dropout = config.dropout if (spec is not None and spec.has_dropout) else None
    with SEED_LOCK:
        state = torch.random.get_rng_state()
        torch.manual_seed(config.seed)
        try:
            return build(config.model, dataset.channels, dataset.image_size, dataset.num_classes, dropout)
        finally:
            torch.random.set_rng_state(state)


def make_optimizer(config: TrainConfig, params: Any, lr: float) -> torch.optim.Optimizer:
    """The config's optimizer over params at learning rate lr (weight decay as the optimizer applies it)."""
    import torch

    wd = config.weight_decay
    makers = {
        "sgd": lambda: torch.optim.SGD(params, lr=lr, weight_decay=wd),
        "sgd_momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd),
        "adam": lambda: torch.optim.Adam(params, lr=lr, weight_decay=wd),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
    }
    if config.optimizer not in makers:
        raise ValueError(f"unknown optimizer {config.optimizer!r}")
    return makers[config.optimizer]()


def make_scheduler(config: TrainConfig, opt: torch.optim.Optimizer, total_steps: int) -> Any:
    """A scheduler stepped once per batch, or None for a constant rate."""
    import torch

    total_steps = max(1, total_steps)
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, total_steps // 3), gamma=0.1)
    if config.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total_steps + 1)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    return None


def l1_penalty(model: nn.Module, strength: float) -> Callable[[nn.Module], torch.Tensor] | None:
    """strength * sum |w| over conv and linear weights (not biases), or None when strength is 0."""
    from explainers.training.inspect import weight_layers

    if strength <= 0:
        return None
    weights = [w for _, w in weight_layers(model)]
    return lambda _model: strength * sum(w.abs().sum() for w in weights)
