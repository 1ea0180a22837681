"""The whole-CNN page's maths, checked against the torch model's own activations (forward hooks are the oracle)."""

from __future__ import annotations

import itertools
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import cnn, snippets
from explainers.formula_html import plain
from explainers.training.cnn import (
    N_TEST_IMAGES,
    build_cnn,
    one_thread,
    predict,
    run_layers,
    train_cnn,
)


@pytest.fixture(scope="module")
def trained():
    return train_cnn("synthetic-digits", seed=0)


def hooked(model: torch.nn.Sequential, image: np.ndarray) -> dict[str, torch.Tensor]:
    """Every child's output for one image, caught by forward hooks (plus input and softmax)."""
    acts: dict[str, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda _m, _i, out, name=name: acts.__setitem__(name, out[0].detach().clone()))
               for name, m in model.named_children()]
    x = torch.from_numpy(np.array(image, dtype=np.float32))[None, None]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    acts["input"] = x[0]
    acts["softmax"] = torch.softmax(logits, dim=1)[0]
    return acts


def positive_model(seed: int) -> torch.nn.Sequential:
    """All weights and biases positive: every ReLU passes, so a raised input pixel raises everything it reaches."""
    model = build_cnn(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.abs_().add_(0.05)
    return model


def test_run_layers_matches_forward_hooks(trained):
    for index in (0, 1, 7, 123):
        image = trained.test_images[index]
        layers = run_layers(trained.model, image)
        acts = hooked(trained.model, image)
        assert [layer.name for layer in layers] == list(cnn.LAYER_NAMES)
        assert [layer.shape for layer in layers] == cnn.layer_shapes()
        for layer in layers:
            np.testing.assert_allclose(layer.activation, acts[layer.name].numpy(), rtol=1e-6, atol=1e-6)
            assert not layer.activation.flags.writeable


def test_layers_carry_their_weights(trained):
    layers = {layer.name: layer for layer in run_layers(trained.model, trained.test_images[0])}
    for name, module in trained.model.named_children():
        assert layers[name].params == sum(p.numel() for p in module.parameters())
        if hasattr(module, "weight"):
            np.testing.assert_array_equal(layers[name].weight, module.weight.numpy())
            np.testing.assert_array_equal(layers[name].bias, module.bias.numpy())
    assert sum(layer.params for layer in layers.values()) == sum(p.numel() for p in trained.model.parameters())


@pytest.mark.parametrize("seed", [0, 3])
def test_every_conv_unit_weighted_sum_equals_torch(trained, seed):
    model = trained.model if seed == 0 else build_cnn(seed)
    image = trained.test_images[seed + 5]
    acts = hooked(model, image)
    layers = run_layers(model, image)
    for i, spec in enumerate(cnn.ARCH):
        if spec.kind != "conv":
            continue
        prev, here = layers[i - 1], layers[i]
        c, h, w = here.shape
        for ch, r, q in itertools.product(range(c), range(h), range(w)):
            ws = cnn.conv_unit(prev.activation, here.weight, here.bias, ch, r, q, spec.stride, spec.padding)
            assert ws.terms == prev.shape[0] * spec.kernel ** 2
            np.testing.assert_allclose(ws.total, acts[spec.name][ch, r, q].item(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ws.products.sum() + ws.bias, ws.total)


def test_every_fc_unit_weighted_sum_equals_torch(trained):
    image = trained.test_images[2]
    acts = hooked(trained.model, image)
    layers = {layer.name: layer for layer in run_layers(trained.model, image)}
    for unit in range(10):
        ws = cnn.linear_unit(layers["flatten"].activation, layers["fc"].weight, layers["fc"].bias, unit)
        assert ws.terms == 200
        np.testing.assert_allclose(ws.total, acts["fc"][unit].item(), rtol=1e-5, atol=1e-5)
    assert set(cnn.top_terms(ws, 5)) <= set(range(200))
    assert np.all(np.diff(np.abs(ws.products.ravel()[cnn.top_terms(ws, 200)])) <= 0)


def test_relu_pool_flatten_softmax_units_equal_torch(trained):
    image = trained.test_images[4]
    acts = hooked(trained.model, image)
    layers = {layer.name: layer for layer in run_layers(trained.model, image)}
    np.testing.assert_array_equal(cnn.relu(acts["conv1"].numpy()), acts["relu1"].numpy())
    for name, prev in (("pool1", "relu1"), ("pool2", "relu2")):
        c, h, w = layers[name].shape
        for ch, r, q in itertools.product(range(c), range(h), range(w)):
            window = cnn.maxpool_unit(layers[prev].activation, ch, r, q)
            assert window.max() == pytest.approx(acts[name][ch, r, q].item(), abs=0)
    np.testing.assert_array_equal(layers["pool2"].activation.reshape(-1), acts["flatten"].numpy())
    np.testing.assert_allclose(cnn.softmax(acts["fc"].numpy()), acts["softmax"].numpy(), rtol=1e-5, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-300, 300, allow_nan=False), min_size=1, max_size=12))
