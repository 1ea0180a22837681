"""conv2d, output_size and conv_step against PyTorch (the oracle), over many random settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explainers.convolution import (
    PADDING_MODES,
    conv2d,
    conv_step,
    geometry,
    normalise_kernel,
    output_size,
    resolve_padding,
)


def torch_conv(x, w, b, stride, padding, dilation, groups, mode):
    """The oracle: nn.Conv2d with the same weights (F.conv2d for zeros padding)."""
    xt = torch.from_numpy(x)[None]
    wt = torch.from_numpy(w)
    bt = None if b is None else torch.from_numpy(b)
    if mode == "zeros":
        return F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)[0].numpy()
    c_out, cg, kh, kw = w.shape
    layer = torch.nn.Conv2d(
        cg * groups, c_out, (kh, kw), stride=stride, padding=padding, dilation=dilation,
        groups=groups, bias=b is not None, padding_mode=mode, dtype=torch.float64,
    )
    with torch.no_grad():
        layer.weight.copy_(wt)
        if b is not None:
            layer.bias.copy_(bt)
        return layer(xt)[0].numpy()


pairs = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@st.composite
def conv_settings(draw):
    groups = draw(st.integers(1, 3))
    cg = draw(st.integers(1, 3))
    og = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = draw(pairs)
    dilation = draw(pairs)
    padding = draw(st.one_of(
        st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)), st.sampled_from(["valid", "same"])
    ))
    if padding == "same":
        stride = 1  # PyTorch only allows 'same' without striding (tested separately)
    mode = draw(st.sampled_from(PADDING_MODES))
    H, W = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    with_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(cg * groups, H, W))
    w = rng.normal(size=(og * groups, cg, kh, kw))
    b = rng.normal(size=og * groups) if with_bias else None
    return x, w, b, stride, padding, dilation, groups, mode


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's own note
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_settings())
def test_conv2d_matches_torch(case):
    x, w, b, stride, padding, dilation, groups, mode = case
    try:
        expected = torch_conv(x, w, b, stride, padding, dilation, groups, mode)
    except (RuntimeError, ValueError):
        # PyTorch refuses these settings; so must we, with a ValueError (a friendly message).
        with pytest.raises(ValueError):
            conv2d(x, w, b, stride, padding, dilation, groups, mode)
        return
    got = conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("c_in,c_out,groups", [(3, 1, 1), (3, 3, 3), (2, 20, 1), (4, 8, 2)])
def test_conv2d_large_channel_counts_and_each_mode(mode, c_in, c_out, groups):
    # (2, 20) exercises the matmul branch; the others the scaled-add branch.
    rng = np.random.default_rng(c_in * 100 + c_out)
    x = rng.normal(size=(c_in, 17, 13))
    w = rng.normal(size=(c_out, c_in // groups, 3, 4))
    b = rng.normal(size=c_out)
    expected = torch_conv(x, w, b, (2, 1), (2, 3), (1, 2), groups, mode)
    got = conv2d(x, w, b, stride=(2, 1), padding=(2, 3), dilation=(1, 2), groups=groups, padding_mode=mode)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_conv2d_float32_image_size_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.random((3, 64, 80), dtype=np.float32)
    w = rng.normal(size=(1, 3, 7, 7)).astype(np.float32)
    got = conv2d(x, w, padding="same")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, torch_conv(x, w, None, 1, "same", 1, 1, "zeros"), rtol=1e-4, atol=1e-4)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 4), d=st.integers(1, 3))
def test_output_size_agrees_with_torch_shape(size, k, s, p, d):
    x = torch.zeros(1, 1, size, 1)
    w = torch.zeros(1, 1, k, 1)
    try:
        expected = F.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).shape[2]
    except RuntimeError:
        with pytest.raises(ValueError, match="larger than the padded image"):
            output_size(size, k, s, p, d)
        return
    assert output_size(size, k, s, p, d) == expected


@settings(max_examples=150, deadline=None)
@given(conv_settings(), st.data())
def test_conv_step_reproduces_one_output_pixel(case, data):
    x, w, _, stride, padding, dilation, groups, mode = case
    try:
        full = conv2d(x, w[:1].repeat(groups, axis=1) if groups > 1 else w[:1], None,
                      stride, padding, dilation, 1, mode)
    except ValueError:
        return
    kernel = w[0].repeat(groups, axis=0) if groups > 1 else w[0]
    r = data.draw(st.integers(0, full.shape[1] - 1))
    c = data.draw(st.integers(0, full.shape[2] - 1))
    step = conv_step(x, kernel, r, c, bias=0.5, stride=stride, padding=padding, dilation=dilation, padding_mode=mode)
    np.testing.assert_allclose(step.total, full[0, r, c] + 0.5, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(step.products, step.window * step.kernel)
    H, W = x.shape[1:]
    inside = (step.rows[:, None] >= 0) & (step.rows[:, None] < H) & (step.cols[None] >= 0) & (step.cols[None] < W)
    np.testing.assert_array_equal(step.is_padding, ~inside)
    # Taps on the image read the image itself.
    for i, j in zip(*np.nonzero(inside)):
        np.testing.assert_array_equal(step.window[:, i, j], x[:, step.rows[i], step.cols[j]])


def test_conv_step_rejects_position_outside_output():
    with pytest.raises(ValueError, match="outside the 3×3 output"):
        conv_step(np.zeros((1, 5, 5)), np.ones((1, 3, 3)), 3, 0)


def test_messages_a_learner_understands():
    with pytest.raises(ValueError, match=r"dilated kernel \(9×9\) is larger than the padded image \(7×7\)"):
        conv2d(np.zeros((1, 5, 5)), np.zeros((1, 1, 5, 5)), padding=1, dilation=2)
    with pytest.raises(ValueError, match="only works with stride 1"):
        conv2d(np.zeros((1, 5, 5)), np.zeros((1, 1, 3, 3)), padding="same", stride=2)
    with pytest.raises(ValueError, match="reflect padding must be smaller than the image"):
        conv2d(np.zeros((1, 3, 3)), np.zeros((1, 1, 3, 3)), padding=3, padding_mode="reflect")
    with pytest.raises(ValueError, match="wrap around at most once"):
        conv2d(np.zeros((1, 3, 3)), np.zeros((1, 1, 3, 3)), padding=4, padding_mode="circular")
    with pytest.raises(ValueError, match="must divide"):
        conv2d(np.zeros((3, 5, 5)), np.zeros((2, 1, 3, 3)), groups=3)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        conv2d(np.zeros((1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="padding mode"):
        conv2d(np.zeros((1, 5, 5)), np.zeros((1, 1, 3, 3)), padding_mode="mirror")
    with pytest.raises(ValueError, match="one value per output channel"):
        conv2d(np.zeros((1, 5, 5)), np.zeros((2, 1, 3, 3)), bias=np.zeros(3))


def test_same_padding_puts_the_extra_pixel_bottom_right():
    assert resolve_padding("same", (4, 1)) == (1, 2, 0, 0)
    assert resolve_padding("valid", 3) == (0, 0, 0, 0)
    g = geometry((1, 9, 9), (1, 1, 4, 4), padding="same", dilation=2)
    assert g.out_size == (9, 9)


def test_normalise_kernel():
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(normalise_kernel(k).sum(), 1.0)
    edge = np.array([[-1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(normalise_kernel(edge), edge)  # zero sum: left alone


# --- Issue 12: normalising zero-sum kernels, numbers that add up as shown ------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402

from explainers.convolution import fmt, normalise, rounded_terms  # noqa: E402


def test_normalise_divides_by_the_sum_or_by_the_absolute_sum_and_says_which():
    box = normalise(np.ones((3, 3)))
    assert box.by == "sum" and box.divisor == 9 and box.kernel.sum() == pytest.approx(1)
    sobel = normalise(np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]))
    assert sobel.by == "abs" and sobel.divisor == 8 and np.abs(sobel.kernel).sum() == pytest.approx(1)
    assert normalise(np.zeros((2, 2))).by == "none"


def test_fmt_never_shows_negative_zero():
    assert fmt(-0.00001, 2) == "0.00" and fmt(-0.0, 4) == "0.0000" and fmt(-0.006, 2) == "-0.01"


@given(hs.lists(hs.floats(-5, 5, allow_nan=False), min_size=1, max_size=49), hs.integers(1, 4))
def test_rounded_terms_add_up_to_the_shown_sum_and_stay_within_one_unit(values, decimals):
    shown, total = rounded_terms(np.array(values), decimals)
    unit = 10.0 ** -decimals
    assert abs(float(total) - sum(values)) <= unit / 2 + 1e-9  # the shown sum is the exact sum, rounded
    assert sum(round(float(s) / unit) for s in shown) == round(float(total) / unit)
    assert all(abs(float(s) - v) < unit + 1e-9 for s, v in zip(shown, values))
    assert not any(s.startswith("-") and float(s) == 0 for s in [*shown, total])
