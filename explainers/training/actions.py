"""Torch work the Trainer page needs, behind plain values: numpy arrays and dataclasses in and out.

The page (pages/trainer.py and pages/widgets/trainer/) imports no torch: it keeps models and
datasets as opaque values and asks this module to look inside them. Every function here is
a thin, tested wrapper over the engine (explainers.training), models and Grad-CAM. Like the
engine, this module imports torch only when a function runs, so the page's first lines draw at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explainers.training import EvalResult, TrainConfig, TrainRun
    from explainers.training.data import ImageDataset
    from explainers.training.gradcam import GradCamResult

    Network: TypeAlias = nn.Module  # what a RunRecord holds: the page only passes it back here

RESNETS = ("resnet18_transfer", "resnet18_frozen")  # the transfer-learning models of the race
SCRATCH = "catsdogs_cnn"  # the race's from-scratch model


# ----------------------------------------------------------------------------- pictures of a dataset


def images(dataset: ImageDataset, indices: Sequence[int] | None = None, *, split: str = "test") -> np.ndarray:
    """The dataset's uint8 pictures (N, C, H, W) as numpy: all of a split, or those at ``indices``."""
    import torch

    x = dataset.test_x if split == "test" else dataset.train_x
    if indices is not None:
        x = x[torch.as_tensor(list(indices), dtype=torch.long)]
    return x.numpy()


def split_size(dataset: ImageDataset, split: str = "test") -> int:
    """Number of pictures in the "train" or "test" split."""
    return len(dataset.test_y if split == "test" else dataset.train_y)


def labels(dataset: ImageDataset, indices: Sequence[int] | None = None) -> np.ndarray:
    """Test labels (N,) int64, all or those at ``indices``."""
    y = dataset.test_y.numpy().astype(np.int64)
    return y if indices is None else y[np.asarray(list(indices), dtype=np.int64)]


def augment_preview(dataset: ImageDataset, index: int, operations: Sequence[str], *, n: int = 8,
                    seed: int = 0) -> np.ndarray:
    """Training picture ``index`` and n - 1 random augmentations of it -> (n, H, W, C) uint8."""
    from explainers.training import augment

    return augment.preview(dataset.train_x[index], augment.config_from_names(tuple(operations)), n=n, seed=seed)


def describe_augmentations(operations: Sequence[str]) -> str:
    """("flip", "crop") -> "flip + crop" ("none" for no operation)."""
    from explainers.training import augment

    return augment.config_from_names(tuple(operations)).describe()


# ----------------------------------------------------------------------------- one model


def _tensor(image_uint8: np.ndarray) -> torch.Tensor:
    """A numpy picture -> a tensor of its own (the page's arrays may be read-only views)."""
    import torch

    return torch.from_numpy(np.array(image_uint8, copy=True))


def predict(model: nn.Module, dataset: ImageDataset, image_uint8: np.ndarray) -> np.ndarray:
    """One uint8 image (C, H, W) -> (K,) class probabilities, in eval mode (the model's mode is restored)."""
    from explainers.training import predict as probabilities

    return probabilities(model, _tensor(image_uint8), dataset)[0]


