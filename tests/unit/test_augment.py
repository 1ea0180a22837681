"""Augmentation: each transform checked against torch / torchvision as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers.figures.style import tile
from explainers.training.augment import (
    NONE,
    AugmentConfig,
    affine_matrices,
    augment_batch,
    grayscale,
    preview,
)


def _batch(n=6, c=3, h=16, w=16, seed=0, dtype=torch.uint8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.uint8)
    return x if dtype == torch.uint8 else x.float() / 255.0


def test_no_augmentation_is_identity():
    x = _batch()
    assert augment_batch(x, NONE) is x


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_flip_only_mirrors_some_images_exactly(dtype):
    x = _batch(n=32, dtype=dtype)
    y = augment_batch(x, AugmentConfig(flip=True, crop=False), torch.Generator().manual_seed(1))
    assert y.dtype == x.dtype and y.shape == x.shape
    flipped = [torch.allclose(y[i].float(), x[i].flip(-1).float(), atol=1e-5) for i in range(len(x))]
    same = [torch.allclose(y[i].float(), x[i].float(), atol=1e-5) for i in range(len(x))]
    assert all(f or s for f, s in zip(flipped, same))
    assert 0 < sum(flipped) < len(x)  # about half of 32 are mirrored


@pytest.mark.parametrize("size", [(17, 17), (12, 20)])
def test_rotation_matches_torchvision_rotate(size):
    x = torch.rand(4, 3, *size, generator=torch.Generator().manual_seed(1))
    cfg = AugmentConfig(flip=False, crop=False, rotate=True, max_degrees=40.0)
    y = augment_batch(x, cfg, torch.Generator().manual_seed(5), fill="zeros")
    theta, moved = affine_matrices(4, *size, cfg, torch.Generator().manual_seed(5))  # same draws
    assert moved
    h, w = size
    degrees = torch.rad2deg(torch.atan2(theta[:, 1, 0] * h / w, theta[:, 0, 0]))
    for i in range(4):
        ref = TF.rotate(x[i], float(degrees[i]), interpolation=TF.InterpolationMode.BILINEAR)
        torch.testing.assert_close(y[i], ref, atol=1e-4, rtol=0)


def test_affine_rotation_matrix_is_a_rotation_in_pixel_space():
    cfg = AugmentConfig(flip=False, crop=False, rotate=True, max_degrees=30.0)
    theta, _ = affine_matrices(50, 10, 20, cfg, torch.Generator().manual_seed(3))
    s = torch.diag(torch.tensor([20.0, 10.0]))  # (W, H): normalised -> pixel units
    r = s @ theta[:, :, :2] @ torch.linalg.inv(s)
    eye = torch.eye(2).expand(50, 2, 2)
    torch.testing.assert_close(r @ r.transpose(1, 2), eye, atol=1e-5, rtol=0)
    angles = torch.rad2deg(torch.atan2(r[:, 1, 0], r[:, 0, 0]))
    assert angles.abs().max() <= 30.0 + 1e-4 and angles.std() > 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), lo=st.floats(0.1, 0.9))
def test_crop_stays_inside_the_image(seed, lo):
    cfg = AugmentConfig(flip=True, crop=True, crop_scale=(lo, 1.0))
    theta, _ = affine_matrices(40, 16, 16, cfg, torch.Generator().manual_seed(seed))
    corners = torch.tensor([[-1.0, -1, 1], [1, -1, 1], [-1, 1, 1], [1, 1, 1]]).T  # (3, 4)
    mapped = theta @ corners  # (40, 2, 4): where the output corners sample the input
    assert mapped.abs().max() <= 1.0 + 1e-5
    kept = torch.linalg.det(theta[:, :, :2]).abs()  # fraction of the image area each crop keeps
    assert kept.max() <= 1.0 + 1e-6 and kept.min() >= lo * 0.75 - 1e-6  # 3/4: the widest aspect ratio


def test_crop_of_a_constant_image_is_constant():
    x = torch.full((4, 3, 16, 16), 0.5)
    y = augment_batch(x, AugmentConfig(flip=True, crop=True), torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, x, atol=1e-6, rtol=0)


def test_full_area_crop_without_flip_is_identity():
    x = _batch(n=3, dtype=torch.float32)
    cfg = AugmentConfig(flip=False, crop=True, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    y = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", range(5))
def test_colour_jitter_matches_torchvision(seed):
    x = _batch(n=5, seed=seed, dtype=torch.float32)
    cfg = AugmentConfig(flip=False, crop=False, jitter=True, brightness=0.4, contrast=0.4, saturation=0.4)
    y = augment_batch(x, cfg, torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed)  # replay the same factor draws
    b, c, s = (0.6 + 0.8 * torch.rand(5, generator=g) for _ in range(3))
    for i in range(5):
        ref = TF.adjust_brightness(x[i], float(b[i]))
        ref = TF.adjust_contrast(ref, float(c[i]))
        ref = TF.adjust_saturation(ref, float(s[i]))
        torch.testing.assert_close(y[i], ref, atol=2e-3, rtol=0)


def test_grayscale_matches_torchvision():
    x = _batch(dtype=torch.float32)
    torch.testing.assert_close(grayscale(x), TF.rgb_to_grayscale(x), atol=1e-5, rtol=0)


def test_uint8_in_uint8_out_and_reproducible():
    x = _batch(n=8)
    cfg = AugmentConfig(flip=True, crop=True, rotate=True, jitter=True)
    a = augment_batch(x, cfg, torch.Generator().manual_seed(7))
    b = augment_batch(x, cfg, torch.Generator().manual_seed(7))
    c = augment_batch(x, cfg, torch.Generator().manual_seed(8))
    assert a.dtype == torch.uint8 and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_single_channel_batches_work():
    x = _batch(n=4, c=1)
    y = augment_batch(x, AugmentConfig(flip=True, crop=True, rotate=True, jitter=True))
    assert y.shape == x.shape


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="batch"):
        augment_batch(torch.zeros(3, 8, 8), AugmentConfig())


def test_preview_and_tile():
    img = _batch(n=1)[0]
    grid = preview(img, AugmentConfig(flip=True, crop=True, rotate=True), n=8, seed=2)
    assert grid.shape == (8, 16, 16, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[0], img.permute(1, 2, 0).numpy())  # the original comes first
    assert any(not np.array_equal(grid[0], g) for g in grid[1:])
    t = tile(grid, 4, pad=2)  # the one mosaic helper, explainers.figures.style.tile
    assert t.shape == (2 * 16 + 2, 4 * 16 + 3 * 2, 3)
    np.testing.assert_array_equal(t[18:34, 18:34], grid[5])


def test_describe():
    assert AugmentConfig(flip=True, crop=False).describe() == "flip"
    assert NONE.describe() == "none"


def test_names_and_the_engine_seam():
    from explainers.training.augment import OPERATIONS, augment_named, config_from_names

    cfg = config_from_names(("flip", "jitter"))
    assert cfg.flip and cfg.jitter and not cfg.crop and not cfg.rotate
    assert config_from_names(OPERATIONS).describe() == "flip + crop + rotate + jitter"
    with pytest.raises(ValueError, match="unknown augmentation 'zoom'"):
        config_from_names(("zoom",))
    x = _batch(n=4, dtype=torch.float32) * 255.0
    a = augment_named(x, ("flip", "crop", "jitter"), torch.Generator().manual_seed(0))
    b = augment_batch(x / 255.0, config_from_names(("flip", "crop", "jitter")), torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b * 255.0)
    assert a.max() <= 255.0 + 1e-4 and a.max() > 2.0
