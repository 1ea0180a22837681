"""Drawn cats and dogs for classrooms without pictures: cartoon faces made in code, offline and seeded."""

from __future__ import annotations

from explainers.training.data.base import ImageDataset, Progress
from explainers.training.data.cache import MemoryCache
from explainers.training.data.catsdogs.decode import make_dataset

_DEFAULT_SETS: MemoryCache[ImageDataset] = MemoryCache()  # size -> the default drawn set (same for every data folder)


def synthetic_pets(n_train: int = 1000, n_test: int = 300, size: int = 64, seed: int = 0) -> ImageDataset:
    """Cartoon cats (pointed ears, whiskers) and dogs (floppy ears, snout) drawn in code -> ImageDataset."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    def draw(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        hi = size * 2  # drawn at twice the size, then shrunk: smooth edges
        xs = np.empty((n, size, size, 3), np.uint8)
        ys = np.arange(n) % 2
        rng.shuffle(ys)
        for i in range(n):
            bg = tuple(int(v) for v in rng.integers(120, 256, 3))
            im = Image.new("RGB", (hi, hi), bg)
            d = ImageDraw.Draw(im)
            for _ in range(3):  # background clutter
                x0, y0 = rng.integers(0, hi, 2)
                r = int(rng.integers(hi // 16, hi // 6))
                d.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=tuple(int(v) for v in rng.integers(90, 256, 3)))
            fur = tuple(int(v) for v in rng.integers(20, 200, 3))
            r = hi * rng.uniform(0.2, 0.3)
            cx, cy = hi / 2 + rng.uniform(-0.12, 0.12) * hi, hi / 2 + rng.uniform(-0.05, 0.15) * hi
            if ys[i] == 0:  # cat: two pointed triangular ears
                for s in (-1, 1):
                    d.polygon([(cx + s * 0.9 * r, cy - 0.3 * r), (cx + s * 0.75 * r, cy - 1.45 * r),
                               (cx + s * 0.15 * r, cy - 0.85 * r)], fill=fur)
            else:  # dog: long floppy ears hanging down the sides
                for s in (-1, 1):
                    d.ellipse((cx + s * 0.95 * r - 0.3 * r, cy - 0.7 * r, cx + s * 0.95 * r + 0.3 * r, cy + 0.8 * r),
                              fill=tuple(max(0, v - 40) for v in fur))
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fur)
            eye = (250, 250, 250) if sum(fur) < 300 else (20, 20, 20)
            for s in (-1, 1):
                d.ellipse((cx + s * 0.4 * r - 0.12 * r, cy - 0.3 * r, cx + s * 0.4 * r + 0.12 * r, cy - 0.06 * r), fill=eye)
            if ys[i] == 0:  # whiskers
                for s in (-1, 1):
                    for k in (-1, 0, 1):
                        d.line((cx + s * 0.25 * r, cy + 0.25 * r, cx + s * 1.15 * r, cy + (0.15 + 0.18 * k) * r),
                               fill=eye, width=max(1, hi // 64))
            else:  # snout and a big nose
                d.ellipse((cx - 0.35 * r, cy + 0.05 * r, cx + 0.35 * r, cy + 0.6 * r), fill=tuple(min(255, v + 50) for v in fur))
                d.ellipse((cx - 0.15 * r, cy + 0.08 * r, cx + 0.15 * r, cy + 0.3 * r), fill=(10, 10, 10))
            if rng.random() < 0.5:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            xs[i] = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))
        return torch.from_numpy(xs).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(ys.astype(np.int64))

    train_x, train_y = draw(n_train, np.random.default_rng(seed))
    test_x, test_y = draw(n_test, np.random.default_rng(seed + 1_000_003))
    return make_dataset(f"synthetic-pets@{size}" if size != 64 else "synthetic-pets", f"Drawn cats & dogs (offline, {size} px)",
                    train_x, train_y, test_x, test_y, synthetic=True)


def load_synthetic_pets(size: int, progress: Progress | None = None) -> ImageDataset:
    """The default drawn set per size, drawn once per process (it does not depend on the data folder)."""
    if progress:
        progress(0.1, "drawing cats and dogs")
    ds = _DEFAULT_SETS.get_or_build(size, lambda: synthetic_pets(size=size))
    if progress:
        progress(1.0, "loaded")
    return ds
