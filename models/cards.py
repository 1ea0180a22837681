"""Model cards: one real forward pass with hooks -> a layer table with shapes, parameters and mult-adds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


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
