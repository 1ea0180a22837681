"""Picture files -> uint8 squares: every file through ``explainers.images.load_image`` (Pillow validates
it), centre-cropped to a square and resized, so epochs never decode JPEGs again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from explainers.images import ImageError, load_image
from explainers.training.data.base import ImageDataset, Progress
from models.pretrained import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    import numpy as np
    import torch

CLASSES = ("cat", "dog")
CACHE_VERSION = 1  # bump when decoding changes: it is part of every disk cache key


def decode_to_square(data: bytes, size: int) -> np.ndarray:
    """Image file bytes -> (size, size, 3) uint8: load_image, centre-crop to a square, resize."""
    return square_uint8(load_image(data, max_side=4 * size), size)  # JPEGs shrink on load


def square_uint8(img: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) float image in [0, 1] -> (size, size, 3) uint8: centre-crop to a square, then resize."""
    import numpy as np
    from PIL import Image

    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = (img[top:top + side, left:left + side] * 255.0 + 0.5).astype(np.uint8)
    if side != size:
        square = np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0))
    return square


def decode_files(
    paths: list[Path], size: int, progress: Progress | None = None, *, start: float = 0.0, span: float = 1.0,
    what: str = "pictures",
) -> tuple[torch.Tensor, list[int]]:
    """Decode image files once -> uint8 (N_ok, 3, size, size) and the indices of files that failed."""
    import numpy as np
    import torch

    out = np.empty((len(paths), size, size, 3), np.uint8)
    bad: list[int] = []
    ok = 0
    for i, p in enumerate(paths):
        try:
            out[ok] = decode_to_square(Path(p).read_bytes(), size)
            ok += 1
        except (ImageError, OSError):
            bad.append(i)  # e.g. the few broken JPEGs in Microsoft's PetImages
        if progress and (i % 50 == 0 or i == len(paths) - 1):
            progress(start + span * (i + 1) / max(len(paths), 1), f"decoding {what}: {i + 1} of {len(paths)}")
    return torch.from_numpy(out[:ok]).permute(0, 3, 1, 2).contiguous(), bad


def make_dataset(name: str, label: str, train_x, train_y, test_x, test_y, synthetic: bool = False) -> ImageDataset:
    """Cats-vs-dogs tensors -> ImageDataset with ImageNet's mean/std (what ResNet-18's weights expect)."""
    return ImageDataset(
        name=name, classes=CLASSES, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y,
        synthetic=synthetic, mean=IMAGENET_MEAN, std=IMAGENET_STD, label=label,
    )


def restore_dataset(name: str, label: str, blob: dict) -> ImageDataset:
    """Tensors saved by the disk cache -> ImageDataset."""
    return make_dataset(name, label, blob["train_x"], blob["train_y"], blob["test_x"], blob["test_y"],
                        bool(blob.get("synthetic", False)))
