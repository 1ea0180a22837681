"""Cats-vs-dogs models: shapes, parameter counts, the ResNet head swap and backbone freezing (no downloads)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

import models.registry as cd
import models.resnet as nets
from explainers.training.data import weights
from models.catsdogs import CatsDogsCNN


@pytest.mark.parametrize("size", [32, 64, 96, 128])
def test_tutorial_cnn_shapes_and_parameter_count(size):
    model = CatsDogsCNN(3, size, 2, dropout=0.5)
    out = model(torch.zeros(2, 3, size, size))
    assert out.shape == (2, 2)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(convs) == 4 and len(pools) == 4
    side = size // 16
    expected = sum((ci * 9 + 1) * co for ci, co in [(3, 32), (32, 64), (64, 128), (128, 128)])
    expected += (128 * side * side + 1) * 512 + (512 + 1) * 2
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.gradcam_layer in dict(model.named_modules())


def test_tutorial_cnn_refuses_sizes_it_cannot_pool():
    with pytest.raises(ValueError, match="multiple of 16"):
        CatsDogsCNN(3, 50)
    assert cd.supports_catsdogs_cnn(3, 64) and not cd.supports_catsdogs_cnn(3, 28)


def test_resnet_head_swap_and_shapes():
    model = cd.build_resnet18_transfer(3, 64, 2, 0.0, pretrained=False)
    assert isinstance(model, nets.ResNet18Transfer)
    head = model.backbone.fc
    linear = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert len(linear) == 1 and linear[0].in_features == 512 and linear[0].out_features == 2
    for size in (32, 64, 96):
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 2)
    # The backbone is torchvision's ResNet-18 minus its 1000-way head.
    reference = resnet18(weights=None)
    n_ref = sum(p.numel() for p in reference.parameters()) - (512 * 1000 + 1000)
    assert sum(p.numel() for p in model.parameters()) == n_ref + 512 * 2 + 2


def test_freezing_leaves_only_the_head_with_gradients():
    model = cd.build_resnet18_transfer(3, 32, 2, 0.0, pretrained=False, freeze_backbone=True)
    model.train()
    x = torch.randn(4, 3, 32, 32)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {"backbone.fc.0.weight", "backbone.fc.0.bias"}
    assert nets.trainable_parameters(model) == 512 * 2 + 2
    # Frozen batch-norm layers keep their statistics: the backbone stays in eval mode while training.
    assert not model.backbone.bn1.training and model.backbone.fc.training
    before = model.backbone.bn1.running_mean.clone()
    model(torch.randn(4, 3, 32, 32) * 5 + 3)
    torch.testing.assert_close(model.backbone.bn1.running_mean, before)


def test_unfreezing_fine_tunes_everything():
    model = cd.build_resnet18_transfer(3, 32, 2, 0.0, pretrained=False, freeze_backbone=True)
    nets.set_backbone_frozen(model, False)
    model.train()
    nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.backbone.bn1.training
    assert nets.trainable_parameters(model) == sum(p.numel() for p in model.parameters())


def test_resnet_needs_colour_images():
    with pytest.raises(ValueError, match="3-channel"):
        cd.build_resnet18_transfer(1, 64, 2, 0.0, pretrained=False)
    assert cd.supports_resnet18(3, 64) and not cd.supports_resnet18(1, 64) and not cd.supports_resnet18(3, 16)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A private, empty torch hub cache for one test; the real one is restored afterwards."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    return tmp_path


def test_pretrained_weights_load_from_torch_cache(hub):
    """A weights file in torch's cache is used as is: no network needed."""
    source = resnet18(weights=None)
    path = weights.weights_path()
    path.parent.mkdir(parents=True)
    torch.save(source.state_dict(), path)
    assert weights.resnet18_weights_cached()
    calls = []
    found = weights.fetch_resnet18_weights(lambda f, m: calls.append((f, m)))
    assert found == path and calls and calls[-1][0] == 1.0
    for model in (cd.build_resnet18_transfer(3, 32, 2),  # torch's cache by default
                  cd.build_resnet18_transfer(3, 32, 2, weights=found),  # a path
                  nets.ResNet18Transfer(2, backbone_state=source.state_dict())):  # a state dict
        torch.testing.assert_close(model.backbone.conv1.weight, source.conv1.weight)
        assert not model.weights_missing


def test_offline_download_fails_with_a_clear_message_and_leaves_nothing(hub):
    with pytest.raises(weights.WeightsUnavailable, match="could not be downloaded.*from scratch works offline"):
        weights.fetch_resnet18_weights(url="http://127.0.0.1:9/resnet18.pth", timeout=2)
    assert not any((hub / "hub").rglob("*.part")) and not weights.resnet18_weights_cached()


def test_download_reports_progress_and_rejects_truncated_files(hub):
    """Serve the weights from a local file:// URL: full file works, a truncated one is refused."""
    good = hub / "w.pth"
    torch.save(resnet18(weights=None).state_dict(), good)
    bad = hub / "bad.pth"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(weights.WeightsUnavailable):
        weights.fetch_resnet18_weights(url=bad.as_uri())
    assert not weights.resnet18_weights_cached() and not any((hub / "hub").rglob("*.part"))
    seen = []
    path = weights.fetch_resnet18_weights(lambda f, m: seen.append(f), url=good.as_uri())
    assert path.is_file() and seen and seen[-1] == 1.0


def test_own_weights_replace_missing_imagenet_weights(hub):
    model = cd.build_resnet18_transfer(3, 32, 2, 0.0)  # nothing cached: the architecture only
    assert model.weights_missing
    model.eval()
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 2)  # evaluation works
    model.train()
    with pytest.raises(weights.WeightsUnavailable):
        model(torch.zeros(2, 3, 32, 32))
    model.load_state_dict(nets.ResNet18Transfer(2).state_dict())
    assert not model.weights_missing and model(torch.zeros(2, 3, 32, 32)).shape == (2, 2)