def test_softmax_equals_torch_softmax(logits):
    z = np.array(logits)
    expected = torch.softmax(torch.tensor(z, dtype=torch.float64), dim=0).numpy()
    np.testing.assert_allclose(cnn.softmax(z), expected, rtol=1e-12, atol=1e-300)
    assert cnn.softmax(z).sum() == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 3), o=st.integers(1, 3), n=st.integers(4, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), seed=st.integers(0, 10_000))
def test_conv_unit_equals_f_conv2d_any_settings(c, o, n, k, s, p, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(c, n, n)), rng.normal(size=(o, c, k, k)), rng.normal(size=o)
    if (n + 2 * p - k) // s + 1 < 1:
        return
    y = F.conv2d(torch.tensor(x)[None], torch.tensor(w), torch.tensor(b), stride=s, padding=p)[0].numpy()
    for ch, r, q in itertools.product(range(o), range(y.shape[1]), range(y.shape[2])):
        np.testing.assert_allclose(cnn.conv_unit(x, w, b, ch, r, q, s, p).total, y[ch, r, q], rtol=1e-10, atol=1e-10)


def _input_mask(windows: list[cnn.Window]) -> np.ndarray:
    mask = np.zeros(cnn.INPUT_SHAPE[1:], dtype=bool)
    first = windows[0]
    assert first.layer == 0
    mask[first.top:first.bottom, first.left:first.right] = True
    return mask


def _unit_value(model, image, layer: int, unit: tuple[int, ...]) -> float:
    return hooked(model, image)[cnn.LAYER_NAMES[layer]][unit].item()


UNITS = [(1, 2, 0, 0), (1, 0, 25, 13), (2, 3, 10, 20), (3, 1, 6, 12), (3, 0, 0, 0), (4, 5, 10, 0), (4, 7, 3, 6),
         (5, 2, 5, 5), (6, 4, 4, 4), (6, 0, 0, 3), (6, 7, 2, 1)]


@pytest.mark.parametrize("layer,channel,row,col", UNITS)
def test_pixels_outside_the_receptive_window_never_change_the_unit(trained, layer, channel, row, col):
    windows = cnn.receptive_windows(layer, channel, row, col)
    outside = ~_input_mask(windows)
    rng = np.random.default_rng(layer * 100 + row)
    image = trained.test_images[layer]
    noisy = np.where(outside, rng.uniform(0, 1, image.shape), image).astype(np.float32)
    unit = (channel, row, col)
    assert _unit_value(trained.model, noisy, layer, unit) == _unit_value(trained.model, image, layer, unit)
    # ... and the unit's own gradient is zero outside the window (autograd agrees with the geometry).
    x = torch.from_numpy(image.copy())[None, None].requires_grad_(True)
    out = x
    for name, module in trained.model.named_children():
        out = module(out)
        if name == cnn.LAYER_NAMES[layer]:
            break
    out[(0, *unit)].backward()
    assert np.all(x.grad[0, 0].numpy()[outside] == 0)


