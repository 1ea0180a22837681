"""What the ImageNet-pretrained ResNet-18 expects, and where its weights live. No torch at import, no network.

The download itself is a data-layer job (explainers/training/data/weights.py); models only read a file.
"""

from __future__ import annotations

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


def weights_path() -> Path:
    """Where torch's cache keeps the ResNet-18 ImageNet weights ($TORCH_HOME/hub/checkpoints)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE


def resnet18_weights_cached() -> bool:
    """True when the ImageNet weights are already in torch's cache (no download needed)."""
    return weights_path().is_file()


def missing_weights_message(dest: Path) -> str:
    """What to do when the weights are not downloaded yet (shown by the page, the race and the CLI)."""
    return (
        "ResNet-18's ImageNet weights (45 MB) are not downloaded yet. Press 'Download the weights' on the "
        "Trainer page, or run `python -m explainers.training download resnet18`, or copy "
        f"{RESNET18_FILE} into {dest.parent}. Training from scratch works offline."
    )
