"""The model menu: ``MODELS[name]`` is a ``ModelSpec``; ``build_model`` builds a fresh nn.Module (logits (B, K)).

A static table: nothing registers models at run time. torch is imported lazily by the builders, so
importing this module is cheap (pages read the menu without torch).

- ``catsdogs_cnn``: the tutorial CNN (four conv+ReLU+max-pool units, then FC), trained from scratch.
- ``resnet18_transfer``: torchvision ResNet-18 with ImageNet weights, new 2-way head, everything fine-tuned.
- ``resnet18_frozen``: the same with the backbone frozen (only the head learns): the page's
  "freeze backbone" toggle picks between these two names, so TrainConfig needs no extra field.
Builds never download (they run on every rerun, e.g. for the model card): without the ImageNet weights
in torch's cache a ResNet is built with ``weights_missing`` set and refuses to train; fetch them first
with ``explainers.training.data.fetch_resnet18_weights`` (the page has a button, the CLI a command).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model and what it is for."""

    name: str
    label: str
    build: Callable[[int, int, int, float | None], nn.Module]  # (channels, image_size, num_classes, dropout)
    has_dropout: bool
    description: str
    supports: Callable[[int, int], bool] = field(default=lambda channels, image_size: True)  # (channels, image_size)
    default_dropout: float = 0.0
    recommended: bool = False


def _digits_builder(cls_name: str, default_dropout: float) -> Callable[[int, int, int, float | None], nn.Module]:
    def build(channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
        from models import digits

        cls = getattr(digits, cls_name)
        return cls(channels, image_size, num_classes, default_dropout if dropout is None else float(dropout))

    return build


def build_catsdogs_cnn(channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
    """ModelSpec.build for the tutorial CNN (dropout None -> 0.5, the tutorial's value)."""
    from models.catsdogs import CatsDogsCNN

    return CatsDogsCNN(channels, image_size, num_classes, 0.5 if dropout is None else float(dropout))


def build_resnet18_transfer(channels: int, image_size: int, num_classes: int, dropout: float | None = None, *,
                            weights: Path | str | Mapping[str, torch.Tensor] | None = None, pretrained: bool = True,
                            freeze_backbone: bool = False) -> nn.Module:
    """ModelSpec.build for ResNet-18 transfer learning (3-channel images only).

    ``weights``: the ImageNet state dict or a file holding it; None reads torch's cache when the file
    is there. Without weights (and ``pretrained``) the model says why in ``weights_missing``."""
    from models.pretrained import missing_weights_message, weights_path
    from models.resnet import ResNet18Transfer

    if channels != 3:
        raise ValueError("ResNet-18 expects colour (3-channel) images")
    state, missing = None, ""
    if pretrained:
        state, missing = _imagenet_state(weights if weights is not None else weights_path(), missing_weights_message)
    return ResNet18Transfer(num_classes, backbone_state=state, weights_missing=missing,
                            freeze_backbone=freeze_backbone, dropout=float(dropout or 0.0))


def _imagenet_state(weights: Path | str | Mapping, message: Callable[[Path], str]) -> tuple[Mapping | None, str]:
    """A state dict or a file -> (state dict or None, why it is missing or "")."""
    import torch

    if isinstance(weights, Mapping):
        return weights, ""
    path = Path(weights)
    if not path.is_file():
        return None, message(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True), ""
    except (OSError, RuntimeError, EOFError, ValueError) as exc:  # a damaged file: say so, train nothing
        return None, f"The ResNet-18 weights file {path} could not be read ({exc}). Delete it and download again."


def supports_catsdogs_cnn(channels: int, image_size: int) -> bool:
    """Four 2x2 poolings need a side that is a multiple of 16."""
    return image_size >= 16 and image_size % 16 == 0


def supports_resnet18(channels: int, image_size: int) -> bool:
    """ImageNet weights take colour pictures of at least 32 px."""
    return channels == 3 and image_size >= 32


def _resnet(freeze_backbone: bool) -> Callable[[int, int, int, float | None], nn.Module]:
    def build(channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
        # looked up at call time, so a test can swap in a builder without ImageNet weights
        return build_resnet18_transfer(channels, image_size, num_classes, dropout, freeze_backbone=freeze_backbone)

    return build


CATSDOGS_MODELS = ("catsdogs_cnn", "resnet18_transfer", "resnet18_frozen")  # menu order

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(
        "mlp", "MLP 784-64-64-64-10", _digits_builder("MLP", 0.0), True,
        "Three hidden layers of 64 fully connected neurons; sees pixels, not shapes.",
        lambda c, s: c * s * s <= 3 * 64 * 64,
    ),
    ModelSpec(
        "small_cnn", "Small CNN (LeNet-style)", _digits_builder("SmallCNN", 0.0), False,
        "conv 6 (5x5) -> pool -> conv 12 (5x5) -> pool -> FC 120 -> 60: the classic tutorial CNN.",
        lambda c, s: 16 <= s <= 64,
    ),
    ModelSpec(
        "bn_convnet", "BN + Dropout ConvNet", _digits_builder("BNConvNet", 0.25), True,
        "conv 32, 32, pool, 64, 64, pool with BatchNorm, then FC 512-512 with dropout; big and slow on a CPU.",
        lambda c, s: 8 <= s <= 64, default_dropout=0.25,
    ),
    ModelSpec(
        "fast_cnn", "Fast CNN", _digits_builder("FastCNN", 0.1), True,  # recommended: said under the box
        "Three small conv-BN-ReLU blocks (16, 32, 64 filters): about 99% on MNIST in two CPU epochs.",
        lambda c, s: s >= 8, default_dropout=0.1, recommended=True,
    ),
    ModelSpec(
        "catsdogs_cnn", "Cats-vs-dogs CNN (from scratch)", build_catsdogs_cnn, True,
        "The tutorial's network: four conv 3x3 + ReLU + max-pool units (32, 64, 128, 128 filters), "
        "then dropout and FC 512 -> 2. Learns everything from your pictures.",
        supports_catsdogs_cnn, default_dropout=0.5,
    ),
    ModelSpec(
        "resnet18_transfer", "ResNet-18 transfer (fine-tune all)", _resnet(False), False,
        "ResNet-18 pre-trained on ImageNet (1.2 million photos), its last layer replaced by 2 outputs; "
        "every layer keeps learning. Needs the 45 MB weights once.",
        supports_resnet18,
    ),
    ModelSpec(
        "resnet18_frozen", "ResNet-18 transfer (frozen backbone)", _resnet(True), False,
        "ResNet-18 pre-trained on ImageNet with the backbone frozen: only the new 2-way head learns "
        "(1,026 parameters), so it is fast and needs few pictures.",
        supports_resnet18,
    ),
)}


def build_model(name: str, channels: int, image_size: int, num_classes: int, dropout: float | None = None) -> nn.Module:
    """Build MODELS[name] for (channels, image_size, image_size) inputs -> logits (B, num_classes);
    ValueError when the model does not support them."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    spec = MODELS[name]
    if not spec.supports(channels, image_size):
        raise ValueError(f"{spec.label} does not support {channels}-channel {image_size}x{image_size} images")
    return spec.build(channels, image_size, num_classes, dropout)
