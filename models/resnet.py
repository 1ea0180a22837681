"""ResNet-18 transfer learning as an nn.Module (imports torch). It never downloads or reads files:
the builder in models/registry.py hands it the ImageNet state dict (or says why there is none)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from models.pretrained import WeightsUnavailable


class ResNet18Transfer(nn.Module):
    """torchvision ResNet-18 with its 1000-way head replaced by ``num_classes`` outputs.

    (B, 3, S, S) normalised with IMAGENET_MEAN/STD -> (B, num_classes). ``backbone_state`` is the
    ImageNet state dict (None: random weights). ``weights_missing`` says why training cannot start
    without them ("" when ready): the architecture alone still serves a model card or evaluation.
    With the backbone frozen only ``backbone.fc`` learns, and the backbone's batch-norm layers stay
    in eval mode so their ImageNet statistics are not overwritten by a few cat photos.
    """

    def __init__(self, num_classes: int = 2, *, backbone_state: Mapping[str, torch.Tensor] | None = None,
                 weights_missing: str = "", freeze_backbone: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        from torchvision.models import resnet18

        self.backbone = resnet18(weights=None)
        if backbone_state is not None:
            self.backbone.load_state_dict(backbone_state)
        self.weights_missing = weights_missing
        in_features = self.backbone.fc.in_features  # 512
        head: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        self.backbone.fc = nn.Sequential(*head, nn.Linear(in_features, num_classes))
        self.pretrained = backbone_state is not None
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
