"""The named kernel bank: sizes, sums, and that embedding a kernel in a bigger zero grid changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainers.convolution import conv2d
from explainers.kernels import KERNELS, embed_centered, gaussian, kernel

BLURS = ["Box blur 3×3", "Box blur 5×5", "Gaussian blur 3×3", "Gaussian blur 5×5", "Gaussian blur 7×7",
         "Motion blur 7×7", "Identity", "Sharpen", "Unsharp mask 5×5"]
EDGES = ["Sobel x", "Sobel y", "Prewitt x", "Prewitt y", "Laplacian", "Outline", "Laplacian of Gaussian 7×7",
         "Horizontal lines 5×5"]


def test_bank_has_the_promised_kernels():
    for name in [*BLURS, *EDGES, "Emboss"]:
        assert name in KERNELS
    sizes = {KERNELS[n].weights.shape for n in KERNELS}
    assert {(3, 3), (5, 5), (7, 7)} <= sizes
    for k in KERNELS.values():
        assert np.isfinite(k.weights).all() and k.about


@pytest.mark.parametrize("name", BLURS)
def test_brightness_keeping_kernels_sum_to_one(name):
    np.testing.assert_allclose(kernel(name).sum(), 1.0, atol=1e-12)


@pytest.mark.parametrize("name", EDGES)
def test_edge_kernels_ignore_flat_areas(name):
    np.testing.assert_allclose(kernel(name).sum(), 0.0, atol=1e-12)


def test_gaussian_is_binomial_and_symmetric():
    g = gaussian(5)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g[2], np.array([1, 4, 6, 4, 1]) * 6 / 256)


def test_sobel_orientation_matches_torch_on_a_vertical_edge():
    x = np.zeros((1, 6, 6))
    x[:, :, 3:] = 1.0  # dark left, bright right
    got = conv2d(x, kernel("Sobel x")[None, None])
    ref = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(kernel("Sobel x"))[None, None])[0].numpy()
    np.testing.assert_allclose(got, ref)
    assert got.max() > 0 and np.abs(conv2d(x, kernel("Sobel y")[None, None])).max() == 0


def test_embedding_kernels_for_a_bank_keeps_each_map():
    rng = np.random.default_rng(3)
    x = rng.random((1, 20, 24))
    names = ["Sobel x", "Gaussian blur 5×5", "Laplacian of Gaussian 7×7"]
    bank = np.stack([embed_centered(kernel(n), (7, 7)) for n in names])[:, None]
    got = conv2d(x, bank, padding="same")
    for i, n in enumerate(names):
        single = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(kernel(n))[None, None], padding="same")
        np.testing.assert_allclose(got[i], single[0, 0].numpy(), atol=1e-12)
    with pytest.raises(ValueError):
        embed_centered(np.ones((5, 5)), (3, 3))


def test_kernel_returns_a_copy():
    k = kernel("Identity")
    k[:] = 7
    assert kernel("Identity").sum() == 1
