"""Drawn-digit preprocessing: resizing checked against torch's anti-aliased interpolate,
centring against an independent centre-of-mass computation and torch.roll."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from explainers.drawing import (
    CANVAS_SIZE,
    FIT_SIZE,
    centre_of_mass,
    fit_into,
    ink_box,
    preprocess_drawing,
    shift_image,
    to_ink,
)


def _stroke_canvas(points, width, size=(280, 280), mode="RGBA"):
    """A canvas like the drawable canvas returns: transparent with black strokes."""
    img = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else "white")
    ImageDraw.Draw(img).line(points, fill="black", width=width, joint="curve")
    return np.asarray(img)


strokes = st.lists(
    st.tuples(st.integers(10, 270), st.integers(10, 270)), min_size=2, max_size=6
)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 60), st.integers(3, 60), st.integers(0, 10_000))
def test_fit_into_matches_torch_antialiased_bilinear(h, w, seed):
    x = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    fitted = fit_into(x)
    assert max(fitted.shape) == FIT_SIZE
    assert abs(fitted.shape[0] / fitted.shape[1] - h / w) <= (h / w) * 2 / min(fitted.shape) + 1e-9
    # Anti-aliased bilinear is separable: resize the rows, then the columns. (torch's single
    # call disagrees with itself and with Pillow when the output is 1 pixel wide, e.g. 41x3.)
    t = torch.from_numpy(x)[None, None]
    t = F.interpolate(t, size=(fitted.shape[0], w), mode="bilinear", antialias=True, align_corners=False)
    oracle = F.interpolate(t, size=fitted.shape, mode="bilinear", antialias=True, align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(fitted, np.clip(oracle, 0, 1), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(strokes, st.integers(6, 30))
@example(points=[(10, 43), (10, 10), (42, 11)], width=6)  # mass in a corner of its box: the shift is clamped
def test_preprocess_centres_the_mass_and_keeps_the_ink(points, width):
    steps = preprocess_drawing(_stroke_canvas(points, width))
    assert steps.final.shape == (CANVAS_SIZE, CANVAS_SIZE)
    assert steps.final.dtype == np.float32
    assert 0.0 <= steps.final.min() and steps.final.max() <= 1.0
    assert max(steps.fitted.shape) == FIT_SIZE
    # The box really is the ink's bounding box.
    top, bottom, left, right = steps.box
    ys, xs = np.nonzero(steps.ink > 0.1)
    assert (top, bottom, left, right) == (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
    # Shifting never loses ink, and equals torch.roll when nothing crosses an edge.
    np.testing.assert_allclose(steps.final.sum(), steps.centred_geometric.sum(), rtol=1e-5)
    rolled = torch.roll(torch.from_numpy(steps.centred_geometric), shifts=steps.shift, dims=(0, 1)).numpy()
    np.testing.assert_array_equal(steps.final, rolled)
    # Independent centre of mass, weighted mean of coordinates.
    w = steps.final.astype(np.float64)
    cy = (w.sum(axis=1) * np.arange(CANVAS_SIZE)).sum() / w.sum()
    cx = (w.sum(axis=0) * np.arange(CANVAS_SIZE)).sum() / w.sum()
    np.testing.assert_allclose(steps.centre_of_mass, (cy, cx), atol=1e-6)
    # The mass lands within half a pixel of the middle, unless that would push ink off the edge:
    # then the shift stops with the ink touching the edge it was moving towards (a stroke whose
    # mass sits in one corner of its box, e.g. points=[(10, 43), (10, 10), (42, 11)]).
    rows, cols = np.flatnonzero(steps.final.any(axis=1)), np.flatnonzero(steps.final.any(axis=0))
    for c, occupied in ((cy, rows), (cx, cols)):
        off = c - CANVAS_SIZE / 2
        if abs(off) > 0.5 + 1e-9:
            assert (occupied[0] == 0) if off > 0 else (occupied[-1] == CANVAS_SIZE - 1), (off, occupied)


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L"])
def test_to_ink_reads_dark_on_light_and_transparent(mode):
    points = [(60, 60), (200, 220)]
    if mode == "L":
        img = Image.new("L", (100, 80), 255)
        ImageDraw.Draw(img).line([(10, 10), (90, 70)], fill=0, width=5)
        canvas = np.asarray(img)
    else:
        canvas = _stroke_canvas(points, 12, mode=mode)
    ink = to_ink(canvas)
    assert ink.shape == canvas.shape[:2]
    assert ink.max() == pytest.approx(1.0) and ink[0, 0] == 0.0


def test_to_ink_white_on_black_and_floats():
    img = np.zeros((40, 40), dtype=np.float32)
    img[10:30, 18:22] = 1.0
    np.testing.assert_array_equal(to_ink(img), img)
    np.testing.assert_array_equal(to_ink(np.stack([img * 255] * 3, axis=2).astype(np.uint8)), img)


def test_empty_canvas_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        preprocess_drawing(np.zeros((200, 200, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="shape"):
        to_ink(np.zeros((5, 5, 2)))


def test_ink_box_and_shift_edges():
    ink = np.zeros((10, 12), dtype=np.float32)
    ink[2:5, 7:9] = 1.0
    assert ink_box(ink) == (2, 5, 7, 9)
    moved = shift_image(ink, -3, 2)  # row 2 falls off the top
    expected = torch.roll(torch.from_numpy(ink), (-3, 2), (0, 1))
    expected[-3:, :] = 0  # a roll wraps the rows it pushes out around; a shift drops them
    expected[:, :2] = 0
    np.testing.assert_array_equal(moved, expected.numpy())
    assert moved.sum() == 4.0
    assert centre_of_mass(ink) == pytest.approx((3.0, 7.5))


def test_a_thin_vertical_stroke_stays_thin():
    canvas = _stroke_canvas([(140, 30), (140, 250)], 20)
    steps = preprocess_drawing(canvas)
    assert steps.fitted.shape[0] == FIT_SIZE and steps.fitted.shape[1] < 6
