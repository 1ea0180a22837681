"""Cats-vs-dogs figure builders: preview grid and Grad-CAM overlays."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from explainers.figures.catsdogs import (
    augment_preview_figure,
    gradcam_gallery_figure,
    gradcam_overlays,
    photo_gradcam_figure,
)
from explainers.images import heat_overlay as overlay
from explainers.training.augment import AugmentConfig, preview


def test_preview_figure_captions_the_original_first():
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    fig = augment_preview_figure(preview(img, AugmentConfig(flip=True, crop=True), n=8), title="t")
    assert isinstance(fig, go.Figure) and isinstance(fig.data[0], go.Image)
    texts = [a.text for a in fig.layout.annotations]
    assert texts[0] == "original" and len(texts) == 8


def test_overlays_accept_both_layouts_and_match_overlay():
    rng = np.random.default_rng(0)
    chw = rng.integers(0, 256, (3, 3, 16, 16), dtype=np.uint8)
    heat = rng.random((3, 16, 16))
    a = gradcam_overlays(chw, heat)
    b = gradcam_overlays(np.moveaxis(chw, 1, -1), heat)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[1], overlay(np.moveaxis(chw[1], 0, -1), heat[1], 0.5))
    with pytest.raises(ValueError, match="heatmaps"):
        gradcam_overlays(chw, heat[:2])
    assert gradcam_overlays(chw[:0], heat[:0]).shape == (0, 16, 16, 3)


def test_gradcam_gallery_captions_and_colours():
    imgs = np.zeros((2, 3, 8, 8), np.uint8)
    heat = np.zeros((2, 8, 8))
    probs = np.array([[0.9, 0.1], [0.3, 0.7]])
    fig = gradcam_gallery_figure(imgs, heat, [0, 0], probs, ("cat", "dog"), explained=[0, 0])
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["cat→cat 90%", "cat→dog 70% (heat for cat)"]
    colours = [s.line.color for s in fig.layout.shapes]
    assert colours == ["#16a34a", "#dc2626"]
    fig = gradcam_gallery_figure(imgs, heat, None, probs, ("cat", "dog"), explained=[0, 1])
    assert [a.text for a in fig.layout.annotations] == ["cat 90%", "dog 70%"]


def test_photo_figure_has_two_panels():
    fig = photo_gradcam_figure(np.zeros((16, 16, 3), np.uint8), np.ones((16, 16)), "dog 80%")
    assert [a.text for a in fig.layout.annotations] == ["what the network sees", "dog 80%"]
