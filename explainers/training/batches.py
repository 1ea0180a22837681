"""Batches straight from uint8 tensors: a seeded split, a shuffled permutation, normalisation on the device.

No DataLoader and no per-sample Python transforms: a batch is ``x[idx]`` turned to float,
augmented as a whole, normalised with per-channel (scale, shift). Every random draw (split,
order, augmentation) comes from a ``torch.Generator`` seeded from the config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from explainers.training.config import TrainConfig
    from explainers.training.data import ImageDataset

Augmenter = Callable[["torch.Tensor", "torch.Generator"], "torch.Tensor"]


def split_indices(config: TrainConfig, dataset: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split of the training set -> (train indices, val indices) into dataset.train_x."""
    import torch

    n = len(dataset.train_y)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed))
    n_val = round(config.val_fraction * n) if config.val_fraction > 0 else 0
    n_val = min(n_val, n - 2)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if config.subset is not None:
        train_idx = train_idx[: config.subset]
    return train_idx, val_idx


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Steps per epoch over n images: a last batch of one image is dropped (BatchNorm cannot use it)."""
    return n // batch_size + (1 if n % batch_size >= 2 or n < batch_size else 0)


def norm_consts(dataset: ImageDataset, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) with x_norm = x_uint8 * scale + shift, each shaped (1, C, 1, 1)."""
    import torch

    mean = torch.tensor(dataset.mean, dtype=torch.float32)
    std = torch.tensor(dataset.std, dtype=torch.float32)
    scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
    shift = (-mean / std).view(1, -1, 1, 1).to(device)
    return scale, shift


class Batches:
    """``batches(epoch)`` -> iterator of (x (B, C, H, W) float normalised, y (B,)) in a seeded shuffled order."""

    def __init__(self, dataset: ImageDataset, indices: torch.Tensor, batch_size: int, device: str, *,
                 generator: torch.Generator, augment: Augmenter | None = None, channels_last: bool = False) -> None:
        on_cpu = device == "cpu"
        # the shared uint8 tensors stay where they are on the CPU; a GPU gets its own copy once
        self.x = dataset.train_x if on_cpu else dataset.train_x.to(device)
        self.y = dataset.train_y if on_cpu else dataset.train_y.to(device)
        self.indices = indices.to(device)
        self.batch_size = batch_size
        self.device = device
        self.generator = generator
        self.augment = augment
        self.channels_last = channels_last
        self.scale, self.shift = norm_consts(dataset, device)
        self.per_epoch = batches_per_epoch(len(indices), batch_size)

    def __call__(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        import torch

        n, bs = len(self.indices), self.batch_size
        perm = self.indices[torch.randperm(n, generator=self.generator).to(self.device)]
        for b in range(self.per_epoch):
            idx = perm[b * bs : (b + 1) * bs]
            xb = self.x[idx].float()  # (B, C, H, W) still on the 0..255 scale
            if self.augment is not None:  # shifts/rotations, or flip/crop/rotate/jitter (photos)
                xb = self.augment(xb, self.generator)
            xb = xb * self.scale + self.shift  # normalised on the fly
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, self.y[idx]
