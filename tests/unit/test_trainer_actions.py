"""explainers.training.actions, the Trainer page's torch work: each wrapper against the torch op it wraps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explainers.training import (
    TrainConfig,
    actions,
    augment,
    evaluate,
    feature_maps,
    save_weights,
)
from explainers.training.data import ImageDataset
from explainers.training.gradcam import grad_cam
from models import build_model
from models.catsdogs import CatsDogsCNN


def _dataset(channels: int, size: int, classes: tuple[str, ...], n: int = 24, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (2 * n, channels, size, size), dtype=torch.uint8, generator=g)
    y = torch.arange(2 * n) % len(classes)
    return ImageDataset("tiny", classes, x[:n], y[:n], x[n:], y[n:], True, (0.3,) * channels, (0.2,) * channels)


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return _dataset(1, 28, tuple(str(i) for i in range(10)))


@pytest.fixture(scope="module")
def pets() -> ImageDataset:
    return _dataset(3, 32, ("cat", "dog"), n=8)


def _oracle_probs(model: nn.Module, ds: ImageDataset, x_uint8: torch.Tensor) -> np.ndarray:
    mean = torch.tensor(ds.mean).view(1, -1, 1, 1)
    std = torch.tensor(ds.std).view(1, -1, 1, 1)
    with torch.no_grad():
        return F.softmax(model.eval()((x_uint8.float() / 255 - mean) / std), 1).numpy()


@pytest.mark.parametrize("name", ["mlp", "fast_cnn"])
def test_predict_is_softmax_in_eval_mode_and_restores_the_mode(digits, name):
    torch.manual_seed(0)
    model = build_model(name, 1, 28, 10, 0.5).train()
    img = actions.images(digits, [3])[0]  # (1, 28, 28) uint8
    probs = actions.predict(model, digits, img)
    assert model.training  # put back as found
    np.testing.assert_allclose(probs, _oracle_probs(model, digits, digits.test_x[3:4])[0], rtol=1e-5, atol=1e-7)
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_pictures_labels_and_sizes_are_the_datasets_own(digits):
    np.testing.assert_array_equal(actions.images(digits), digits.test_x.numpy())
    np.testing.assert_array_equal(actions.images(digits, [5, 1], split="train"), digits.train_x[[5, 1]].numpy())
    np.testing.assert_array_equal(actions.labels(digits, [2, 7]), digits.test_y[[2, 7]].numpy())
    assert actions.split_size(digits) == len(digits.test_y) and actions.split_size(digits, "train") == 24


def test_conv_filters_and_feature_maps_follow_the_model(digits):
    torch.manual_seed(1)
    model = build_model("fast_cnn", 1, 28, 10)
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    filters = actions.conv_filters(model)
    assert list(filters) == [n for n, _ in convs]
    for n, m in convs:
        np.testing.assert_array_equal(filters[n], m.weight.detach().numpy())
    assert actions.conv_filters(build_model("mlp", 1, 28, 10)) == {}
    img = actions.images(digits, [0])[0]
    maps = actions.feature_maps(model, digits, img)
    expected = feature_maps(model, digits.test_x[0], digits)
    assert [n for n, _ in maps] == [n for n, _ in expected] and maps
    for (_, a), (_, b) in zip(maps, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # the first conv's maps are that conv applied to the normalised picture
    first = convs[0][1]
    x = (digits.test_x[:1].float() / 255 - 0.3) / 0.2
    with torch.no_grad():
        np.testing.assert_allclose(maps[0][1], first(x)[0].numpy(), rtol=1e-4, atol=1e-5)


def test_model_card_counts_the_parameters_torch_counts():
    card = actions.model_card("fast_cnn", 1, 28, 10)
    model = build_model("fast_cnn", 1, 28, 10)
    assert card.parameters == sum(p.numel() for p in model.parameters())
    assert sum(r.parameters for r in card.rows) == card.parameters
    assert card.rows[-1].output_shape == "10" and card.mult_adds > 0


def test_uploaded_weights_load_and_evaluate_like_the_original(digits):
    torch.manual_seed(2)
    config = TrainConfig(dataset="tiny", model="fast_cnn", dropout=0.1)
    original = build_model("fast_cnn", 1, 28, 10, 0.1)
    model, result = actions.load_uploaded_weights(config, digits, save_weights(original))
    for a, b in zip(model.state_dict().values(), original.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert result.test_accuracy == pytest.approx(evaluate(original, digits).test_accuracy)
    np.testing.assert_allclose(result.probabilities, _oracle_probs(original, digits, digits.test_x), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match="not a PyTorch weights file"):
        actions.load_uploaded_weights(config, digits, b"not a checkpoint")
    with pytest.raises(ValueError, match="do not fit the chosen model"):
        actions.load_uploaded_weights(TrainConfig(dataset="tiny", model="mlp"), digits, save_weights(original))


def test_grad_cam_wrappers_match_grad_cam_on_normalised_pictures(pets):
    torch.manual_seed(3)
    model = CatsDogsCNN(3, 32, 2, dropout=0.0, widths=(4, 6, 8, 8), hidden=16)
    layers = actions.cam_layers(model)
    assert layers[0] == model.gradcam_layer and set(layers[1:]) == {"features.0", "features.3", "features.6",
                                                                    "features.9"}
    picks = [4, 0, 6]
    res = actions.grad_cam_test(model, pets, picks, "features.6")
    oracle = grad_cam(model, pets.normalize(pets.test_x[picks]), "features.6")
    np.testing.assert_allclose(res.heatmaps, oracle.heatmaps, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(res.target_classes, oracle.target_classes)
    photo = pets.test_x[2].permute(1, 2, 0).numpy()  # (S, S, 3), as a decoded photo
    one = actions.grad_cam_picture(model, pets, photo, None)
    np.testing.assert_allclose(one.heatmaps[0], grad_cam(model, pets.normalize(pets.test_x[2:3])).heatmaps[0],
                               rtol=1e-5, atol=1e-6)
    assert one.layer == model.gradcam_layer


def test_augment_preview_starts_with_the_picture(pets):
    versions = actions.augment_preview(pets, 1, ("flip", "jitter"), n=6, seed=4)
    assert versions.shape == (6, 32, 32, 3) and versions.dtype == np.uint8
    np.testing.assert_array_equal(versions[0], pets.train_x[1].permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(
        versions, augment.preview(pets.train_x[1], augment.config_from_names(("flip", "jitter")), n=6, seed=4))
    assert actions.describe_augmentations(()) == "none"
    assert actions.describe_augmentations(("flip", "crop")) == "flip + crop"


def test_race_configs_change_only_the_model_and_its_dropout():
    config = TrainConfig(dataset="synthetic-pets", model="catsdogs_cnn", lr=3e-3, epochs=4, augmentations=("flip",),
                         augment=True, subset=200)
    scratch, transfer = actions.race_configs(config)
    assert (scratch.model, scratch.dropout) == ("catsdogs_cnn", 0.5)
    assert (transfer.model, transfer.dropout) == ("resnet18_frozen", 0.0)
    assert actions.race_configs(TrainConfig(model="resnet18_transfer"))[1].model == "resnet18_transfer"
    for c in (scratch, transfer):
        assert (c.lr, c.epochs, c.augmentations, c.augment, c.subset, c.dataset) == (3e-3, 4, ("flip",), True, 200,
                                                                                    "synthetic-pets")
