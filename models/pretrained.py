"""What the ImageNet-pretrained ResNet-18 expects, and where its weights live. No torch at import, no network.

The download itself is a data-layer job (explainers/training/data/weights.py); models only read a file.
"""

from __future__ import annotations

import os
from pathlib import Path

# The per-channel statistics ImageNet weights were trained with (0..1 scale). The cats-vs-dogs datasets
# declare them as their mean/std, so the engine's on-the-fly normalisation feeds ResNet-18 what it expects.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's name: the suffix is a sha256 prefix


class WeightsUnavailable(RuntimeError, ValueError):
    """The ImageNet weights are not in torch's cache and cannot be downloaded (offline).

    Also a ValueError, so that pages.widgets.ui.run_safely shows it as a friendly message."""


def _data_folder() -> Path:
    return Path(os.environ.get("NEURAL_LENS_DATA") or "data")


def weights_path() -> Path:
    """Where the ResNet-18 ImageNet weights live: torch's cache when one was chosen ($TORCH_HOME or
    torch.hub.set_dir) or already holds them, else <data folder>/torch/hub/checkpoints, so that a
    download never creates a cache outside the data folder (e.g. in the server account's home)."""
    import torch

    hub_file = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE
    if os.environ.get("TORCH_HOME") or getattr(torch.hub, "_hub_dir", None) or hub_file.is_file():
        return hub_file
    return _data_folder() / "torch" / "hub" / "checkpoints" / RESNET18_FILE


def weights_place(dest: Path) -> str:
    """Where the weights file goes, in words without server paths (for messages to visitors)."""
    try:
        inside = Path(dest).resolve().parent.relative_to(_data_folder().resolve())
    except ValueError:
        return "torch's cache (its hub/checkpoints folder)"
    return f"the data folder under {inside.as_posix()}/"


def resnet18_weights_cached() -> bool:
    """True when the ImageNet weights are already in torch's cache (no download needed)."""
    return weights_path().is_file()


def missing_weights_message(dest: Path) -> str:
    """What to do when the weights are not downloaded yet (shown by the page, the race and the CLI)."""
    return (
        "ResNet-18's ImageNet weights (45 MB) are not downloaded yet. Press 'Download the weights' on the "
        "Trainer page, or run `python -m explainers.training download resnet18`, or copy "
        f"{RESNET18_FILE} into {weights_place(dest)}. Training from scratch works offline."
    )
