"""The torch side of the "A whole CNN" page: train the small CNN of ``explainers.cnn.ARCH`` and read its layers.

    trained = train_cnn("synthetic-digits", seed=0)       # a few seconds on two CPU cores
    layers = run_layers(trained.model, trained.test_images[0])   # one LayerActivation per layer, numpy

Every activation, weight and bias leaves this module as a read-only numpy array, so the maths
(``explainers.cnn``), the figures and the page never touch torch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers.cnn import ARCH, INPUT_SHAPE, LayerSpec, layer_shapes

if TYPE_CHECKING:
    import torch

N_TRAIN = 12000  # training digits used: enough for ~95% on synthetic digits, a few seconds on 2 cores
EPOCHS = 2
BATCH = 128
LR = 5e-3  # Adam; a tiny net on a small budget wants a brisk learning rate (12000 x 2 -> ~94% on synthetic digits)
N_TEST_IMAGES = 1000  # test digits offered to the learner (and scored)


@dataclass(frozen=True)
class LayerActivation:
    """One layer's output for one image, with the layer's weights where it has any (all numpy, read-only)."""

    name: str  # "conv1", as in explainers.cnn.ARCH and the torch module
    kind: str  # "input", "conv", "relu", "maxpool", "flatten", "linear" or "softmax"
    shape: tuple[int, ...]  # (C, H, W) or (N,)
    activation: np.ndarray  # float32, shape ``shape``
    weight: np.ndarray | None  # conv (O, C, k, k); linear (M, N); else None
    bias: np.ndarray | None  # (O,) or (M,); else None
    params: int  # learnable numbers in this layer (sum of numel over its parameters)


@dataclass(frozen=True)
class TrainedCNN:
    """A trained, frozen small CNN and the test digits it is shown on (read-only: safe to share)."""

    model: Any  # torch.nn.Sequential in eval mode, requires_grad off
    dataset: str  # dataset key it was trained on
    seed: int
    seconds: float  # wall time of training
    n_train: int
    epochs: int
    test_accuracy: float  # on the N_TEST_IMAGES test digits below
    test_images: np.ndarray  # (N, 28, 28) float32 in [0, 1], read-only
    test_labels: np.ndarray  # (N,) int64, read-only
    classes: tuple[str, ...]


def _frozen(a: Any) -> np.ndarray:
    arr = np.array(a, dtype=np.float32) if not isinstance(a, np.ndarray) else a.copy()
    arr.setflags(write=False)
    return arr


def build_cnn(seed: int = 0, arch: tuple[LayerSpec, ...] = ARCH) -> torch.nn.Sequential:
    """A fresh, seeded nn.Sequential whose children are named like ``arch`` (softmax stays outside: logits out)."""
    import torch
    from torch import nn

    shapes = layer_shapes(arch, INPUT_SHAPE)
    model = nn.Sequential()
    prev = INPUT_SHAPE
    for spec, shape in zip(arch, shapes):
        if spec.kind == "conv":
            module: nn.Module = nn.Conv2d(prev[0], spec.out_channels, spec.kernel, spec.stride, spec.padding)
        elif spec.kind == "relu":
            module = nn.ReLU()
        elif spec.kind == "maxpool":
            module = nn.MaxPool2d(spec.kernel, spec.stride, spec.padding)
        elif spec.kind == "flatten":
            module = nn.Flatten()
        elif spec.kind == "linear":
            module = nn.Linear(int(np.prod(prev)), spec.out_channels)
        else:  # input and softmax are not modules: the data, and CrossEntropyLoss's own softmax
            prev = shape
            continue
        model.add_module(spec.name, module)
        prev = shape
    # PyTorch's default init, drawn from a private generator: the same seed gives the same
    # network whatever else in this process (another page, a Trainer run) draws random numbers.
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            bound = 1 / math.sqrt(m.weight[0].numel())
            nn.init.uniform_(m.bias, -bound, bound, generator=gen)
    return model


def _digits(dataset: str):
    """The dataset as an ImageDataset (synthetic digits are drawn offline; MNIST only when on disk)."""
    from explainers.training.data import load_dataset

    return load_dataset(dataset, download=False)


DIGIT_SETS = {"synthetic-digits": "Synthetic digits", "mnist": "MNIST"}


def digit_datasets() -> dict[str, str]:
    """The digit sets this CNN can be trained on here without a download: key -> label (synthetic always)."""
    from explainers.training.data import is_available

    return {k: v for k, v in DIGIT_SETS.items() if k == "synthetic-digits" or is_available(k)}


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the count.

    The tensors here are tiny, and on a busy two-core machine handing each op to two threads measured 5-10x
    slower than one (training), and put a digit's forward pass in 13% of a server profile of the CNN page
    (against 1.5 ms alone). OpenMP keeps this setting per thread, so other sessions' threads are untouched;
    it only changes speed, never results.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_cnn(dataset: str = "synthetic-digits", seed: int = 0, *, n_train: int = N_TRAIN, epochs: int = EPOCHS,
              n_test: int = N_TEST_IMAGES) -> TrainedCNN:
    """Train the small CNN on ``n_train`` digits for ``epochs`` epochs (Adam, CPU) -> a frozen TrainedCNN."""
    import torch

    ds = _digits(dataset)
    if ds.channels != 1 or ds.image_size != INPUT_SHAPE[1]:
        raise ValueError(f"{dataset} has {ds.channels}×{ds.image_size}×{ds.image_size} images; "
                         f"this CNN reads 1×{INPUT_SHAPE[1]}×{INPUT_SHAPE[2]} digits.")
    start = time.perf_counter()
    with one_thread():
        model, n_seen = _fit(ds, seed, n_train, epochs)
    test_x = ds.test_x[:n_test].float() / 255.0  # (n_test, 1, 28, 28)
    test_y = ds.test_y[:n_test]
    with torch.no_grad():
        accuracy = float((model(test_x).argmax(1) == test_y).float().mean())
    seconds = time.perf_counter() - start
    labels = test_y.numpy().copy()
    labels.setflags(write=False)
    return TrainedCNN(model, dataset, seed, seconds, n_seen, epochs, accuracy, _frozen(test_x[:, 0].numpy()),
                      labels, tuple(ds.classes))


def _fit(ds, seed: int, n_train: int, epochs: int) -> tuple[torch.nn.Sequential, int]:
    """The training loop: Adam on cross-entropy over a seeded random subset; returns the frozen model."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)
    model = build_cnn(seed)
    pick = torch.randperm(len(ds.train_y), generator=gen)[:n_train]
    x = ds.train_x[pick].float() / 255.0  # (N, 1, 28, 28); pixels in [0, 1] so the page's numbers are pixels
    y = ds.train_y[pick]
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), BATCH):
            idx = order[i:i + BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # frozen: the shared model is read-only from here on
    return model, len(y)


def run_layers(model: torch.nn.Sequential, image: np.ndarray, arch: tuple[LayerSpec, ...] = ARCH
               ) -> tuple[LayerActivation, ...]:
    """image (28, 28) in [0, 1] -> one LayerActivation per layer of ``arch``, input first, softmax last."""
    import torch

    image = np.asarray(image, dtype=np.float32)
    if image.shape != INPUT_SHAPE[1:]:
        raise ValueError(f"the CNN reads a {INPUT_SHAPE[1]}×{INPUT_SHAPE[2]} image, not {image.shape}.")
    children = dict(model.named_children())
    out = []
    x = torch.from_numpy(image.copy())[None, None]  # (1, 1, 28, 28)
    with torch.no_grad(), one_thread():
        for spec in arch:
            module = children.get(spec.name)
            weight = bias = None
            params = 0
            if spec.kind == "softmax":
                x = torch.softmax(x, dim=1)
            elif module is not None:
                x = module(x)
                params = sum(p.numel() for p in module.parameters())
                if getattr(module, "weight", None) is not None:
                    weight, bias = _frozen(module.weight.numpy()), _frozen(module.bias.numpy())
            act = _frozen(x[0].numpy())
            out.append(LayerActivation(spec.name, spec.kind, tuple(act.shape), act, weight, bias, params))
    return tuple(out)


def predict(model: torch.nn.Sequential, images: np.ndarray) -> np.ndarray:
    """images (N, 28, 28) in [0, 1] -> class probabilities (N, 10)."""
    import torch

    with torch.no_grad(), one_thread():
        x = torch.from_numpy(np.asarray(images, dtype=np.float32).copy())[:, None]  # (N, 1, 28, 28)
        return torch.softmax(model(x), dim=1).numpy()
