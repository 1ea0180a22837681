"""Models for the Scaling out lesson: the tutorial's two-device ToyModel and small digit nets.

Kept apart from ``models.MODELS`` on purpose: these are built by the scaling workers only,
with a name from ``SCALING_MODELS``, and every rank builds them from the same seed.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 28  # synthetic digits are 1x28x28
NUM_CLASSES = 10


class ToyModel(nn.Module):
    """The PyTorch model-parallel tutorial's model: net1 on dev0, net2 on dev1; (B, 10) -> (B, 5)."""

    def __init__(self, dev0: str | torch.device = "cpu", dev1: str | torch.device = "cpu") -> None:
        super().__init__()
        self.dev0, self.dev1 = torch.device(dev0), torch.device(dev1)
        self.net1 = nn.Linear(10, 10).to(self.dev0)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5).to(self.dev1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.net1(x.to(self.dev0)))  # (B, 10) on dev0
        return self.net2(x.to(self.dev1))  # (B, 5) on dev1: the activation crossed devices here


def toy_batch(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ToyModel's input and target, like the tutorial's randn(20, 10) and randn(20, 5): (B, 10), (B, 5)."""
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, 10, generator=gen), torch.randn(batch, 5, generator=gen)


def toy_model(seed: int, dev0: str | torch.device = "cpu", dev1: str | torch.device = "cpu") -> ToyModel:
    """A ToyModel whose weights are drawn from ``seed`` (the same on every rank and in the tests)."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return ToyModel(dev0, dev1)
    finally:
        torch.random.set_rng_state(state)


class DigitMLP(nn.Module):
    """A small MNIST MLP: (B, 1, 28, 28) -> flatten -> 784-hidden-hidden-10 logits."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.fc1 = nn.Linear(IMAGE_SIZE * IMAGE_SIZE, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, NUM_CLASSES)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, 784)
        x = self.relu(self.fc1(x))  # (B, hidden)
        x = self.relu(self.fc2(x))  # (B, hidden)
        return self.fc3(x)  # (B, 10)


class DigitCNN(nn.Module):
    """A small MNIST CNN without batch norm (so N ranks x B equals 1 x N*B exactly): conv 8, conv 16, FC 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, NUM_CLASSES)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))  # (B, 8, 14, 14)
        x = self.pool(self.relu(self.conv2(x)))  # (B, 16, 7, 7)
        return self.fc(x.flatten(1))  # (B, 10)


def pipeline_stages(width: int = 512, seed: int | None = None) -> tuple[nn.Sequential, nn.Sequential]:
    """A wide digit MLP cut in two: stage 0 (B, 1, 28, 28) -> (B, width); stage 1 (B, width) -> (B, 10).

    With ``seed`` the weights are drawn from it without touching torch's global random state.
    """
    if seed is not None:
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            return pipeline_stages(width)
        finally:
            torch.random.set_rng_state(state)
    stage0 = nn.Sequential(nn.Flatten(), nn.Linear(IMAGE_SIZE * IMAGE_SIZE, width), nn.ReLU(),
                           nn.Linear(width, width), nn.ReLU())
    stage1 = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, NUM_CLASSES))
    return stage0, stage1


# key -> (label, builder); no BatchNorm or Dropout anywhere: per-rank statistics would break equivalence.
SCALING_MODELS = {
    "mlp": ("MLP 784-64-64-10", DigitMLP),
    "cnn": ("CNN conv8-conv16-FC10", DigitCNN),
}


def build_scaling_model(name: str, seed: int) -> nn.Module:
    """A fresh model from SCALING_MODELS with weights drawn from ``seed`` (same on every rank)."""
    if name not in SCALING_MODELS:
        raise ValueError(f"Unknown model {name!r}; choose one of {', '.join(SCALING_MODELS)}.")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return SCALING_MODELS[name][1]()
    finally:
        torch.random.set_rng_state(gen_state)
