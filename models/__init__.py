"""Networks and their menu. torch is imported lazily: importing this package is cheap.

``MODELS[name]`` is a ``ModelSpec`` whose ``build(channels, image_size, num_classes, dropout)``
returns a fresh ``nn.Module`` producing logits (B, K); ``dropout=None`` means the model's own
default. ``model_card(model, input_shape)`` runs one real forward pass with hooks and returns a
``ModelCard``: iterate it (or use ``.rows``) for ``LayerRow``s; totals are attributes.

Modules: registry (the menu and builders), cards (model cards), pretrained (ImageNet statistics and
where the ResNet-18 weights live), and the nets, which import nothing from this package's top:
digits (MLP, SmallCNN, BNConvNet, FastCNN), catsdogs (CatsDogsCNN), resnet (ResNet18Transfer).
"""

from models.cards import LayerRow, ModelCard, model_card
from models.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESNET18_FILE,
    RESNET18_URL,
    WeightsUnavailable,
    resnet18_weights_cached,
    weights_path,
)
from models.registry import (
    CATSDOGS_MODELS,
    MODELS,
    ModelSpec,
    build_catsdogs_cnn,
    build_model,
    build_resnet18_transfer,
    supports_catsdogs_cnn,
    supports_resnet18,
)

__all__ = [
    "CATSDOGS_MODELS", "IMAGENET_MEAN", "IMAGENET_STD", "MODELS", "RESNET18_FILE", "RESNET18_URL", "LayerRow",
    "ModelCard", "ModelSpec", "WeightsUnavailable", "build_catsdogs_cnn", "build_model", "build_resnet18_transfer",
    "model_card", "resnet18_weights_cached", "supports_catsdogs_cnn", "supports_resnet18", "weights_path",
]
