"""Plotly figures for cats vs dogs: the augmentation preview grid and Grad-CAM overlays (no streamlit)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explainers.figures.style import BLUE, RIGHT, WRONG
from explainers.figures.training import gallery_figure
from explainers.images import heat_overlay


def augment_preview_figure(versions: np.ndarray, title: str = "", cols: int = 8) -> go.Figure:
    """(n, H, W, 3) uint8 from explainers.training.augment.preview (original first) -> captioned grid."""
    titles = ["original"] + [f"version {i}" for i in range(1, len(versions))]
    colors = [BLUE] + [""] * (len(versions) - 1)
    return gallery_figure(versions, titles, colors, cols=cols, title=title, tile_px=110)


def gradcam_overlays(images: np.ndarray, heatmaps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(N, C, H, W) or (N, H, W, 3) uint8 images and (N, H, W) heat in [0, 1] -> (N, H, W, 3) uint8 blends."""
    imgs = np.asarray(images)
    if imgs.ndim == 4 and imgs.shape[1] in (1, 3) and imgs.shape[-1] not in (1, 3):
        imgs = np.moveaxis(imgs, 1, -1)
    if len(imgs) != len(heatmaps):
        raise ValueError(f"{len(imgs)} images but {len(heatmaps)} heatmaps")
    return np.stack([heat_overlay(im, h, alpha) for im, h in zip(imgs, heatmaps)]) if len(imgs) else \
        np.zeros((0, *np.shape(heatmaps)[1:], 3), np.uint8)


def gradcam_gallery_figure(images: np.ndarray, heatmaps: np.ndarray, labels: Sequence[int] | None,
                           probs: np.ndarray, classes: Sequence[str], explained: Sequence[int],
                           title: str = "", cols: int = 8, alpha: float = 0.5) -> go.Figure:
    """Grad-CAM heat over each picture, captioned 'true→predicted p%' (green right, red wrong) or 'predicted p%'."""
    p = np.asarray(probs, dtype=np.float64)
    pred = p.argmax(axis=1) if len(p) else np.zeros(0, np.int64)
    titles, colors = [], []
    for k, q in enumerate(pred):
        why = f" (heat for {classes[int(explained[k])]})" if int(explained[k]) != int(q) else ""
        if labels is None:
            titles.append(f"{classes[int(q)]} {100 * p[k, q]:.0f}%{why}")
            colors.append("")
        else:
            t = int(labels[k])
            titles.append(f"{classes[t]}→{classes[int(q)]} {100 * p[k, q]:.0f}%{why}")
            colors.append(RIGHT if t == int(q) else WRONG)
    return gallery_figure(gradcam_overlays(images, heatmaps, alpha), titles, colors, cols=cols, title=title,
                          tile_px=110)


def photo_gradcam_figure(image: np.ndarray, heatmap: np.ndarray, caption: str, alpha: float = 0.5) -> go.Figure:
    """One (H, W, 3) uint8 picture: itself and its Grad-CAM overlay side by side."""
    both = np.stack([image, gradcam_overlays(image[None], heatmap[None], alpha)[0]])
    return gallery_figure(both, ["what the network sees", caption], cols=2, tile_px=220)
