"""The cats-vs-dogs nn.Modules: the tutorial CNN and ResNet-18 transfer learning (imports torch).

models/catsdogs.py registers them in MODELS without importing torch; see its docstring.
"""

from __future__ import annotations

import torch
from torch import nn

from models.catsdogs import Progress, WeightsUnavailable, fetch_resnet18_weights


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
                 progress: Progress | None = None, dropout: float = 0.0, download: bool = True) -> None:
        super().__init__()
        from torchvision.models import resnet18

        self.backbone = resnet18(weights=None)
        # Why training cannot start yet (weights not downloaded); "" when ready. The architecture alone
        # is still usable, e.g. for a model card, so a missing file only stops a training forward pass.
        self.weights_missing = ""
        if pretrained:
            try:
                path = fetch_resnet18_weights(progress, download=download)
                state = torch.load(path, map_location="cpu", weights_only=True)
                self.backbone.load_state_dict(state)
            except WeightsUnavailable as exc:
                if download:
                    raise
                self.weights_missing = str(exc)
        in_features = self.backbone.fc.in_features  # 512
        head: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        self.backbone.fc = nn.Sequential(*head, nn.Linear(in_features, num_classes))
        self.pretrained = pretrained
        self.frozen = False
        self.gradcam_layer = "backbone.layer4"
        set_backbone_frozen(self, freeze_backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weights_missing and self.training and torch.is_grad_enabled():
            raise WeightsUnavailable(self.weights_missing)  # transfer learning without ImageNet weights
        return self.backbone(x)  # (B, num_classes)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.weights_missing = ""  # the learner's own trained weights replace ImageNet's
        return out

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
