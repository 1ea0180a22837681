"""Synthetic digits: 0-9 drawn from Pillow's bundled font, warped like handwriting, offline and deterministic.

The default set (SYNTHETIC_DEFAULT) is saved under ``<data>/cache/`` after the first drawing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explainers.training.data.base import ImageDataset, Progress, channel_stats
from explainers.training.data.cache import MemoryCache, read_tensors, write_tensors

if TYPE_CHECKING:
    import torch

LABEL = "Synthetic digits (offline)"
_SPREAD: torch.Tensor | None = None
_SYNTH_CACHE: MemoryCache[ImageDataset] = MemoryCache()  # (n_train, n_test, seed) -> drawn set
_SYNTH_LOCK = threading.Lock()  # one drawing at a time: it is CPU-heavy and the result is shared
_HI = 56  # templates and warps are drawn at twice MNIST's resolution, then averaged down (anti-aliasing)


def _spread_matrix(n: int = _HI, k: int = 5, width: float = 0.12) -> torch.Tensor:
    """(n, k) normalised Gaussian weights that spread k control values smoothly over n pixels."""
    import torch

    pix = torch.linspace(0, 1, n).view(n, 1)
    ctrl = torch.linspace(0, 1, k).view(1, k)
    w = torch.exp(-((pix - ctrl) ** 2) / (2 * width**2))
    return w / w.sum(1, keepdim=True)


def _digit_templates() -> tuple[torch.Tensor, torch.Tensor]:
    """Glyphs of 0-9 from Pillow's bundled font in several sizes and stroke widths -> (T, 56, 56) float, (T,) labels."""
    import torch
    from PIL import Image, ImageDraw, ImageFont

    images, labels = [], []
    for size in (40, 48, 56):
        font = ImageFont.load_default(size=size)
        for stroke in (0, 1, 2) if size < 56 else (0, 1, 2, 3):  # thick strokes only on big glyphs
            for digit in range(10):
                canvas = Image.new("L", (120, 120), 0)
                ImageDraw.Draw(canvas).text((30, 20), str(digit), fill=255, font=font, stroke_width=stroke, stroke_fill=255)
                box = canvas.getbbox()
                glyph = canvas.crop(box)
                # like MNIST: fit the ink into a 40x40 box (20x20 at 28x28), keep the aspect ratio
                scale = 40.0 / max(glyph.size)
                w, h = max(1, round(glyph.size[0] * scale)), max(1, round(glyph.size[1] * scale))
                glyph = np.asarray(glyph.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
                out = np.zeros((_HI, _HI), np.float32)
                # centre by centre of mass, like MNIST
                ys, xs = np.indices(glyph.shape)
                cy, cx = (glyph * ys).sum() / glyph.sum(), (glyph * xs).sum() / glyph.sum()
                top = round(float(_HI / 2 - cy))
                left = round(float(_HI / 2 - cx))
                top, left = min(max(top, 0), _HI - h), min(max(left, 0), _HI - w)
                out[top : top + h, left : left + w] = glyph
                images.append(out)
                labels.append(digit)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def _render_digits(templates: torch.Tensor, tlabels: torch.Tensor, n: int, gen: torch.Generator) -> tuple:
    """Draw n warped digits from the templates -> uint8 (n, 1, 28, 28), int64 (n,). Vectorised in chunks."""
    import math

    import torch
    import torch.nn.functional as F

    global _SPREAD
    if _SPREAD is None:
        _SPREAD = _spread_matrix()
    by_digit = [torch.nonzero(tlabels == d).flatten() for d in range(10)]
    labels = torch.arange(n) % 10
    labels = labels[torch.randperm(n, generator=gen)]
    per_digit = len(by_digit[0])
    choice = torch.randint(0, per_digit, (n,), generator=gen)
    tidx = torch.stack(by_digit)[labels, choice]  # (n,)

    out = torch.empty((n, 1, 28, 28), dtype=torch.uint8)
    chunk = 4096
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        b = e - s

        def u(lo: float, hi: float, b: int = b) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(b, generator=gen)

        angle = u(-15, 15) * math.pi / 180
        scale = u(0.8, 1.15)
        aspect = u(0.85, 1.15)
        shear = u(-0.3, 0.3)
        tx, ty = u(-0.1, 0.1), u(-0.1, 0.1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        sx, sy = scale * aspect, scale / aspect
        # grid maps output coords to template coords: the inverse of rotate . shear . scale
        a = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (b, 2, 2) rotation
        sh = torch.zeros(b, 2, 2)
        sh[:, 0, 0], sh[:, 0, 1], sh[:, 1, 1] = 1.0, shear, 1.0
        sc = torch.zeros(b, 2, 2)
        sc[:, 0, 0], sc[:, 1, 1] = sx, sy
        forward = a @ sh @ sc
        inv = torch.linalg.inv(forward)
        shift = -(inv @ torch.stack([tx, ty], 1).unsqueeze(2)).squeeze(2)  # (b, 2)
        # the sampling grid of affine_grid (align_corners=False), written out: cheaper than its batched matmul
        xs = ((torch.arange(_HI, dtype=torch.float32) * 2 + 1) / _HI - 1).view(1, 1, _HI)
        ys = xs.view(1, _HI, 1)
        a = inv.reshape(b, 4, 1, 1)
        gx = a[:, 0] * xs + a[:, 1] * ys + shift[:, 0].view(b, 1, 1)  # (b, 56, 56)
        gy = a[:, 2] * xs + a[:, 3] * ys + shift[:, 1].view(b, 1, 1)
        # elastic distortion: a smooth random displacement field, 5x5 random values spread by Gaussian weights
        alpha = u(0.0, 0.14).view(b, 1, 1)  # the spread averages the control values: ~half their size
        disp = torch.randn(b, 2, 5, 5, generator=gen)
        disp = torch.einsum("ik,bckl,jl->bcij", _SPREAD, disp, _SPREAD)  # (b, 2, 56, 56)
        grid = torch.stack([gx + alpha * disp[:, 0], gy + alpha * disp[:, 1]], 3)  # (b, 56, 56, 2)
        src = templates[tidx[s:e]].unsqueeze(1)  # (b, 1, 56, 56)
        img = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        img = F.avg_pool2d(img, 2)  # (b, 1, 28, 28)
        # ink intensity, a little blur-like gain and pixel noise
        gain = u(0.75, 1.3).view(b, 1, 1, 1)
        img = (img * gain).clamp(0, 1)
        sigma = u(0.0, 0.12).view(b, 1, 1, 1)
        img = img + sigma * torch.randn(img.shape, generator=gen).abs() * (torch.rand(img.shape, generator=gen) < 0.15)
        out[s:e] = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    return out, labels


def synthetic_digits(n_train: int = 20000, n_test: int = 4000, seed: int = 0) -> ImageDataset:
    """Deterministic drawn digits (offline) -> ImageDataset with uint8 (N, 1, 28, 28) images. Cached per process."""
    import torch

    key = (n_train, n_test, seed)
    with _SYNTH_LOCK:
        found = _SYNTH_CACHE.get(key)
        if found is not None:
            return found
        templates, tlabels = _digit_templates()
        gen = torch.Generator().manual_seed(seed)
        train_x, train_y = _render_digits(templates, tlabels, n_train, gen)
        gen_test = torch.Generator().manual_seed(seed + 1_000_003)  # a separate stream: test never equals train
        test_x, test_y = _render_digits(templates, tlabels, n_test, gen_test)
        mean, std = channel_stats(train_x)
        ds = ImageDataset(
            name="synthetic-digits",
            classes=tuple(str(d) for d in range(10)),
            train_x=train_x,
            train_y=train_y,
            test_x=test_x,
            test_y=test_y,
            synthetic=True,
            mean=mean,
            std=std,
            label=LABEL,
        )
        return _SYNTH_CACHE.keep(key, ds)


SYNTHETIC_VERSION = 2  # bump when the drawing changes: the disk cache is keyed by it
SYNTHETIC_DEFAULT = (20000, 4000, 0)  # (n_train, n_test, seed) of the dataset key "synthetic-digits"


def _read_synthetic_cache(cache: Path, n_train: int, n_test: int) -> ImageDataset | None:
    """The synthetic set saved by an earlier run, or None when absent or unreadable (then it is redrawn)."""
    import torch

    t = read_tensors(cache)
    if t is None:
        return None
    try:
        ds = ImageDataset(
            name="synthetic-digits", classes=tuple(str(d) for d in range(10)),
            train_x=t["train_x"], train_y=t["train_y"], test_x=t["test_x"], test_y=t["test_y"], synthetic=True,
            mean=tuple(float(v) for v in t["mean"]), std=tuple(float(v) for v in t["std"]), label=LABEL,
        )
        ok = ds.train_x.shape == (n_train, 1, 28, 28) and ds.train_x.dtype == torch.uint8 and len(ds.test_y) == n_test
    except Exception:  # noqa: BLE001 - a cache of another format is redrawn
        return None
    return ds if ok else None


def load_synthetic_digits(root: Path, progress: Progress | None = None) -> ImageDataset:
    """The default synthetic set, from <data>/cache/ when drawn before (best effort), else drawn and cached."""
    import torch

    n_train, n_test, seed = SYNTHETIC_DEFAULT
    cache = Path(root) / "cache" / f"synthetic-digits-v{SYNTHETIC_VERSION}-{n_train}-{n_test}-{seed}.pt"
    ds = _read_synthetic_cache(cache, n_train, n_test)
    if ds is None:
        if progress:
            progress(0.1, "drawing synthetic digits")
        ds = synthetic_digits(n_train, n_test, seed)
        write_tensors(cache, {"train_x": ds.train_x, "train_y": ds.train_y, "test_x": ds.test_x, "test_y": ds.test_y,
                              "mean": torch.tensor(ds.mean), "std": torch.tensor(ds.std)})
    if progress:
        progress(1.0, "loaded")
    return ds
