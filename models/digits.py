"""The tutorial networks and the recommended fast CNN, for any (C, S, S) input and K classes."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """The tutorial MLP: (B, C, S, S) -> flatten -> 64 -> 64 -> 64 -> (B, K); 784-64-64-64-10 on MNIST."""

    def __init__(self, channels: int = 1, image_size: int = 28, num_classes: int = 10, dropout: float = 0.0) -> None:
        super().__init__()
        d = channels * image_size * image_size
        self.fc1 = nn.Linear(d, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 64)
        self.fc4 = nn.Linear(64, num_classes)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, C*S*S)
        x = self.drop(self.relu(self.fc1(x)))  # (B, 64)
        x = self.drop(self.relu(self.fc2(x)))  # (B, 64)
        x = self.drop(self.relu(self.fc3(x)))  # (B, 64)
        return self.fc4(x)  # (B, K) logits


def _small_cnn_side(s: int) -> int:
    return ((s - 4) // 2 - 4) // 2


class SmallCNN(nn.Module):
    """The tutorial small CNN: conv 6 (k5) -> pool -> conv 12 (k5) -> pool -> FC 192-120-60-K on 28x28."""

    def __init__(self, channels: int = 1, image_size: int = 28, num_classes: int = 10, dropout: float = 0.0) -> None:
        super().__init__()
        side = _small_cnn_side(image_size)
        self.conv1 = nn.Conv2d(channels, 6, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 12, kernel_size=5)
        self.fc1 = nn.Linear(12 * side * side, 120)
        self.fc2 = nn.Linear(120, 60)
        self.out = nn.Linear(60, num_classes)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))  # (B, 6, 12, 12) on 28x28
        x = self.pool(self.relu(self.conv2(x)))  # (B, 12, 4, 4)
        x = x.flatten(1)  # (B, 192)
        x = self.relu(self.fc1(x))  # (B, 120)
        x = self.relu(self.fc2(x))  # (B, 60)
        return self.out(x)  # (B, K) logits


class BNConvNet(nn.Module):
    """BN + Dropout ConvNet: conv 32, 32, pool, 64, 64, pool; FC 3136-512-512-K on 28x28."""

    def __init__(self, channels: int = 1, image_size: int = 28, num_classes: int = 10, dropout: float = 0.25) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(channels, 32), *block(32, 32), nn.MaxPool2d(2),  # (B, 32, 14, 14)
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2),  # (B, 64, 7, 7)
        )
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, 3136)
            nn.Dropout(dropout),
            nn.Linear(64 * side * side, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(dropout),  # (B, 512)
            nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(dropout),  # (B, 512)
            nn.Linear(512, num_classes),  # (B, K) logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class FastCNN(nn.Module):
    """Recommended: three cheap conv-BN-ReLU-pool blocks (16, 32, 64) -> 3x3 pool -> FC K; ~99% on MNIST in 2 epochs."""

    def __init__(self, channels: int = 1, image_size: int = 28, num_classes: int = 10, dropout: float = 0.1) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(channels, 16), nn.MaxPool2d(2),  # (B, 16, 14, 14) on 28x28
            *block(16, 32), nn.MaxPool2d(2),  # (B, 32, 7, 7)
            *block(32, 64),  # (B, 64, 7, 7)
            nn.AdaptiveMaxPool2d(3),  # (B, 64, 3, 3) whatever the input size
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, 576)
            nn.Dropout(dropout),
            nn.Linear(64 * 9, num_classes),  # (B, K) logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
