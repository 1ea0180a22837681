"""Synthetic seven-segment digits, drawn with numpy so the lesson runs offline with no dataset.

Every rank calls ``synthetic_digits(n, seed)`` and gets the same images, like every DDP
worker opening the same dataset; the sampler then gives each rank its own slice.
"""

from __future__ import annotations

import numpy as np

SIZE = 28
# Segments a..g: top, top right, bottom right, bottom, bottom left, top left, middle.
_DIGIT_SEGMENTS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def _segment_boxes(top: int, left: int, h: int, w: int, t: int) -> dict[str, tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of each segment of a digit whose box starts at (top, left)."""
    mid = top + h // 2
    return {
        "a": (top, top + t, left, left + w),
        "b": (top, mid + 1, left + w - t, left + w),
        "c": (mid, top + h, left + w - t, left + w),
        "d": (top + h - t, top + h, left, left + w),
        "e": (mid, top + h, left, left + t),
        "f": (top, mid + 1, left, left + t),
        "g": (mid - t // 2, mid - t // 2 + t, left, left + w),
    }


def synthetic_digits(n: int, seed: int = 0, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """n images and labels: (n, 1, 28, 28) float32 in [0, 1], (n,) int64; same seed, same digits."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    images = np.zeros((n, 1, SIZE, SIZE), dtype=np.float32)
    for i, digit in enumerate(labels):
        h, w, t = int(rng.integers(16, 20)), int(rng.integers(10, 13)), int(rng.integers(2, 4))
        # Centred like MNIST, give or take 2 pixels: a small net learns them within a few dozen steps.
        top, left = (SIZE - h) // 2 + int(rng.integers(-2, 3)), (SIZE - w) // 2 + int(rng.integers(-2, 3))
        ink = float(rng.uniform(0.7, 1.0))
        boxes = _segment_boxes(top, left, h, w, t)
        for seg in _DIGIT_SEGMENTS[digit]:
            r0, r1, c0, c1 = boxes[seg]
            images[i, 0, r0:r1, c0:c1] = ink
    images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    return np.clip(images, 0.0, 1.0), labels.astype(np.int64)
