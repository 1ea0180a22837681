"""Cats-vs-dogs models in the MODELS registry, without importing torch (the nets live in models/catsdogs_nets.py).

Registered names:
- ``catsdogs_cnn``: the tutorial CNN (four conv+ReLU+max-pool units, then FC), trained from scratch.
- ``resnet18_transfer``: torchvision ResNet-18 with ImageNet weights, new 2-way head, everything fine-tuned.
- ``resnet18_frozen``: the same with the backbone frozen (only the head learns): the page's
  "freeze backbone" toggle picks between these two names, so TrainConfig needs no extra field.

Added beyond the trainer contract (issue 7):
- ``IMAGENET_MEAN`` / ``IMAGENET_STD``: the statistics the ImageNet weights expect. The cats-vs-dogs
  datasets (explainers/pets.py) declare them as their mean/std, so the engine's on-the-fly
  normalisation feeds ResNet-18 exactly what its weights were trained on.
- ``WeightsUnavailable(RuntimeError, ValueError)``: the ImageNet weights are not cached (or not downloadable).
- ``resnet18_weights_cached()``, ``fetch_resnet18_weights(progress)``: check / fill torch's cache.
  The registered builds never download (they run on every rerun, e.g. for the model card): without
  cached weights they raise WeightsUnavailable at once, so fetch first (the page has a button).
- ``CATSDOGS_MODELS``: the names above, in menu order. Models carry ``gradcam_layer``.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from models import ModelSpec, register_model

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's name: the suffix is a sha256 prefix

CATSDOGS_MODELS = ("catsdogs_cnn", "resnet18_transfer", "resnet18_frozen")

Progress = Callable[[float, str], None]


class WeightsUnavailable(RuntimeError, ValueError):
    """The ImageNet weights are not in torch's cache and cannot be downloaded (offline).

    Also a ValueError, so that pages/ui.run_safely shows it as a friendly message."""


def weights_path() -> Path:
    """Where torch's cache keeps the ResNet-18 ImageNet weights ($TORCH_HOME/hub/checkpoints)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE


def resnet18_weights_cached() -> bool:
    """True when the ImageNet weights are already in torch's cache (no download needed)."""
    return weights_path().is_file()


def fetch_resnet18_weights(progress: Progress | None = None, *, url: str = RESNET18_URL,
                           timeout: float = 20.0, download: bool = True) -> Path:
    """Return the cached weights file, downloading it first (with progress) if needed and allowed."""
    import torch

    dest = weights_path()
    if dest.is_file():
        if progress:
            progress(1.0, "ResNet-18 ImageNet weights found in torch's cache")
        return dest
    if not download:
        raise WeightsUnavailable(
            "ResNet-18's ImageNet weights (45 MB) are not downloaded yet. Press 'Download the weights' on the "
            "Trainer page, or run `python -m explainers.training.data.pets download resnet18`, or copy "
            f"{RESNET18_FILE} into {dest.parent}. Training from scratch works offline."
        )
    fd, tmp = None, None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".resnet18-", suffix=".part")
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if progress and total:
                    progress(min(done / total, 1.0), f"Downloading ResNet-18 weights: {done / 2**20:.0f} of "
                             f"{total / 2**20:.0f} MB")
        torch.load(tmp, map_location="cpu", weights_only=True)  # a truncated file fails here
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError, RuntimeError, EOFError, ValueError) as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"The ResNet-18 ImageNet weights are not in torch's cache ({dest}) and could not be "
            f"downloaded ({getattr(exc, 'reason', exc)}). Connect to the internet once and run "
            "`python -m explainers.training.data.pets download resnet18`, or copy "
            f"{RESNET18_FILE} into {dest.parent}. Training from scratch works offline."
        ) from exc
    return dest


def build_catsdogs_cnn(channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
    """ModelSpec.build for the tutorial CNN (dropout None -> 0.5, the tutorial's value)."""
    from models.catsdogs_nets import CatsDogsCNN

    return CatsDogsCNN(channels, image_size, num_classes, 0.5 if dropout is None else float(dropout))


def build_resnet18_transfer(channels: int, image_size: int, num_classes: int, dropout: float | None = None, *,
                            pretrained: bool = True, freeze_backbone: bool = False,
                            progress: Progress | None = None, download: bool = False) -> nn.Module:
    """ModelSpec.build for ResNet-18 transfer learning (3-channel images only).

    By default it never downloads: building happens on every page rerun (model card, LR finder), so
    the 45 MB fetch is an explicit step (fetch_resnet18_weights with a progress bar, or the CLI)."""
    from models.catsdogs_nets import ResNet18Transfer

    if channels != 3:
        raise ValueError("ResNet-18 expects colour (3-channel) images")
    return ResNet18Transfer(num_classes, pretrained=pretrained, freeze_backbone=freeze_backbone,
                            progress=progress, dropout=float(dropout or 0.0), download=download)


def supports_catsdogs_cnn(channels: int, image_size: int) -> bool:
    return image_size >= 16 and image_size % 16 == 0


def supports_resnet18(channels: int, image_size: int) -> bool:
    return channels == 3 and image_size >= 32


register_model(ModelSpec(
    "catsdogs_cnn", "Cats-vs-dogs CNN (from scratch)", build_catsdogs_cnn, True,
    "The tutorial's network: four conv 3x3 + ReLU + max-pool units (32, 64, 128, 128 filters), "
    "then dropout and FC 512 -> 2. Learns everything from your pictures.",
    supports_catsdogs_cnn, default_dropout=0.5,
))
register_model(ModelSpec(
    "resnet18_transfer", "ResNet-18 transfer (fine-tune all)",
    lambda c, s, k, d=None: build_resnet18_transfer(c, s, k, d, freeze_backbone=False), False,
    "ResNet-18 pre-trained on ImageNet (1.2 million photos), its last layer replaced by 2 outputs; "
    "every layer keeps learning. Needs the 45 MB weights once.",
    supports_resnet18,
))
register_model(ModelSpec(
    "resnet18_frozen", "ResNet-18 transfer (frozen backbone)",
    lambda c, s, k, d=None: build_resnet18_transfer(c, s, k, d, freeze_backbone=True), False,
    "ResNet-18 pre-trained on ImageNet with the backbone frozen: only the new 2-way head learns "
    "(1,026 parameters), so it is fast and needs few pictures.",
    supports_resnet18,
))
