"""Grad-CAM: which parts of the image made the network say "dog"? (Selvaraju et al., 2017)

For a chosen conv layer with activations A (K, h, w) and the class score y_c (before softmax):
    alpha_k = mean over (i, j) of d y_c / d A_k[i, j]         (how much channel k matters)
    cam     = ReLU(sum_k alpha_k * A_k)                        (h, w), then upsampled to (H, W)
Works for any conv model: a forward hook grabs the layer's output, autograd gives its gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explainers.images import heat_overlay as overlay  # noqa: F401  (the blend is pure numpy; re-exported)


@dataclass(frozen=True)
class GradCamResult:
    heatmaps: np.ndarray  # (B, H, W) in [0, 1], each map scaled by its own maximum
    raw: np.ndarray  # (B, h, w) un-normalised cam at the layer's resolution
    target_classes: np.ndarray  # (B,) the class each map explains
    probabilities: np.ndarray  # (B, num_classes) softmax of the model's output
    layer: str  # the hooked module's name


def conv_layers(model: nn.Module) -> list[str]:
    """Names of the model's Conv2d modules, in forward order of definition."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def default_layer(model: nn.Module) -> str:
    """The model's own ``gradcam_layer`` if it names one, else its last Conv2d."""
    name = getattr(model, "gradcam_layer", None)
    if isinstance(name, str) and name in dict(model.named_modules()):
        return name
    convs = conv_layers(model)
    if not convs:
        raise ValueError("Grad-CAM needs a model with at least one convolution layer")
    return convs[-1]


def _cam(act: torch.Tensor, grad: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Activations and their gradients (B, K, h, w) -> (raw cam (B, h, w), heat (B, H, W) scaled to [0, 1])."""
    with torch.no_grad():
        alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
        cam = F.relu((alpha * act).sum(1))  # (B, h, w)
        up = F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        peak = up.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
        return cam, (up / peak).clamp(0, 1)  # (B, H, W)


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    layer: str | None = None,
    target_class: int | torch.Tensor | None = None,
) -> GradCamResult:
    """(B, C, H, W) float model inputs -> Grad-CAM heatmaps (B, H, W) for the target (default: predicted) class."""
    if images.ndim != 4:
        raise ValueError(f"expected a batch (B, C, H, W), got shape {tuple(images.shape)}")
    layer = layer or default_layer(model)
    modules = dict(model.named_modules())
    if layer not in modules:
        raise ValueError(f"the model has no layer called {layer!r}")
    captured: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"layer {layer!r} does not produce feature maps (B, K, h, w)")
        captured["act"] = output
        # A clone goes on, so a later in-place ReLU cannot overwrite the activations we keep.
        return output.clone()

    was_training = model.training
    model.eval()
    handle = modules[layer].register_forward_hook(hook)
    try:
        with torch.enable_grad():
            # Inputs that need gradients keep the graph alive even when the backbone is frozen.
            x = images.detach().float().requires_grad_(True)
            logits = model(x)  # (B, K)
            if target_class is None:
                targets = logits.argmax(1)
            else:
                targets = torch.as_tensor(target_class, device=logits.device).long().expand(logits.shape[0])
            score = logits.gather(1, targets[:, None]).sum()
            act = captured["act"]
            (grad,) = torch.autograd.grad(score, act)  # (B, K, h, w)
        cam, heat = _cam(act, grad, tuple(images.shape[-2:]))
        probs = logits.detach().softmax(1)
    finally:
        handle.remove()
        model.train(was_training)
    return GradCamResult(
        heatmaps=heat.cpu().numpy(),
        raw=cam.detach().cpu().numpy(),
        target_classes=targets.detach().cpu().numpy(),
        probabilities=probs.detach().cpu().numpy(),
        layer=layer,
    )
