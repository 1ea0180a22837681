"""Cats-vs-dogs models: the tutorial CNN trained from scratch, and ResNet-18 transfer learning.

Added beyond the trainer contract (issue 7):
- ``IMAGENET_MEAN`` / ``IMAGENET_STD``: the statistics the ImageNet weights expect; the cats-vs-dogs
  datasets (explainers/pets.py) declare them as their mean/std, so the engine's on-the-fly
  normalisation feeds ResNet-18 exactly what its weights were trained on.
- ``WeightsUnavailable(RuntimeError)``: the ImageNet weights are neither cached nor downloadable.
- ``resnet18_weights_cached()``, ``fetch_resnet18_weights(progress)``: check / fill torch's cache.
- ``set_backbone_frozen(model, frozen)``: the "freeze backbone" toggle (head only vs fine-tune all).
- Models carry ``gradcam_layer``: the module name Grad-CAM hooks by default.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's name: the suffix is a sha256 prefix

Progress = Callable[[float, str], None]


class WeightsUnavailable(RuntimeError):
    """The ImageNet weights are not in torch's cache and cannot be downloaded (offline)."""


class CatsDogsCNN(nn.Module):
    """The tutorial cats-vs-dogs CNN: four conv+ReLU+max-pool units, then two fully connected layers.

    (B, C, S, S) -> (B, num_classes); S must be a multiple of 16 (each unit halves the size).
    """

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 64,
        num_classes: int = 2,
        dropout: float = 0.5,
        widths: tuple[int, ...] = (32, 64, 128, 128),
        hidden: int = 512,
    ) -> None:
        super().__init__()
        if image_size % 16 or image_size < 16:
            raise ValueError(f"image size {image_size} must be a multiple of 16 (four 2x2 poolings)")
        layers: list[nn.Module] = []
        c_in = channels
        for c_out in widths:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_in * side * side, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )
        # Grad-CAM looks at the last conv unit's ReLU output, before its pooling.
        self.gradcam_layer = f"features.{len(layers) - 2}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 128, S/16, S/16)
        return self.classifier(x)  # (B, num_classes)


class ResNet18Transfer(nn.Module):
    """torchvision ResNet-18 with its 1000-way head replaced by ``num_classes`` outputs.

    (B, 3, S, S) normalised with IMAGENET_MEAN/STD -> (B, num_classes). With the backbone frozen
    only ``backbone.fc`` learns, and the backbone's batch-norm layers stay in eval mode so their
    ImageNet statistics are not overwritten by a few cat photos.
    """

    def __init__(self, num_classes: int = 2, *, pretrained: bool = True, freeze_backbone: bool = False,
                 progress: Progress | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        from torchvision.models import resnet18

        self.backbone = resnet18(weights=None)
        if pretrained:
            path = fetch_resnet18_weights(progress)
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.backbone.load_state_dict(state)
        in_features = self.backbone.fc.in_features  # 512
        head: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        self.backbone.fc = nn.Sequential(*head, nn.Linear(in_features, num_classes))
        self.pretrained = pretrained
        self.frozen = False
        self.gradcam_layer = "backbone.layer4"
        set_backbone_frozen(self, freeze_backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)  # (B, num_classes)

    def train(self, mode: bool = True) -> ResNet18Transfer:
        super().train(mode)
        if self.frozen:
            for name, module in self.backbone.named_children():
                if name != "fc":
                    module.eval()
        return self


def set_backbone_frozen(model: ResNet18Transfer, frozen: bool) -> None:
    """Freeze (head only learns) or unfreeze (fine-tune everything) the ResNet backbone."""
    for name, param in model.backbone.named_parameters():
        param.requires_grad = (not frozen) or name.startswith("fc.")
    model.frozen = frozen
    model.train(model.training)


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameters that receive gradients."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def weights_path() -> Path:
    """Where torch's cache keeps the ResNet-18 ImageNet weights ($TORCH_HOME/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE


def resnet18_weights_cached() -> bool:
    """True when the ImageNet weights are already in torch's cache (no download needed)."""
    return weights_path().is_file()


def fetch_resnet18_weights(progress: Progress | None = None, *, url: str = RESNET18_URL,
                           timeout: float = 20.0) -> Path:
    """Return the cached weights file, downloading it first (with progress) if needed."""
    dest = weights_path()
    if dest.is_file():
        if progress:
            progress(1.0, "ResNet-18 ImageNet weights found in torch's cache")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".resnet18-", suffix=".part")
    try:
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
    except (urllib.error.URLError, OSError, TimeoutError, RuntimeError, EOFError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"The ResNet-18 ImageNet weights are not in torch's cache ({dest}) and could not be "
            f"downloaded ({exc}). Connect to the internet once and run "
            "`python -m explainers.pets download resnet18`, or copy "
            f"{RESNET18_FILE} into {dest.parent}. Training from scratch works offline."
        ) from exc
    return dest


def build_catsdogs_cnn(channels: int, image_size: int, num_classes: int, dropout: float) -> nn.Module:
    """ModelSpec.build for the tutorial CNN."""
    return CatsDogsCNN(channels, image_size, num_classes, dropout)


def build_resnet18_transfer(channels: int, image_size: int, num_classes: int, dropout: float, *,
                            pretrained: bool = True, freeze_backbone: bool = False,
                            progress: Progress | None = None) -> nn.Module:
    """ModelSpec.build for ResNet-18 transfer learning (3-channel images only)."""
    if channels != 3:
        raise ValueError("ResNet-18 expects colour (3-channel) images")
    return ResNet18Transfer(num_classes, pretrained=pretrained, freeze_backbone=freeze_backbone,
                            progress=progress, dropout=dropout)


def supports_catsdogs_cnn(channels: int, image_size: int) -> bool:
    return image_size >= 16 and image_size % 16 == 0


def supports_resnet18(channels: int, image_size: int) -> bool:
    return channels == 3 and image_size >= 32
