"""The ResNet-18 ImageNet weights: fetched into torch's cache by the one downloader, checked before use.

Models never download (models/registry.py only reads the file); this is the explicit step behind the
page's "Download the weights" button and ``python -m explainers.training download resnet18``."""

from __future__ import annotations

from pathlib import Path

from explainers.training.data.base import Progress
from explainers.training.data.downloader import (
    DOWNLOAD_TIMEOUT_S,
    download_file,
    prefetch_command,
    reason,
)
from models.pretrained import (
    RESNET18_FILE,
    RESNET18_URL,
    WeightsUnavailable,
    missing_weights_message,
    resnet18_weights_cached,
    weights_path,
    weights_place,
)

__all__ = ["RESNET18_FILE", "RESNET18_URL", "WeightsUnavailable", "fetch_resnet18_weights",
           "resnet18_weights_cached", "weights_path"]


def _loads_as_weights(path: Path) -> None:
    """A truncated or foreign file fails here, before it is moved into the cache."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, TypeError) as exc:  # pickle errors surface as these
        raise ValueError(f"the downloaded file is not a weights file ({exc})") from exc
    if not isinstance(state, dict):
        raise ValueError("the downloaded file is not a state dict")


def fetch_resnet18_weights(progress: Progress | None = None, *, url: str = RESNET18_URL,
                           timeout: float = DOWNLOAD_TIMEOUT_S, download: bool = True) -> Path:
    """The cached weights file, downloaded first (with progress) when missing and allowed; else WeightsUnavailable."""
    dest = weights_path()
    if dest.is_file():
        if progress:
            progress(1.0, "ResNet-18 ImageNet weights found in torch's cache")
        return dest
    if not download:
        raise WeightsUnavailable(missing_weights_message(dest))

    def report(done: int, total: int) -> None:
        if progress and total:
            progress(min(done / total, 1.0), f"Downloading ResNet-18 weights: {done / 2**20:.0f} of "
                     f"{total / 2**20:.0f} MB")

    try:
        download_file(url, dest, progress=report, timeout=timeout, verify=_loads_as_weights)
    except (OSError, ValueError) as exc:
        raise WeightsUnavailable(
            f"The ResNet-18 ImageNet weights are not on this server and could not be "
            f"downloaded ({reason(exc)}). Connect to the internet once and run "
            f"`{prefetch_command('resnet18')}`, or copy {RESNET18_FILE} into {weights_place(dest)}. "
            "Training from scratch works offline."
        ) from exc
    if progress:
        progress(1.0, "ResNet-18 ImageNet weights saved in torch's cache")
    return dest
