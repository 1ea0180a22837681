"""CIFAR-10's cats (class 3) and dogs (class 5) at 32 px: 10,000 train / 2,000 test, in torchvision's layout."""

from __future__ import annotations

import pickle
from pathlib import Path

from explainers.training.data.base import DatasetUnavailable, ImageDataset, Progress
from explainers.training.data.catsdogs.archives import fetch_archive
from explainers.training.data.catsdogs.decode import make_dataset


def cifar_available(root: Path) -> bool:
    """True when the CIFAR-10 batches are already unpacked under root."""
    return (Path(root) / "cifar-10-batches-py" / "data_batch_1").is_file()


def load_cifar_catsdog(root: Path, download: bool = True, progress: Progress | None = None) -> ImageDataset:
    """The cat (3) and dog (5) classes of CIFAR-10 -> uint8 (N, 3, 32, 32), labels cat 0 / dog 1."""
    import numpy as np
    import torch
    from torchvision.datasets import CIFAR10

    root = Path(root)
    fetch_archive(root, CIFAR10.url, CIFAR10.tgz_md5, lambda: cifar_available(root), "CIFAR-10", download,
                  progress, 0.0, 0.9)
    try:
        parts = [CIFAR10(str(root), train=t, download=False) for t in (True, False)]
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        raise DatasetUnavailable(f"The CIFAR-10 files under {root.resolve()} could not be read ({exc}).") from exc
    out = []
    for ds in parts:
        targets = np.asarray(ds.targets)
        keep = np.flatnonzero((targets == 3) | (targets == 5))
        x = torch.from_numpy(ds.data[keep]).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32) uint8
        y = torch.from_numpy((targets[keep] == 5).astype(np.int64))  # cat -> 0, dog -> 1
        out += [x, y]
    if progress:
        progress(1.0, "loaded")
    return make_dataset("cifar-catsdog", "CIFAR-10 cats & dogs (32 px)", *out)
