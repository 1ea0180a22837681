"""MNIST preprocessing of a drawn digit, step by step (numpy + Pillow, no torch, no streamlit).

MNIST digits were made by: cropping the ink, scaling it to fit a 20x20 box keeping its aspect
ratio (anti-aliased, so edges become grey), then pasting it into 28x28 so that its centre of
mass sits at the centre of the image. A drawing must go through the same steps, otherwise a
network trained on MNIST sees something it never saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

FIT_SIZE = 20  # MNIST's digits fit in a 20x20 box ...
CANVAS_SIZE = 28  # ... centred by centre of mass in a 28x28 image


@dataclass(frozen=True)
class DigitSteps:
    """Every intermediate picture of the preprocessing, ink in [0, 1] (1 = ink)."""

    ink: np.ndarray  # (H, W) the drawing as ink intensity
    box: tuple[int, int, int, int]  # (top, bottom, left, right) of the ink, bottom/right exclusive
    cropped: np.ndarray  # (h, w) ink[top:bottom, left:right]
    fitted: np.ndarray  # (h', w') with max(h', w') == 20, aspect ratio kept
    centred_geometric: np.ndarray  # (28, 28) fitted pasted in the middle, before the shift
    shift: tuple[int, int]  # (dy, dx) applied to move the centre of mass to the centre
    centre_of_mass: tuple[float, float]  # (y, x) of the final image
    final: np.ndarray  # (28, 28) float32 in [0, 1], what the network sees (before normalising)


def to_ink(image: np.ndarray) -> np.ndarray:
    """(H, W) | (H, W, 3) | (H, W, 4) any dtype -> (H, W) float32 ink in [0, 1].

    A transparent canvas gives its alpha channel; otherwise the grey level, inverted when the
    background (the border pixels) is light, so dark-on-white and white-on-black both work.
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ValueError(f"expected a grey, RGB or RGBA image, got an array of shape {a.shape}")
    scale = 255.0 if a.dtype == np.uint8 or a.max(initial=0) > 1.0 else 1.0
    a = a.astype(np.float32) / scale
    if a.ndim == 3 and a.shape[2] == 4:
        alpha = a[..., 3]
        if alpha.min() < 0.99:  # something is transparent: the strokes are where alpha is
            grey = a[..., :3].mean(axis=2)
            light = np.median(grey[alpha > 0.5]) > 0.5 if (alpha > 0.5).any() else False
            return np.clip(alpha * (grey if light else 1.0 - grey), 0.0, 1.0)
        a = a[..., :3]
    grey = a.mean(axis=2) if a.ndim == 3 else a
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 1.0 - grey if np.median(border) > 0.5 else grey
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def ink_box(ink: np.ndarray, threshold: float = 0.1) -> tuple[int, int, int, int]:
    """(H, W) -> (top, bottom, left, right), the smallest box holding every pixel > threshold."""
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    if rows.size == 0:
        raise ValueError("the canvas is empty: draw a digit first")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fit_into(cropped: np.ndarray, size: int = FIT_SIZE) -> np.ndarray:
    """(h, w) -> (h', w') with max(h', w') == size and h'/w' ~= h/w (anti-aliased, Pillow)."""
    h, w = cropped.shape
    scale = size / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(np.ascontiguousarray(cropped, dtype=np.float32))  # mode "F"
    # BILINEAR in Pillow widens its support when shrinking, i.e. it is anti-aliased.
    return np.clip(np.asarray(img.resize((new_w, new_h), Image.Resampling.BILINEAR)), 0.0, 1.0)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(H, W) -> (y, x), the intensity-weighted mean pixel position."""
    total = float(image.sum())
    if total <= 0:
        raise ValueError("no ink: the centre of mass is undefined")
    ys, xs = np.indices(image.shape)
    return float((ys * image).sum() / total), float((xs * image).sum() / total)


def paste_centre(fitted: np.ndarray, size: int = CANVAS_SIZE) -> np.ndarray:
    """(h, w) -> (size, size), fitted placed in the geometric middle."""
    h, w = fitted.shape
    out = np.zeros((size, size), dtype=np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = fitted
    return out


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(H, W) -> (H, W) moved by whole pixels, zeros coming in (nothing wraps around)."""
    out = np.zeros_like(image)
    h, w = image.shape
    src = image[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def centring_shift(image: np.ndarray, size: int = CANVAS_SIZE) -> tuple[int, int]:
    """(size, size) -> (dy, dx) that bring the centre of mass to (size/2, size/2), keeping all ink."""
    cy, cx = centre_of_mass(image)
    dy, dx = round(size / 2 - cy), round(size / 2 - cx)
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    # Never push ink off the edge: clamp the shift to the empty margin on each side.
    dy = int(np.clip(dy, -rows[0], size - 1 - rows[-1]))
    dx = int(np.clip(dx, -cols[0], size - 1 - cols[-1]))
    return dy, dx


def preprocess_drawing(image: np.ndarray, threshold: float = 0.1) -> DigitSteps:
    """Drawing (H, W[, 3|4]) -> DigitSteps ending in a (28, 28) MNIST-style digit."""
    ink = to_ink(image)
    box = ink_box(ink, threshold)
    top, bottom, left, right = box
    cropped = ink[top:bottom, left:right]
    fitted = fit_into(cropped)
    centred = paste_centre(fitted)
    if centred.sum() <= 0:
        raise ValueError("the drawing is too faint to read: draw with a thicker stroke")
    dy, dx = centring_shift(centred)
    final = shift_image(centred, dy, dx).astype(np.float32)
    return DigitSteps(ink, box, cropped, fitted, centred, (dy, dx), centre_of_mass(final), final)
