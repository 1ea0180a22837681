"""pool2d and its backward against torch.nn.functional (the oracle), over many random settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explainers.pooling import (
    cell_window,
    check_pool,
    output_size,
    pool2d,
    pool2d_backward,
    pyramid,
    relative_change,
    shift,
)


def torch_pool(x, mode, k, s, p, d, ceil_mode, cip):
    t = torch.tensor(x, requires_grad=True)
    if mode == "max":
        y, idx = F.max_pool2d(t, k, s, p, d, ceil_mode=ceil_mode, return_indices=True)
    else:
        y, idx = F.avg_pool2d(t, k, s, p, ceil_mode=ceil_mode, count_include_pad=cip), None
    return t, y, idx


def torch_legal(x, mode, k, s, p, d, ceil_mode, cip) -> bool:
    try:
        torch_pool(x, mode, k, s, p, d, ceil_mode, cip)
        return True
    except RuntimeError:
        return False


@st.composite
def pool_case(draw):
    mode = draw(st.sampled_from(["max", "avg"]))
    c = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (1, 1) if mode == "avg" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    ceil_mode = draw(st.booleans())
    cip = draw(st.booleans())
    # Small integers make ties common, so the tie-breaking rule is exercised too.
    ties = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (c, h, w)).astype(np.float64) if ties else rng.standard_normal((c, h, w))
    return x, mode, k, s, p, d, ceil_mode, cip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_case())
def test_forward_backward_and_legality_match_torch(case):
    x, mode, k, s, p, d, ceil_mode, cip = case
    legal = torch_legal(x, mode, k, s, p, d, ceil_mode, cip)
    if not legal:
        with pytest.raises(ValueError):
            pool2d(x, mode, k, s, p, d, ceil_mode, cip)
        return
    res = pool2d(x, mode, k, s, p, d, ceil_mode, cip)
    t, y, idx = torch_pool(x, mode, k, s, p, d, ceil_mode, cip)
    np.testing.assert_allclose(res.output, y.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert res.output.shape == res.settings.out_shape
    if mode == "max":
        np.testing.assert_array_equal(res.indices, idx.numpy())
    g = np.random.default_rng(0).standard_normal(y.shape)
    if mode == "max" and (res.indices >= x.shape[1] * x.shape[2]).any():
        # A window of pure padding (see the test below): PyTorch's backward then writes past the plane.
        return
    y.backward(torch.tensor(g))
    np.testing.assert_allclose(pool2d_backward(g, res), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("n,k,s,p,d", [
    (5, 2, 2, 0, 1), (6, 3, 2, 1, 1), (7, 3, 3, 1, 1), (4, 3, 2, 0, 1), (10, 3, 4, 1, 1),
    (9, 2, 3, 1, 2), (8, 4, 3, 2, 1), (1, 1, 2, 0, 1), (3, 2, 5, 1, 1), (28, 2, 2, 0, 1),
    (13, 5, 4, 2, 2), (2, 2, 3, 1, 1),
])
def test_output_size_matches_torch_including_ceil_mode(n, k, s, p, d, ceil_mode):
    x = torch.zeros(1, n, n)
    expected = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil_mode).shape[-1]
    assert output_size(n, k, s, p, d, ceil_mode) == expected


def test_ceil_mode_windows_that_hang_off_the_edge_use_the_right_divisor():
    # 5 wide, kernel 2, stride 2, ceil_mode: the last window holds one real pixel.
    x = np.random.default_rng(1).standard_normal((2, 5, 7))
    for cip in (True, False):
        for pad in (0, 1):
            res = pool2d(x, "avg", 3, 2, pad, ceil_mode=True, count_include_pad=cip)
            ref = F.avg_pool2d(torch.tensor(x), 3, 2, pad, ceil_mode=True, count_include_pad=cip)
            np.testing.assert_allclose(res.output, ref.numpy(), rtol=1e-12)


def test_nan_wins_and_minus_inf_windows_point_where_torch_points():
    x = np.full((1, 4, 5), -np.inf)
    x[0, 1, 1] = np.nan
    x[0, 2, 3] = np.nan
    for k, s, p, d in [(2, 1, 1, 1), (3, 2, 1, 2), (2, 2, 0, 1), (3, 1, 1, 1)]:
        res = pool2d(x, "max", k, s, p, d)
        y, idx = F.max_pool2d(torch.tensor(x), k, s, p, d, return_indices=True)
        np.testing.assert_array_equal(res.output, y.numpy())  # NaN == NaN here
        np.testing.assert_array_equal(res.indices, idx.numpy())


def test_a_window_of_pure_padding_gives_minus_inf_and_routes_no_gradient():
    # Height 1, kernel 3, dilation 2, padding 1: rows -1, 1, 3 are all outside; PyTorch allows it.
    x = np.random.default_rng(5).standard_normal((2, 1, 6))
    res = pool2d(x, "max", (3, 2), (4, 3), (1, 0), (2, 1), ceil_mode=True)
    y, idx = F.max_pool2d(torch.tensor(x), (3, 2), (4, 3), (1, 0), (2, 1), ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(res.output, y.numpy())
    assert np.isneginf(res.output).all()
    np.testing.assert_array_equal(res.indices, idx.numpy())
    np.testing.assert_array_equal(pool2d_backward(np.ones(res.output.shape), res), 0)


def test_float32_input_stays_float32_and_matches():
    x = np.random.default_rng(2).standard_normal((3, 17, 13)).astype(np.float32)
    res = pool2d(x, "avg", (3, 2), (2, 1), (1, 0), ceil_mode=True, count_include_pad=False)
    assert res.output.dtype == np.float32
    ref = F.avg_pool2d(torch.tensor(x), (3, 2), (2, 1), (1, 0), ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(res.output, ref.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs,words", [
    ({"kernel_size": 3, "padding": 2}, "at most half the kernel"),
    ({"kernel_size": 2, "stride": 0}, "stride must be at least 1"),
    ({"kernel_size": 0}, "kernel size must be at least 1"),
    ({"kernel_size": 2, "dilation": 0}, "dilation must be at least 1"),
    ({"kernel_size": 2, "padding": -1}, "cannot be negative"),
    ({"kernel_size": 6}, "output would be empty"),
    ({"mode": "avg", "kernel_size": 2, "dilation": 2}, "no dilation"),
    ({"mode": "median"}, "'max' or 'avg'"),
    ({"kernel_size": (2, 2, 2)}, "pair"),
])
def test_illegal_settings_raise_plain_sentences(kwargs, words):
    with pytest.raises(ValueError, match=words):
        pool2d(np.zeros((1, 5, 5)), **kwargs)


def test_input_must_be_three_dimensional():
    with pytest.raises(ValueError, match="channels, height, width"):
        pool2d(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="empty"):
        check_pool((1, 0, 4))


def test_backward_rejects_a_gradient_of_the_wrong_shape():
    res = pool2d(np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="upstream gradient"):
        pool2d_backward(np.zeros((1, 3, 3)), res)


def test_cell_window_reports_the_winner_and_the_mean():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6))
    res = pool2d(x, "max", 3, 2, 1, 1)
    for oh in range(res.output.shape[1]):
        for ow in range(res.output.shape[2]):
            cw = cell_window(x, res, 1, oh, ow)
            assert cw.output == res.output[1, oh, ow] == x[1, cw.winner[0], cw.winner[1]]
            assert cw.values.max() == cw.output
            assert (~cw.inside).sum() == np.isneginf(cw.values).sum()
    avg = pool2d(x, "avg", 3, 2, 1, count_include_pad=False)
    cw = cell_window(x, avg, 0, 0, 0)
    assert cw.divisor == cw.inside.sum() == 4
    np.testing.assert_allclose(cw.values[cw.inside].sum() / cw.divisor, cw.output)
    with pytest.raises(ValueError, match="outside"):
        cell_window(x, avg, 0, 9, 0)


def test_shift_moves_content_and_relative_change():
    x = np.arange(2 * 4 * 5, dtype=float).reshape(2, 4, 5)
    y = shift(x, 1, 2)
    np.testing.assert_array_equal(y[:, 1:, 2:], x[:, :-1, :-2])
    np.testing.assert_array_equal(shift(x, 0, 0), x)
    assert relative_change(x, x) == 0
    np.testing.assert_allclose(relative_change(x, 2 * x), 1.0)


def test_pyramid_halves_28_to_14_to_7_like_torch():
    x = np.random.default_rng(4).standard_normal((1, 28, 28))
    maps = pyramid(x, "max", levels=2)
    assert [m.shape for m in maps] == [(1, 28, 28), (1, 14, 14), (1, 7, 7)]
    ref = F.max_pool2d(F.max_pool2d(torch.tensor(x), 2), 2)
    np.testing.assert_allclose(maps[-1], ref.numpy())
    assert len(pyramid(np.zeros((1, 3, 3)), levels=5)) == 2  # 3 -> 1, then it stops