@pytest.mark.parametrize("layer,channel,row,col", UNITS)
def test_every_pixel_inside_the_receptive_window_can_change_the_unit(layer, channel, row, col):
    model = positive_model(layer)
    windows = cnn.receptive_windows(layer, channel, row, col)
    inside = _input_mask(windows)
    base = np.zeros(cnn.INPUT_SHAPE[1:], dtype=np.float32)
    before = _unit_value(model, base, layer, (channel, row, col))
    for r, q in zip(*np.nonzero(inside)):
        poked = base.copy()
        poked[r, q] = 100.0  # wins every max pool on its way up, and every weight is positive
        assert _unit_value(model, poked, layer, (channel, row, col)) > before, (r, q)


def test_receptive_window_sizes_and_channels():
    # conv2 sees 8×8 input pixels, pool2 10×10: 3 -> ×2 (pool) -> +2 (conv) ...
    w = cnn.receptive_windows(4, 5, 3, 4)
    assert [x.size for x in w] == [(8, 8), (6, 6), (6, 6), (3, 3), (1, 1)]
    assert w[0].top == 6 and w[0].left == 8
    assert w[3].channels == (0, 1, 2, 3) and w[-1].channels == (5,)
    w = cnn.receptive_windows(6, 2, 4, 4)
    assert w[0].size == (10, 10) and (w[0].bottom, w[0].right) == (26, 26)  # the last 2 rows never reach pool2
    assert w[-2].channels == (2,)  # ReLU and pooling keep to their own map
    flat = cnn.receptive_windows(7, 2 * 25 + 4 * 5 + 4, 0, 0)
    assert flat == w  # flatten unit 74 is pool2's (2, 4, 4)
    fc = cnn.receptive_windows(8, 3, 0, 0)
    assert all(x.channels == tuple(range(cnn.layer_shapes()[x.layer][0])) for x in fc)
    assert fc[0].size == (26, 26)
    with pytest.raises(ValueError):
        cnn.receptive_windows(1, 4, 0, 0)


def test_fc_unit_depends_on_every_reachable_pixel():
    model = positive_model(1)
    base = np.zeros((28, 28), dtype=np.float32)
    before = _unit_value(model, base, 8, (2,))
    inside = _input_mask(cnn.receptive_windows(8, 2, 0, 0))
    for r, q in zip(*np.nonzero(inside)):
        poked = base.copy()
        poked[r, q] = 100.0
        assert _unit_value(model, poked, 8, (2,)) > before


def test_parameter_counts_equal_torch_numel():
    model = build_cnn(0)
    counts = {row.name: row for row in cnn.parameter_counts()}
    for name, module in model.named_children():
        assert counts[name].params == sum(p.numel() for p in module.parameters())
    assert sum(r.params for r in counts.values()) == sum(p.numel() for p in model.parameters()) == 2346
    # The same job without locality or sharing: a dense layer from 784 inputs to 4×26×26 outputs.
    dense = torch.nn.Linear(784, 4 * 26 * 26, device="meta")
    assert counts["conv1"].dense == sum(p.numel() for p in dense.parameters())
    # Locally connected: unfold gives each output pixel its own 3×3 patch; each gets its own kernel and bias.
    patches = F.unfold(torch.zeros(1, 4, 13, 13), 3).shape  # (1, C*k*k, positions)
    assert counts["conv2"].local == 8 * patches[2] * (patches[1] + 1)
    assert counts["conv2"].fan_in == 36 and counts["fc"].fan_in == 200
    assert counts["fc"].params == counts["fc"].dense == counts["fc"].local == 2010
    assert counts["pool1"].params == counts["relu1"].dense == 0


def test_training_reaches_a_sensible_accuracy_quickly(trained):
    assert trained.test_accuracy >= 0.88
    assert trained.seconds < 120  # ~5 s on two busy cores; generous for CI
    probs = predict(trained.model, trained.test_images)
    assert probs.shape == (N_TEST_IMAGES, 10)
    assert np.mean(probs.argmax(1) == trained.test_labels) == pytest.approx(trained.test_accuracy, abs=1e-6)
    assert not any(p.requires_grad for p in trained.model.parameters())
    assert not trained.model.training


def test_same_seed_same_network_whatever_the_global_rng():
    torch.manual_seed(123)
    a = build_cnn(7)
    torch.manual_seed(999)
    b = build_cnn(7)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(next(build_cnn(8).parameters()), next(a.parameters()))
    x = train_cnn(seed=4, n_train=256, epochs=1, n_test=16)
    y = train_cnn(seed=4, n_train=256, epochs=1, n_test=16)
    for p, q in zip(x.model.parameters(), y.model.parameters()):
        assert torch.equal(p, q)


