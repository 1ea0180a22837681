"""Figure builders of the Convolution page: compact images, honest colours, the right numbers in cells."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from explainers.convolution import apply_kernel, conv_step, kernel_walk
from explainers.figures import convolution as figs
from tests.unit.overlay import svg_pixels

RNG = np.random.default_rng(11)


def decode(uri: str) -> np.ndarray:
    head, data = uri.split(",", 1)
    assert head in ("data:image/png;base64", "data:image/jpeg;base64")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_diverging_colours_are_centred_on_zero():
    values = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    assert figs.colour_limits(values) == (-2.0, 2.0)
    rgb = figs.colourise(values)
    np.testing.assert_array_equal(rgb[0, 2], [255, 255, 255])  # zero is white
    assert rgb[0, 0, 0] > rgb[0, 0, 2]  # most negative is red
    assert rgb[0, 4, 2] > rgb[0, 4, 0]  # most positive is blue
    np.testing.assert_allclose(rgb[0, 1], (rgb[0, 0].astype(float) + 255) / 2, atol=1)  # half way to red
    assert not figs.is_signed(np.array([0.0, 0.5]))
    grey = figs.colourise(np.array([[0.0, 0.5, 1.0]]))
    np.testing.assert_array_equal(grey[0, :, 0], grey[0, :, 1])  # non-negative maps are grey
    assert grey[0, 0, 0] == 0 and grey[0, 2, 0] == 255


def test_window_of_a_step_reaching_into_padding_is_outlined_clipped_at_the_border():
    image = RNG.random((12, 10, 3))
    step = conv_step(image.transpose(2, 0, 1), np.ones((3, 3, 3)), 0, 0, padding=2, dilation=2)
    assert figs.window_of(step) == (-2, 2, -2, 2)  # the window starts in the padding
    pic, f = figs.upscale(figs.to_uint8(image), 48)
    box = figs.window_box(f, figs.window_of(step))
    framed = pic.copy()
    figs.style.outline(framed, box, figs.WINDOW)
    orange = figs.style.rgb(figs.WINDOW)
    np.testing.assert_array_equal(framed[3 * f, 0], orange)  # the window's right edge, clipped at the border
    # laid over the picture instead (what the page sends), the frame covers the same pixels, cut at the border
    size = (pic.shape[1], pic.shape[0])
    covered = svg_pixels(figs.style.frames_svg([box], size), size)
    np.testing.assert_array_equal(covered, (framed != pic).any(axis=-1))


def test_histogram_counts_every_value():
    values = RNG.normal(size=(3, 20, 20))
    svg = figs.histogram_svg(values, bins=30)
    counts, _ = np.histogram(values, bins=30)
    assert figs.histogram_counts(svg) == [int(c) for c in counts if c]
    assert sum(figs.histogram_counts(svg)) == values.size
    assert svg.startswith('<div class="conv-hist"><svg') and "pixels (log)" in svg and "stroke-dasharray" in svg  # 0 marked
    flat = figs.histogram_svg(np.zeros((4, 4)))
    assert sum(figs.histogram_counts(flat)) == 16


def test_map_previews_give_one_shrunk_picture_per_map():
    maps = RNG.normal(size=(5, 300, 200))
    pictures = figs.map_previews(maps)
    assert len(pictures) == 5
    assert max(pictures[0].shape[:2]) <= 256  # previews are shrunk
    np.testing.assert_array_equal(pictures[2], figs.colourise(maps[2][::2, ::2], figs.colour_limits(maps[2])))
    assert min(figs.map_previews(RNG.normal(size=(1, 8, 8)))[0].shape[:2]) >= 160  # tiny maps are enlarged


def test_colour_output_maps_depthwise_channels_to_rgb():
    maps = np.stack([np.full((4, 4), v) for v in (1.0, 0.0, 0.5)])
    np.testing.assert_allclose(figs.depthwise_picture(maps)[0, 0], [255, 0, 128], atol=1)


def test_photo_pictures_go_as_jpeg_and_maps_as_png():
    pic = (RNG.random((64, 64, 3)) * 255).astype(np.uint8)
    assert figs.picture_bytes(pic, photo=True)[:2] == b"\xff\xd8"
    assert figs.picture_bytes(pic, photo=False)[:8] == b"\x89PNG\r\n\x1a\n"
    back = np.asarray(Image.open(io.BytesIO(figs.picture_bytes(pic, photo=False))))
    np.testing.assert_array_equal(back, pic)  # PNG is lossless


@pytest.mark.parametrize("block", [1, 3, 5])
def test_animation_frames_walk_the_block_and_fill_in_the_output(block):
    image = RNG.random((16, 16, 3))
    demo = apply_kernel(image, np.ones((3, 3)) / 9, colour="rgb", stride=2, padding=1)
    walk = kernel_walk(image, demo.output[0], (4, 4), kernel_size=3, stride=2, padding=1, block=block)
    fig = figs.animation_figure(walk)
    n = block * block
    assert len(fig.frames) == n and len(fig.layout.sliders[0].steps) == n
    last = np.asarray(fig.frames[-1].data[0].z, dtype=float)
    np.testing.assert_allclose(last, walk.output, rtol=1e-6)
    first = np.asarray(fig.frames[0].data[0].z, dtype=float)
    assert np.isfinite(first).sum() == 1
    xs = np.asarray(fig.frames[-1].data[1].x, dtype=float)
    _, cols = walk.taps(block - 1, block - 1)
    centres = np.nanmean(xs.reshape(-1, 6)[:, :4], axis=1)
    np.testing.assert_allclose(np.unique(np.round(centres)), np.unique(cols))
    assert fig.layout.updatemenus[0].buttons[0].label.endswith("Animate")


# --- compact pictures and the step's tables (issue 11 and 13) ---------------------------------------------


def test_map_picture_is_diverging_with_white_at_zero_and_marks_the_pixel():
    from explainers.figures import style
    from explainers.figures.convolution import map_picture, pixel_box

    values = np.array([[-2.0, 0.0], [1.0, 2.0]])
    pic, f = map_picture(values, min_side=64)
    assert pic.shape == (64, 64, 3) and f == 32
    assert tuple(pic[16, 48]) == (255, 255, 255)  # zero is white
    assert tuple(pic[16, 16]) == tuple(style.rgb(style.NEGATIVE).astype(int))  # the most negative is red
    assert tuple(pic[48, 48]) == tuple(style.rgb(style.POSITIVE).astype(int))
    marked = pic.copy()
    style.outline(marked, pixel_box(f, (1, 0)), style.HIGHLIGHT)
    assert tuple(marked[32, 16]) == tuple(style.rgb(style.HIGHLIGHT).astype(int))  # the outline of (1, 0)
    assert (marked[16:31, 16:31] == pic[16:31, 16:31]).all()  # other pixels untouched


def test_window_picture_outlines_the_window_and_step_html_adds_up():
    from explainers.convolution import conv_step
    from explainers.figures import style
    from explainers.figures.convolution import (
        step_html,
        to_uint8,
        upscale,
        window_box,
        window_of,
    )

    x = np.random.default_rng(0).random((1, 8, 8))
    step = conv_step(x, np.array([[[1.0, -2.0], [0.5, 0.25]]]), 3, 4, padding=1)
    assert window_of(step) == (2, 3, 3, 4)
    pic, f = upscale(to_uint8(x[0]), 8)
    style.outline(pic, window_box(f, window_of(step)), style.HIGHLIGHT)

    orange = tuple(style.rgb(style.HIGHLIGHT).astype(int))
    assert pic.shape == (8, 8, 3) and tuple(pic[1, 3]) == orange  # a ring just outside the window
    assert tuple(pic[2, 3]) != orange  # the pixels inside stay visible
    html = step_html(step)
    assert html.count("<table") == 3 and "products, sum" in html

