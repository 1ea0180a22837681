"""Data augmentation on whole batches of tensors: flip, random resized crop, small rotation, colour jitter.

Every image in a batch gets its own random parameters. The geometric part (flip, crop, rotation)
is one affine map per image applied with a single ``grid_sample``; colour jitter scales brightness,
contrast and saturation per image. uint8 batches come back as uint8, float batches as float,
so the engine can augment decoded uint8 tensors before normalising them. Nothing is decoded again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True  # mirror left-right with probability 1/2 (a cat facing left is still a cat)
    crop: bool = True  # random resized crop: zoom into a random part of the picture
    rotate: bool = False  # small random rotation
    jitter: bool = False  # random brightness / contrast / saturation
    crop_scale: tuple[float, float] = (0.6, 1.0)  # fraction of the image area a crop keeps
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop aspect ratio range (width / height)
    max_degrees: float = 15.0  # rotation angle drawn from [-max, +max]
    brightness: float = 0.3  # brightness factor drawn from [1 - b, 1 + b]
    contrast: float = 0.3  # contrast factor drawn from [1 - c, 1 + c]
    saturation: float = 0.3  # saturation factor drawn from [1 - s, 1 + s]

    @property
    def active(self) -> bool:
        return self.flip or self.crop or self.rotate or self.jitter

    def describe(self) -> str:
        """A short human label, e.g. "flip + crop"."""
        parts = [n for n, on in (("flip", self.flip), ("crop", self.crop), ("rotate", self.rotate),
                                 ("jitter", self.jitter)) if on]
        return " + ".join(parts) if parts else "none"


NONE = AugmentConfig(flip=False, crop=False, rotate=False, jitter=False)


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator)


def affine_matrices(
    n: int, height: int, width: int, config: AugmentConfig, generator: torch.Generator
) -> tuple[torch.Tensor, bool]:
    """Random per-image affine maps (n, 2, 3) from output to input coordinates in [-1, 1]; and whether any is not identity."""
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    if not (config.flip or config.crop or config.rotate):
        return theta, False
    sx = torch.ones(n)
    sy = torch.ones(n)
    tx = torch.zeros(n)
    ty = torch.zeros(n)
    if config.crop:
        area = _uniform(n, *config.crop_scale, generator)
        log_r = _uniform(n, math.log(config.crop_ratio[0]), math.log(config.crop_ratio[1]), generator)
        ratio = torch.exp(log_r)
        sx = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width as a fraction of the image width
        sy = torch.sqrt(area / ratio).clamp(max=1.0)
        tx = (1 - sx) * (2 * torch.rand(n, generator=generator) - 1)  # keep the crop inside the image
        ty = (1 - sy) * (2 * torch.rand(n, generator=generator) - 1)
    flip = torch.ones(n)
    if config.flip:
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    angle = torch.zeros(n)
    if config.rotate:
        angle = torch.deg2rad(_uniform(n, -config.max_degrees, config.max_degrees, generator))
    # Rotation in pixel units, expressed in normalised coordinates: S^-1 R S with S = diag(W, H).
    cos, sin = torch.cos(angle), torch.sin(angle)
    aspect = width / height
    r00, r01 = cos, -sin / aspect
    r10, r11 = sin * aspect, cos
    # input = crop(rotate(flip(output)))
    theta[:, 0, 0] = sx * r00 * flip
    theta[:, 0, 1] = sx * r01
    theta[:, 0, 2] = tx
    theta[:, 1, 0] = sy * r10 * flip
    theta[:, 1, 1] = sy * r11
    theta[:, 1, 2] = ty
    return theta, True


def _colour_jitter(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) float in [0, 1] -> same, with per-image brightness, contrast, saturation factors."""
    n = x.shape[0]

    def factors(strength: float) -> torch.Tensor:
        return _uniform(n, max(0.0, 1 - strength), 1 + strength, generator).view(n, 1, 1, 1).to(x)

    b, c, s = factors(config.brightness), factors(config.contrast), factors(config.saturation)
    x = (x * b).clamp(0, 1)
    gray = grayscale(x)  # (B, 1, H, W)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    x = (c * x + (1 - c) * mean).clamp(0, 1)
    if x.shape[1] == 3:
        x = (s * x + (1 - s) * grayscale(x)).clamp(0, 1)
    return x


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W) luma with ITU-R 601 weights as torchvision rounds them (the identity for one channel)."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor([0.2989, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def augment_batch(
    x: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None, *, fill: str = "reflection"
) -> torch.Tensor:
    """(B, C, H, W) uint8 in [0, 255] or float in [0, 1] -> augmented batch of the same shape and dtype."""
    if x.ndim != 4:
        raise ValueError(f"expected a batch (B, C, H, W), got shape {tuple(x.shape)}")
    if not config.active:
        return x
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    is_uint8 = x.dtype == torch.uint8
    out = x.float() / 255.0 if is_uint8 else x.float()
    n, _, h, w = out.shape
    theta, moved = affine_matrices(n, h, w, config, gen)
    if moved:
        grid = F.affine_grid(theta.to(out), list(out.shape), align_corners=False)
        out = F.grid_sample(out, grid, mode="bilinear", padding_mode=fill, align_corners=False)
    if config.jitter:
        out = _colour_jitter(out, config, gen)
    if is_uint8:
        return (out * 255.0).round().clamp(0, 255).to(torch.uint8)
    return out.to(x.dtype)


def preview(image: torch.Tensor, config: AugmentConfig, n: int = 8, seed: int = 0) -> np.ndarray:
    """(C, H, W) uint8 image -> (n, H, W, C) uint8: the original first, then n - 1 augmented versions."""
    if image.ndim != 3:
        raise ValueError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
    batch = image.unsqueeze(0).expand(n - 1, -1, -1, -1).contiguous()
    gen = torch.Generator().manual_seed(seed)
    out = torch.cat([image.unsqueeze(0).to(torch.uint8), augment_batch(batch.to(torch.uint8), config, gen)])
    return out.permute(0, 2, 3, 1).numpy()


OPERATIONS = ("flip", "crop", "rotate", "jitter")  # names the trainer's config uses


def config_from_names(names: tuple[str, ...] | list[str]) -> AugmentConfig:
    """("flip", "crop", ...) -> AugmentConfig with exactly those operations on; ValueError for unknown names."""
    unknown = [n for n in names if n not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(map(repr, unknown))}; choose from {', '.join(OPERATIONS)}")
    return AugmentConfig(**{op: op in names for op in OPERATIONS})


def augment_named(x: torch.Tensor, names: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """Engine seam: float (B, C, H, W) on the 0..255 scale -> augmented, same scale (training.py's batches)."""
    return augment_batch(x / 255.0, config_from_names(names), generator) * 255.0


def shift_rotate(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts (+-2 px) and rotations (+-10 deg) of a float batch (B, C, H, W) in one grid_sample (digits)."""
    b, _, h, w = x.shape
    angle = (torch.rand(b, generator=generator) * 2 - 1) * (10 * math.pi / 180)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (2.0 * 2 / torch.tensor([w, h]))  # px -> [-1, 1] units
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augmenter(augment: bool, names: tuple[str, ...]):  # -> Callable[[Tensor, Generator], Tensor] | None
    """The batch augmentation a config asks for: float (B, C, H, W) on the 0..255 scale -> same; None when off."""
    if not augment:
        return None
    if not names:
        return shift_rotate
    names = tuple(names)
    return lambda x, gen: augment_named(x, names, gen)
