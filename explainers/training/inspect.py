"""Looking inside a model: predictions, feature maps, first-layer filters, weight histograms, the live strip.

Grad-CAM lives next door in explainers.training.gradcam.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explainers.training.data import ImageDataset


def _as_model_input(images: torch.Tensor, device: torch.device, dataset: ImageDataset | None) -> torch.Tensor:
    """(C, H, W) or (B, C, H, W) -> float (B, C, H, W) on device; uint8 is normalised with dataset (else /255)."""
    import torch

    from explainers.training.batches import norm_consts

    x = images.unsqueeze(0) if images.dim() == 3 else images
    x = x.to(device)
    if x.dtype != torch.uint8:
        return x.float()  # a float image is taken as already normalised
    if dataset is None:
        return x.float() / 255.0
    scale, shift = norm_consts(dataset, device.type)
    return x.float() * scale.to(device) + shift.to(device)


def predict(model: nn.Module, images: torch.Tensor, dataset: ImageDataset | None = None) -> np.ndarray:
    """(C, H, W) or (B, C, H, W) images -> (B, K) class probabilities (eval mode, no grad)."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.softmax(model(_as_model_input(images, device, dataset)).float(), 1).cpu().numpy()
    finally:
        model.train(was_training)


def feature_maps(model: nn.Module, image_tensor: torch.Tensor, dataset: ImageDataset | None = None) -> list[tuple[str, np.ndarray]]:
    """One image (C, H, W) or (1, C, H, W) -> [(layer name, activations (C', H', W'))] for every 2-D layer.

    A float image is taken as already normalised; a uint8 image is normalised with ``dataset``.
    """
    import torch

    x = _as_model_input(image_tensor, next(model.parameters()).device, dataset)
    out: list[tuple[str, np.ndarray]] = []

    def hook(name: str):
        def keep(module: Any, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                out.append((name, output[0].detach().float().cpu().numpy()))

        return keep

    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    hooks = [m.register_forward_hook(hook(n)) for n, m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return out


def strip_indices(dataset: ImageDataset, size: int) -> list[int]:
    """A fixed, class-balanced strip of test images: the first of each class in turn."""
    per_class: dict[int, list[int]] = {}
    for i, y in enumerate(dataset.test_y.tolist()):
        per_class.setdefault(int(y), []).append(i)
    want = min(size, len(dataset.test_y))
    out: list[int] = []
    for depth in range(max((len(v) for v in per_class.values()), default=0)):
        out += [per_class[k][depth] for k in sorted(per_class) if depth < len(per_class[k])]
        if len(out) >= want:
            break
    return out[:want]


def first_layer(model: nn.Module, dataset: ImageDataset) -> tuple[str, Any] | None:
    """(name, module) of the first Conv2d, else the first Linear that sees all pixels."""
    from torch import nn

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    pixels = dataset.channels * dataset.image_size * dataset.image_size
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and m.in_features == pixels:
            return name, m
    return None


def filters_of(layer: tuple[str, Any] | None, dataset: ImageDataset) -> np.ndarray | None:
    """First layer weights -> (F, C, kh, kw) numpy (a Linear's rows become C x S x S images)."""
    if layer is None:
        return None
    w = layer[1].weight.detach().float().cpu()
    if w.dim() == 2:
        w = w.view(w.shape[0], dataset.channels, dataset.image_size, dataset.image_size)
    return w.numpy().copy()


def weight_layers(model: nn.Module) -> list[tuple[str, Any]]:
    """(name, weight parameter) of every conv and linear layer."""
    from torch import nn

    return [(n, m.weight) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def histograms(model: nn.Module, epoch: int, with_grads: bool, bins: int = 40) -> list[dict]:
    """[{epoch, layer, kind ("weight"|"grad"), counts (bins,), edges (bins+1,)}] for every conv and linear layer."""
    out = []
    for name, w in weight_layers(model):
        kinds = [("weight", w.detach())]
        if with_grads and w.grad is not None:
            kinds.append(("grad", w.grad.detach()))
        for kind, t in kinds:
            values = t.float().flatten().cpu().numpy()
            values = values[np.isfinite(values)]
            if values.size:
                counts, edges = np.histogram(values, bins=bins)
                out.append({"epoch": epoch, "layer": name, "kind": kind, "counts": counts, "edges": edges})
    return out
