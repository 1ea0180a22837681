"""The tutorial cats-vs-dogs CNN (imports torch; registered in models/registry.py)."""

from __future__ import annotations

import torch
from torch import nn


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