def test_one_thread_inside_the_block_and_the_count_restored_after_it_even_on_error(trained):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError), one_thread():
            run_layers(trained.model, np.zeros((32, 32)))
        assert torch.get_num_threads() == 2
        run_layers(trained.model, trained.test_images[0])  # a digit's forward pass, on one thread
        predict(trained.model, trained.test_images[:4])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_bad_image_shape_is_a_value_error(trained):
    with pytest.raises(ValueError, match="28×28"):
        run_layers(trained.model, np.zeros((32, 32)))


class _FakeMNIST:
    """torchvision.datasets.MNIST stand-in (no download): a few random 28×28 grey PIL images with labels."""

    def __init__(self, root, train=True, download=False, transform=None):
        from PIL import Image

        rng = np.random.default_rng(0 if train else 1)
        x = (rng.uniform(size=(256 if train else 8, 28, 28)) ** 4 * 255).astype(np.uint8)  # sparse bright "ink"
        self.items = [(Image.fromarray(im), int(rng.integers(10))) for im in x]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        im, label = self.items[i]
        return self.transform(im), label


@pytest.mark.parametrize("layer", cnn.LAYER_NAMES)
def test_pytorch_snippet_runs_and_its_check_passes(layer, monkeypatch, capsys):
    import torchvision

    fake = types.SimpleNamespace(MNIST=_FakeMNIST)
    monkeypatch.setattr(torchvision, "datasets", fake)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake)
    spec = cnn.ARCH[cnn.LAYER_NAMES.index(layer)]
    shape = cnn.layer_shapes()[cnn.LAYER_NAMES.index(layer)]
    unit = (shape[0] - 1, shape[1] // 2, shape[2] - 1) if spec.spatial else (shape[0] - 1, 0, 0)
    code = snippets.cnn_snippet(layer, *unit, seed=1, epochs=1, index=3)
    exec(compile(code, "snippet", "exec"), {"__name__": "__main__"})  # noqa: S102 - our own generated snippet
    out = capsys.readouterr().out
    assert "2346 parameters" in out and "by hand" in out and "softmax  (1, 10)" in out


def test_each_units_formula_ends_with_the_number_torch_computes():
    """The formulas under the unit panel (HTML, read as text) end with PyTorch's value, to 3 decimals."""
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 6, 6)), rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4)

    def shown(v: float) -> str:
        return f"{v:.3f}".replace("-", "−")

    conv = F.conv2d(torch.tensor(x)[None], torch.tensor(w), torch.tensor(b))[0]
    text = plain(cnn.conv_formula(cnn.conv_unit(x, w, b, 1, 2, 3), "conv1", 1, 2, 3))
    assert text.startswith("conv1[1,2,3] = ∑ x · w + b = ") and "18 products" in text
    assert text.endswith(f"= {shown(conv[1, 2, 3].item())}")
    assert plain(cnn.relu_formula("relu1", "conv1", (1, 2, 3), conv[1, 2, 3].item())).endswith(
        f"= {shown(F.relu(conv[1, 2, 3]).item())}")
    window = x[0, 2:4, 2:4]
    assert plain(cnn.pool_formula("pool1", (0, 1, 1), window)).endswith(
        f"= {shown(F.max_pool2d(torch.tensor(x)[None], 2)[0, 0, 1, 1].item())}")
    v, m, c = rng.normal(size=30), rng.normal(size=(5, 30)), rng.normal(size=5)
    ws = cnn.linear_unit(v, m, c, 4)
    text = plain(cnn.linear_formula(ws, 4, cnn.top_terms(ws, 10)))
    assert "10 largest" in text and "other 20" in text
    assert text.endswith(f"= {shown(F.linear(torch.tensor(v), torch.tensor(m), torch.tensor(c))[4].item())}")
    logits = rng.normal(size=10) * 3
    assert plain(cnn.softmax_formula(logits, 7)).endswith(f"= {torch.softmax(torch.tensor(logits), 0)[7].item():.3f}")
