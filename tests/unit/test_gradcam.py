"""Grad-CAM: against a hand-split autograd oracle, on ResNet with a frozen backbone, and on a task
where one patch decides the class (the heat must sit on the patch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explainers.training.gradcam import conv_layers, default_layer, grad_cam, overlay
from models import build_resnet18_transfer
from models.catsdogs import CatsDogsCNN


def _oracle(model: CatsDogsCNN, x: torch.Tensor, k: int, target: torch.Tensor) -> np.ndarray:
    """Split the network by hand at features[k], differentiate the class score w.r.t. that output."""
    head, tail = model.features[: k + 1], nn.Sequential(*model.features[k + 1:], model.classifier)
    act = head(x).detach().requires_grad_(True)
    score = tail(act).gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(score, act)
    cam = F.relu((grad.mean((2, 3), keepdim=True) * act).sum(1))
    return cam.detach().numpy()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [0, 4, 10])
def test_matches_hand_split_autograd(seed, k):
    torch.manual_seed(seed)
    model = CatsDogsCNN(3, 32, 2, dropout=0.0, widths=(4, 6, 8, 8), hidden=16).eval()
    x = torch.randn(3, 3, 32, 32)
    res = grad_cam(model, x, layer=f"features.{k}")
    target = torch.as_tensor(res.target_classes)
    np.testing.assert_allclose(res.raw, _oracle(model, x, k, target), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(res.target_classes, model(x).argmax(1).numpy())
    assert res.heatmaps.shape == (3, 32, 32)
    assert res.heatmaps.min() >= 0 and res.heatmaps.max() <= 1
    np.testing.assert_allclose(res.probabilities.sum(1), 1.0, rtol=1e-6)


def test_explicit_target_class_and_default_layer():
    torch.manual_seed(0)
    model = CatsDogsCNN(3, 32, 2, dropout=0.0, widths=(4, 4, 4, 4), hidden=8)
    assert default_layer(model) == "features.10" == model.gradcam_layer
    assert conv_layers(model) == ["features.0", "features.3", "features.6", "features.9"]
    x = torch.randn(2, 3, 32, 32)
    res = grad_cam(model, x, target_class=1)
    np.testing.assert_array_equal(res.target_classes, [1, 1])
    np.testing.assert_allclose(res.raw, _oracle(model.eval(), x, 10, torch.tensor([1, 1])), rtol=1e-4, atol=1e-6)
    assert model.training is False  # state restored as found (eval here)
    model.train()
    grad_cam(model, x)
    assert model.training


def test_bad_layers_are_refused():
    model = CatsDogsCNN(3, 32, 2, widths=(4, 4, 4, 4), hidden=8)
    with pytest.raises(ValueError, match="no layer"):
        grad_cam(model, torch.randn(1, 3, 32, 32), layer="nope")
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, torch.randn(1, 3, 32, 32), layer="classifier.2")
    with pytest.raises(ValueError, match="at least one convolution"):
        default_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_resnet_with_frozen_backbone_still_gives_heatmaps():
    model = build_resnet18_transfer(3, 64, 2, 0.0, pretrained=False, freeze_backbone=True)
    res = grad_cam(model, torch.randn(2, 3, 64, 64))
    assert res.layer == "backbone.layer4" and res.raw.shape == (2, 2, 2)
    assert res.heatmaps.shape == (2, 64, 64) and np.isfinite(res.heatmaps).all()
    assert all(p.grad is None for p in model.parameters())  # Grad-CAM does not touch the weights' grads


def _patch_task(n: int, seed: int, size: int = 32, patch: int = 8):
    """Noise images; class 1 has a bright square somewhere, class 0 has none. Returns x, y, patch masks."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 0.5
    y = torch.arange(n) % 2
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    for i in range(n):
        r, c = torch.randint(0, size - patch + 1, (2,), generator=g).tolist()
        masks[i, r:r + patch, c:c + patch] = True
        if y[i] == 1:
            x[i, :, r:r + patch, c:c + patch] = 1.0
    return x, y, masks


def test_heat_sits_on_the_patch_that_decides_the_class():
    torch.manual_seed(0)
    x, y, _ = _patch_task(160, seed=1)
    model = CatsDogsCNN(3, 32, 2, dropout=0.0, widths=(4, 8, 8, 8), hidden=16)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(10):
        for idx in torch.randperm(len(x)).split(32):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    xt, yt, mt = _patch_task(64, seed=2)
    assert (model.eval()(xt).argmax(1) == yt).float().mean() > 0.9
    pos = yt == 1
    # The default layer (the last conv unit) sees 4x4 cells at 32 px: coarse, but the patch must be hottest.
    res = grad_cam(model, xt[pos], target_class=1)
    heat = torch.as_tensor(res.heatmaps)
    inside = (heat * mt[pos]).sum((1, 2)) / mt[pos].sum((1, 2))
    outside = (heat * ~mt[pos]).sum((1, 2)) / (~mt[pos]).sum((1, 2))
    assert (inside > outside).float().mean() >= 0.9
    assert inside.mean() > 1.5 * outside.mean()


def test_overlay():
    img = np.zeros((4, 4, 3), np.uint8)
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    out = overlay(img, heat, alpha=0.5)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [128, 128, 128])  # white at full heat, half blended
    np.testing.assert_array_equal(out[1, 1], [0, 0, 0])
    assert overlay(np.zeros((4, 4), np.uint8), heat).shape == (4, 4, 3)
