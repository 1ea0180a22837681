"""The page's helpers (apply_kernel, filter_bank, kernel_walk, size_formula) against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers.convolution import (
    apply_kernel,
    conv_step,
    filter_bank,
    kernel_walk,
    output_size,
    size_formula,
)
from explainers.formula_html import plain
from explainers.images import to_grey
from explainers.kernels import grid_from_flat, kernel, resize_kernel

RNG = np.random.default_rng(7)
IMAGE = RNG.random((23, 31, 3), dtype=np.float32)


def torch_image(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).double()[None]


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("colour", ["grey", "rgb", "depthwise"])
def test_apply_kernel_is_the_conv2d_layer_it_claims(colour, mode):
    k = kernel("Sobel x") + 0.1 * RNG.normal(size=(3, 3))
    stride = 2 if colour == "rgb" else 1
    demo = apply_kernel(IMAGE, k, colour=colour, bias=0.25, relu=False, stride=stride,
                        padding=2, dilation=2, padding_mode=mode)
    c_in, c_out, groups = {"grey": (1, 1, 1), "rgb": (3, 1, 1), "depthwise": (3, 3, 3)}[colour]
    layer = torch.nn.Conv2d(c_in, c_out, 3, stride=stride, padding=2,
                            dilation=2, groups=groups, padding_mode=mode, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(k).expand(c_out, c_in // groups, 3, 3))
        layer.bias.fill_(0.25)
        x = torch_image(IMAGE) if colour != "grey" else torch.from_numpy(to_grey(IMAGE)).double()[None, None]
        expected = layer(x)[0].numpy()
    np.testing.assert_allclose(demo.pre_activation, expected, rtol=1e-4, atol=1e-4)
    assert demo.weight.shape == (c_out, c_in // groups, 3, 3) and demo.groups == groups
    # The per-channel maps add up to the in_channels=3 output (what the page shows).
    if colour == "rgb":
        np.testing.assert_allclose(demo.per_channel.sum(0) + 0.25, demo.pre_activation[0], rtol=1e-5, atol=1e-5)


def test_relu_clips_negatives_only():
    demo = apply_kernel(IMAGE, kernel("Laplacian"), colour="grey", bias=-0.1, relu=True, padding=1)
    np.testing.assert_allclose(demo.output, np.maximum(demo.pre_activation, 0))
    assert demo.pre_activation.min() < 0 and demo.output.min() == 0


def test_apply_kernel_refuses_bad_kernels_and_settings():
    with pytest.raises(ValueError, match="not finite"):
        apply_kernel(IMAGE, np.array([[np.nan]]))
    with pytest.raises(ValueError, match="only works with stride 1"):
        apply_kernel(IMAGE, np.ones((3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="colour"):
        apply_kernel(IMAGE, np.ones((3, 3)), colour="cmyk")


def test_filter_bank_matches_one_torch_layer_per_kernel_with_same_padding():
    grey = to_grey(IMAGE)
    names = ["Sobel x", "Laplacian of Gaussian 7×7", "Gaussian blur 5×5", "Identity"]
    maps = filter_bank(grey, [kernel(n) for n in names], padding="same", padding_mode="zeros")
    x = torch.from_numpy(grey).double()[None, None]
    for i, n in enumerate(names):
        ref = F.conv2d(x, torch.from_numpy(kernel(n))[None, None], padding="same")[0, 0].numpy()
        np.testing.assert_allclose(maps[i], ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="at least one"):
        filter_bank(grey, [])


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 3), d=st.integers(1, 2),
       r=st.integers(0, 40), c=st.integers(0, 40), block=st.integers(1, 6))
def test_kernel_walk_reads_the_same_taps_as_conv_step(k, s, p, d, r, c, block):
    image = RNG.random((14, 17, 3))
    demo = apply_kernel(image, np.ones((k, k)), colour="rgb", stride=s, padding=p, dilation=d)
    out = demo.output[0]
    centre = (min(r, out.shape[0] - 1), min(c, out.shape[1] - 1))
    walk = kernel_walk(image, out, centre, kernel_size=k, stride=s, padding=p, dilation=d, block=block)
    n_r, n_c = walk.output.shape
    assert (n_r, n_c) == (min(block, out.shape[0]), min(block, out.shape[1]))
    for rr in range(n_r):
        for cc in range(n_c):
            o = (walk.out_origin[0] + rr, walk.out_origin[1] + cc)
            step = conv_step(demo.x, demo.weight[0], *o, stride=s, padding=p, dilation=d)
            rows, cols = walk.taps(rr, cc)
            np.testing.assert_array_equal(rows, step.rows)
            np.testing.assert_array_equal(cols, step.cols)
            # The crop holds the padded pixels the taps read.
            crop_vals = walk.crop[rows[:, None] - walk.origin[0], cols[None, :] - walk.origin[1]]
            np.testing.assert_allclose(np.moveaxis(crop_vals, -1, 0), step.window, rtol=1e-6)
            np.testing.assert_allclose(walk.output[rr, cc], out[o], rtol=1e-6)


@pytest.mark.parametrize("size,k,s,p,d", [(256, 3, 1, 1, 1), (100, 7, 3, 0, 2), (31, 4, 2, 5, 1)])
def test_size_formula_states_the_right_result(size, k, s, p, d):
    text = plain(size_formula("H", size, k, s, (p, p), d))
    assert text == f"H_out = ⌊{size} + 2 · {p} − {d} · ({k} − 1) − 1 / {s}⌋ + 1 = {output_size(size, k, s, p, d)}"


def test_resize_kernel_keeps_the_middle_and_grid_from_flat_pads():
    k = np.arange(9.0).reshape(3, 3)
    big = resize_kernel(k, (5, 5))
    np.testing.assert_array_equal(big[1:4, 1:4], k)
    assert big.sum() == k.sum()
    np.testing.assert_array_equal(resize_kernel(big, (3, 3)), k)
    np.testing.assert_array_equal(resize_kernel(k, (1, 1)), [[4.0]])
    np.testing.assert_array_equal(grid_from_flat([1, 2, 3], (2, 2)), [[1, 2], [3, 0]])
    np.testing.assert_array_equal(grid_from_flat(list(range(9)), (2, 2)), [[0, 1], [2, 3]])


def test_size_formula_shows_uneven_same_padding():
    text = plain(size_formula("W", 10, 4, 1, (1, 2), 1))  # "same" with an even kernel pads 1 left, 2 right
    assert "(1 + 2)" in text and text.endswith("= 10")


def test_cached_results_are_shared_read_only_and_match_the_explainer():
    from pages.widgets import convolution_parts as parts

    k = kernel("Sobel x")
    demo = parts._demo("test:image", IMAGE, tuple(map(tuple, k)), "rgb", 0.25, True, 2, 1, 1, "reflect")
    fresh = apply_kernel(IMAGE, k, colour="rgb", bias=0.25, relu=True, stride=2, padding=1, padding_mode="reflect")
    np.testing.assert_array_equal(demo.output, fresh.output)
    assert not demo.output.flags.writeable and not demo.x.flags.writeable  # one session cannot change another's
    with pytest.raises(ValueError):
        demo.output[0, 0, 0] = 1.0
    pic, f = parts._input_base("test:image", IMAGE, "grey")
    assert f * max(IMAGE.shape[:2]) == max(pic.shape[:2]) and max(pic.shape[:2]) >= 256