def conv_filters(model: nn.Module) -> dict[str, np.ndarray]:
    """Every Conv2d's weights, in definition order: {name: (F, C, kh, kw) float32}."""
    from torch import nn

    return {name: m.weight.detach().float().cpu().numpy()
            for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def feature_maps(model: nn.Module, dataset: ImageDataset, image_uint8: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """One uint8 image (C, H, W) -> [(layer, activations (C', H', W'))] for every 2-D layer."""
    from explainers.training import feature_maps as maps

    return maps(model, _tensor(image_uint8), dataset)


@dataclass(frozen=True)
class CardRow:
    """One row of the model card table."""

    layer: str
    type: str
    output_shape: str  # "16 × 14 × 14"
    parameters: int
    mult_adds: int


@dataclass(frozen=True)
class CardTable:
    """A freshly built model's layers with output shapes, and its totals."""

    rows: tuple[CardRow, ...]
    parameters: int
    mult_adds: int


def model_card(model_key: str, channels: int, image_size: int, num_classes: int) -> CardTable:
    """Build ``model_key`` for (channels, size, size) pictures and K classes -> its card from a real forward pass."""
    from models import build_model
    from models import model_card as card_of

    card = card_of(build_model(model_key, channels, image_size, num_classes), (channels, image_size, image_size))
    rows = tuple(CardRow(r.name, r.type, " × ".join(map(str, r.output_shape)), r.parameters, r.mult_adds)
                 for r in card)
    return CardTable(rows, card.total_parameters, card.total_mult_adds)


def load_uploaded_weights(config: TrainConfig, dataset: ImageDataset, data: bytes) -> tuple[nn.Module, EvalResult]:
    """Weights file bytes -> (a model of ``config.model`` holding them, its EvalResult on the test set).

    ValueError (a one-line reason) when the bytes are not weights or do not fit the model.
    """
    from explainers.training import evaluate, load_weights
    from models import build_model

    model = build_model(config.model, dataset.channels, dataset.image_size, dataset.num_classes, config.dropout)
    load_weights(model, data)
    return model, evaluate(model, dataset)


# ----------------------------------------------------------------------------- Grad-CAM


def cam_layers(model: nn.Module) -> list[str]:
    """Grad-CAM layer choices: the default (last conv block) first, then the other conv layers, deepest first."""
    from explainers.training.gradcam import conv_layers, default_layer

    best = default_layer(model)
    return [best] + [n for n in reversed(conv_layers(model)) if n != best]


def _cam(model: nn.Module, dataset: ImageDataset, x_uint8: torch.Tensor, layer: str | None) -> GradCamResult:
    from explainers.training.gradcam import grad_cam

    return grad_cam(model, dataset.normalize(x_uint8.to(next(model.parameters()).device)), layer)


def grad_cam_test(model: nn.Module, dataset: ImageDataset, indices: Sequence[int], layer: str | None) -> GradCamResult:
    """Grad-CAM of test pictures ``indices`` at ``layer`` -> heatmaps (N, H, W), probabilities (N, K), ..."""
    import torch

    return _cam(model, dataset, dataset.test_x[torch.as_tensor(list(indices), dtype=torch.long)], layer)


def grad_cam_picture(model: nn.Module, dataset: ImageDataset, picture: np.ndarray, layer: str | None) -> GradCamResult:
    """Grad-CAM of one (S, S, 3) uint8 picture, prepared like the training pictures -> a result with N = 1."""
    x = _tensor(picture).permute(2, 0, 1)[None]  # (S, S, 3) -> (1, 3, S, S)
    return _cam(model, dataset, x, layer)


# ----------------------------------------------------------------------------- transfer learning and the race


def resnet_weights_ready() -> bool:
    """True when ResNet-18's ImageNet weights are in torch's cache (no download needed)."""
    from explainers.training.data import resnet18_weights_cached

    return resnet18_weights_cached()


def fetch_resnet_weights(progress: Callable[[float, str], None] | None = None) -> None:
    """Download ResNet-18's ImageNet weights into torch's cache; ValueError (WeightsUnavailable) when offline."""
    from explainers.training.data import fetch_resnet18_weights

    fetch_resnet18_weights(progress)


def race_configs(config: TrainConfig) -> tuple[TrainConfig, TrainConfig]:
    """The same settings twice: the tutorial CNN from scratch (dropout 0.5) and ResNet-18 transfer (no dropout)."""
    transfer = config.model if config.model in RESNETS else "resnet18_frozen"
    return replace(config, model=SCRATCH, dropout=0.5), replace(config, model=transfer, dropout=0.0)


def start_race(config: TrainConfig, dataset: ImageDataset, owner: object, session: str | None = None
               ) -> list[TrainRun]:
    """Fetch the ImageNet weights (ValueError when offline), then start both runs of race_configs as one job
    of ``session`` (ServerBusy, a ValueError, when the session has another job or the queue is full)."""
    from explainers.training import TrainRun

    fetch_resnet_weights()
    first, second = race_configs(config)
    a = TrainRun(first, dataset, owner=owner, session=session)
    b = TrainRun(second, dataset, owner=owner, session=session, job=a.job)
    a.start()
    try:
        b.start()
    except ValueError:
        a.stop()  # both or neither
        raise
    return [a, b]
