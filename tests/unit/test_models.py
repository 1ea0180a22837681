"""Models: shapes for many inputs, parameter counts from the layer sizes, model cards against hooks and formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from models import MODELS, ModelSpec, build_model, model_card

DIGIT_MODELS = ("mlp", "small_cnn", "bn_convnet", "fast_cnn")


def linear(i: int, o: int) -> int:
    return i * o + o


def conv(ci: int, co: int, k: int, bias: bool = True) -> int:
    return ci * co * k * k + (co if bias else 0)


def test_tutorial_parameter_counts_from_layer_sizes():
    # MLP 784-64-64-64-10
    assert model_card(build_model("mlp", 1, 28, 10), (1, 28, 28)).total_parameters == (
        linear(784, 64) + linear(64, 64) + linear(64, 64) + linear(64, 10)
    )
    # conv 1->6 k5, pool, conv 6->12 k5, pool, FC 192-120-60-10
    assert model_card(build_model("small_cnn", 1, 28, 10), (1, 28, 28)).total_parameters == (
        conv(1, 6, 5) + conv(6, 12, 5) + linear(192, 120) + linear(120, 60) + linear(60, 10)
    )
    # conv 32, 32, pool, 64, 64, pool (no conv bias: BatchNorm has one), FC 3136-512-512-10 with BN
    def bn(c: int) -> int:  # BatchNorm: a scale and a shift per channel
        return 2 * c

    assert model_card(build_model("bn_convnet", 1, 28, 10), (1, 28, 28)).total_parameters == (
        conv(1, 32, 3, False) + bn(32) + conv(32, 32, 3, False) + bn(32)
        + conv(32, 64, 3, False) + bn(64) + conv(64, 64, 3, False) + bn(64)
        + linear(3136, 512) + bn(512) + linear(512, 512) + bn(512) + linear(512, 10)
    )


@pytest.mark.parametrize("name", DIGIT_MODELS)
def test_registry_specs(name):
    spec = MODELS[name]
    assert isinstance(spec, ModelSpec) and spec.name == name and spec.label and spec.description
    assert spec.supports(1, 28) and spec.supports(3, 32)
    assert [n for n in DIGIT_MODELS if MODELS[n].recommended] == ["fast_cnn"]


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(DIGIT_MODELS),
    channels=st.sampled_from([1, 3]),
    size=st.sampled_from([16, 28, 32, 40]),
    classes=st.integers(2, 12),
    batch=st.integers(2, 5),
)
def test_logits_shape_for_any_supported_input(name, channels, size, classes, batch):
    model = build_model(name, channels, size, classes)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(batch, channels, size, size))
    assert out.shape == (batch, classes)
    card = model_card(model, (channels, size, size))
    assert card.output_shape == (classes,)
    assert card.total_parameters == sum(p.numel() for p in model.parameters())


def test_unsupported_inputs_are_refused_clearly():
    assert not MODELS["small_cnn"].supports(1, 12)
    with pytest.raises(ValueError, match="does not support"):
        build_model("small_cnn", 1, 12, 10)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("nope", 1, 28, 10)


@pytest.mark.parametrize("name", ["mlp", "bn_convnet", "fast_cnn"])
def test_dropout_setting_reaches_the_layers(name):
    model = build_model(name, 1, 28, 10, dropout=0.37)
    ps = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    assert ps and all(p == pytest.approx(0.37) for p in ps)
    default = build_model(name, 1, 28, 10)
    assert all(m.p == pytest.approx(MODELS[name].default_dropout) for m in default.modules() if isinstance(m, nn.Dropout))


def test_model_card_rows_follow_a_real_forward_pass():
    model = build_model("small_cnn", 1, 28, 10)
    card = model_card(model, (1, 28, 28))
    rows = {r.name: r for r in card}
    x = torch.zeros(1, 1, 28, 28)
    c1 = F.conv2d(x, model.conv1.weight, model.conv1.bias)
    assert rows["conv1"].output_shape == tuple(c1.shape[1:]) == (6, 24, 24)
    assert rows["conv2"].output_shape == (12, 8, 8) and rows["fc1"].output_shape == (120,)
    # multiply-adds: every output element of a conv costs Cin*k*k, of a linear layer in_features
    assert rows["conv1"].mult_adds == 6 * 24 * 24 * 1 * 5 * 5
    assert rows["conv2"].mult_adds == 12 * 8 * 8 * 6 * 5 * 5
    assert rows["fc1"].mult_adds == 192 * 120
    assert rows["conv1"].parameters == conv(1, 6, 5) and rows["conv1"].type == "Conv2d"
    assert card.total_mult_adds == sum(r.mult_adds for r in card.rows)
    assert card.trainable_parameters == card.total_parameters
    assert len(card) == len(card.rows) and card[0] == card.rows[0]
    assert model.training  # the card leaves the model's mode alone


def test_model_card_mult_adds_of_a_strided_grouped_conv():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), nn.Flatten(), nn.Linear(8 * 5 * 5, 3))
    card = model_card(model, (4, 10, 10))
    assert card.rows[0].output_shape == (8, 5, 5)
    assert card.rows[0].mult_adds == 8 * 5 * 5 * (4 // 2) * 9
    assert card.total_mult_adds == 8 * 5 * 5 * 2 * 9 + 200 * 3
    np.testing.assert_equal(card.total_parameters, sum(p.numel() for p in model.parameters()))
