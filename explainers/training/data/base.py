"""What every data source returns: ``ImageDataset`` (uint8 tensors in memory), ``DatasetUnavailable``,
the ``Progress`` callback type and the data folder. torch is imported lazily."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily so that importing the data package stays cheap
    import torch

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening)


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing and could not be downloaded; the message says what to do."""


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image set in memory: uint8 images (N, C, H, W), int64 labels (N,).

    Shared read-only between sessions (load_dataset caches it per process): never modify it in
    place. Batches are normalised on the fly with ``mean``/``std``."""

    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor  # (N_train, C, H, W) uint8
    train_y: torch.Tensor  # (N_train,) int64
    test_x: torch.Tensor  # (N_test, C, H, W) uint8
    test_y: torch.Tensor  # (N_test,) int64
    synthetic: bool
    mean: tuple[float, ...]  # per channel, on the 0..1 scale
    std: tuple[float, ...]  # per channel, on the 0..1 scale
    label: str = ""  # display name

    @property
    def channels(self) -> int:
        """Number of image channels C."""
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        """Image height H (images are square)."""
        return int(self.train_x.shape[2])

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return len(self.classes)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float32 (B, C, H, W), (x/255 - mean)/std, on x's device."""
        import torch

        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        return (x.float() / 255.0 - mean) / std


def data_dir() -> Path:
    """The data folder: $NEURAL_LENS_DATA, else ./data."""
    return Path(os.environ.get("NEURAL_LENS_DATA") or "data")


def root_or_default(root: Path | str | None) -> Path:
    """An explicit data folder, else data_dir()."""
    return Path(root) if root is not None else data_dir()


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """uint8 (N, C, H, W) -> per-channel mean and std on the 0..1 scale."""
    import torch

    c = x.shape[1]
    flat = x.transpose(0, 1).reshape(c, -1)
    step = max(1, flat.shape[1] // 5_000_000)  # a strided sample is plenty for two numbers
    sample = flat[:, ::step].to(torch.float64) / 255.0
    mean = tuple(float(v) for v in sample.mean(dim=1))
    std = tuple(max(float(v), 1e-3) for v in sample.std(dim=1))
    return mean, std
