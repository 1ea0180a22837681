"""Model registry and model cards. torch is imported lazily: importing this package is cheap.

``MODELS[name]`` is a ``ModelSpec`` whose ``build(channels, image_size, num_classes, dropout)``
returns a fresh ``nn.Module`` producing logits (B, K). ``dropout=None`` means the model's own
default. Other packages add models with ``register_model(spec)``.

``model_card(model, input_shape)`` runs one real forward pass with hooks and returns a
``ModelCard``: iterate it (or use ``.rows``) for ``LayerRow``s; totals are attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model and what it is for."""

    name: str
    label: str
    build: Callable[[int, int, int, float | None], nn.Module]  # (channels, image_size, num_classes, dropout)
    has_dropout: bool
    description: str
    supports: Callable[[int, int], bool] = field(default=lambda channels, image_size: True)  # (channels, image_size)
    default_dropout: float = 0.0
    recommended: bool = False


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> None:
    """Add (or replace) a model in MODELS."""
    MODELS[spec.name] = spec


def _builder(cls_path: str, default_dropout: float) -> Callable[[int, int, int, float | None], Any]:
    def build(channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
        from models import digits

        cls = getattr(digits, cls_path)
        return cls(channels, image_size, num_classes, default_dropout if dropout is None else float(dropout))

    return build


register_model(ModelSpec(
    "mlp", "MLP 784-64-64-64-10", _builder("MLP", 0.0), True,
    "Three hidden layers of 64 fully connected neurons; sees pixels, not shapes.",
    lambda c, s: c * s * s <= 3 * 64 * 64,
))
register_model(ModelSpec(
    "small_cnn", "Small CNN (LeNet-style)", _builder("SmallCNN", 0.0), False,
    "conv 6 (5x5) -> pool -> conv 12 (5x5) -> pool -> FC 120 -> 60: the classic tutorial CNN.",
    lambda c, s: 16 <= s <= 64,
))
register_model(ModelSpec(
    "bn_convnet", "BN + Dropout ConvNet", _builder("BNConvNet", 0.25), True,
    "conv 32, 32, pool, 64, 64, pool with BatchNorm, then FC 512-512 with dropout; big and slow on a CPU.",
    lambda c, s: 8 <= s <= 64, default_dropout=0.25,
))
register_model(ModelSpec(
    "fast_cnn", "Fast CNN (recommended)", _builder("FastCNN", 0.1), True,
    "Three small conv-BN-ReLU blocks (16, 32, 64 filters): about 99% on MNIST in two CPU epochs.",
    lambda c, s: s >= 8, default_dropout=0.1, recommended=True,
))


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer of a model card."""

    name: str  # module path, e.g. "features.0"
    type: str  # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]  # without the batch dimension
    parameters: int
    mult_adds: int  # per image


@dataclass(frozen=True)
class ModelCard:
    """Layer table from a real forward pass, with totals; iterating yields the rows."""

    rows: tuple[LayerRow, ...]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    total_parameters: int
    trainable_parameters: int
    total_mult_adds: int

    def __iter__(self) -> Iterator[LayerRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> LayerRow:
        return self.rows[i]


def _mult_adds(module: nn.Module, out_shape: tuple[int, ...]) -> int:
    """Multiply-adds per image of conv and linear layers (others count as 0)."""
    from torch import nn

    n_out = 1
    for d in out_shape:
        n_out *= d
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return n_out * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return n_out * module.in_features
    return 0


def model_card(model: nn.Module, input_shape: tuple[int, ...]) -> ModelCard:
    """(C, H, W) or (1, C, H, W) -> ModelCard with one row per leaf module that ran."""
    import torch

    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    rows: list[LayerRow] = []
    hooks = []

    def hook(name: str):
        def fn(module, inputs, output) -> None:
            if isinstance(output, torch.Tensor):
                out = tuple(output.shape[1:])
                params = sum(p.numel() for p in module.parameters(recurse=False))
                rows.append(LayerRow(name, type(module).__name__, out, params, _mult_adds(module, out)))

        return fn

    for name, module in model.named_modules():
        if name and not list(module.children()):
            hooks.append(module.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model(torch.zeros(shape, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return ModelCard(
        rows=tuple(rows),
        input_shape=tuple(shape[1:]),
        output_shape=tuple(out.shape[1:]),
        total_parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_mult_adds=sum(r.mult_adds for r in rows),
    )


def build_model(name: str, channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
    """Build MODELS[name] for the given input; ValueError when the model does not support it."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    spec = MODELS[name]
    if not spec.supports(channels, image_size):
        raise ValueError(f"{spec.label} does not support {channels}-channel {image_size}x{image_size} images")
    return spec.build(channels, image_size, num_classes, dropout)


# Cats vs dogs registers its models here. Imported last: it imports this module's registry.
import models.catsdogs  # noqa: E402, F401
