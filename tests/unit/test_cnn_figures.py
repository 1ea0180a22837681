"""Figures of the whole-CNN page: the clickable network picture maps clicks back to units; sums show real numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from explainers import cnn
from explainers.figures import cnn as fig
from explainers.figures import style
from explainers.training.cnn import build_cnn, run_layers
from tests.unit.overlay import svg_pixels

ORANGE = np.array(fig.PICK, dtype=np.uint8)


@pytest.fixture(scope="module")
def layers():
    rng = np.random.default_rng(0)
    return run_layers(build_cnn(0), rng.uniform(0, 1, (28, 28)).astype(np.float32))


def _units(layers):
    for li, layer in enumerate(layers):
        if len(layer.shape) == 3:
            c, h, w = layer.shape
            yield from ((li, ch, r, q) for ch, r, q in itertools.product(range(c), range(h), range(w)))
        else:
            yield from ((li, u, 0, 0) for u in range(layer.shape[0]))


def test_every_unit_is_drawn_where_a_click_finds_it(layers):
    pic = fig.network_picture(layers)
    seen = set()
    for h in pic.hits:
        n_rows = (h.y1 - h.y0) // h.cell_h
        n_cols = (h.x1 - h.x0) // h.cell_w if h.cell_w else 1
        for r, q in itertools.product(range(n_rows), range(n_cols)):
            x = h.x0 + (q + 0.5) * (h.cell_w or (h.x1 - h.x0))
            y = h.y0 + (r + 0.5) * h.cell_h
            seen.add(pic.unit_at(x, y))
    assert seen == set(_units(layers))  # each unit once, nothing else
    assert pic.unit_at(0, 0) is None  # the margin picks nothing
    w, h = pic.size
    assert pic.image.shape == (h, w, 3) and pic.image.dtype == np.uint8
    assert w <= 1100 and h <= 560  # fits a laptop screen next to nothing else


def test_the_maps_show_the_activations_colours(layers):
    pic = fig.network_picture(layers)
    conv1 = layers[1]
    limit = float(np.abs(conv1.activation).max())
    hit = next(h for h in pic.hits if h.layer == 1 and h.channel == 2)
    for r, q in [(0, 0), (5, 17), (25, 25)]:
        px = pic.image[hit.y0 + r * hit.cell_h + 1, hit.x0 + q * hit.cell_w + 1]
        np.testing.assert_array_equal(px, fig.colour(conv1.activation[2, r, q], limit))
    relu_hit = next(h for h in pic.hits if h.layer == 2 and h.channel == 2)
    zero = np.argwhere(layers[2].activation[2] == 0)[0]
    px = pic.image[relu_hit.y0 + zero[0] * relu_hit.cell_h + 1, relu_hit.x0 + zero[1] * relu_hit.cell_w + 1]
    np.testing.assert_array_equal(px, [255, 255, 255])  # ReLU's zeros are white


def test_colour_scale_is_signed_and_saturates():
    np.testing.assert_array_equal(fig.colour(0.0, 1.0), [255, 255, 255])
    np.testing.assert_array_equal(fig.colour(5.0, 1.0), fig.POSITIVE.astype(np.uint8))
    np.testing.assert_array_equal(fig.colour(-1.0, 1.0), fig.NEGATIVE.astype(np.uint8))
    np.testing.assert_array_equal(fig.grey(np.array([0.0, 1.0])), [[255] * 3, [0] * 3])


@pytest.mark.parametrize("pick", [(4, 5, 3, 4), (6, 1, 2, 2), (8, 3, 0, 0), (7, 30, 0, 0), (9, 1, 0, 0)])
def test_the_receptive_window_is_framed_in_every_layer_it_reaches(layers, pick):
    windows = cnn.receptive_windows(*pick)
    pic = fig.network_picture(layers, pick, windows)
    plain = fig.network_picture(layers)
    for win in windows:
        for ch in win.channels:
            hit = next(h for h in pic.hits if h.layer == win.layer and h.channel == ch)
            # The frame runs one pixel outside the window's top-left corner.
            y = hit.y0 + win.top * hit.cell_h - 1
            x = hit.x0 + win.left * hit.cell_w - 1
            np.testing.assert_array_equal(pic.image[y, x + 2], ORANGE)
    assert (pic.image != plain.image).any(axis=-1).sum() > 0
    # Maps the unit does not depend on are left alone (pool2 keeps to its own map).
    if pick[0] == 6:
        other = next(h for h in pic.hits if h.layer == 6 and h.channel == 0)
        np.testing.assert_array_equal(pic.image[other.y0:other.y1, other.x0:other.x1],
                                      plain.image[other.y0:other.y1, other.x0:other.x1])


def _cells(svg: str) -> list[tuple[str, float, str, str]]:
    """(hover title, exact value, printed number, fill colour) of each cell of an SVG grid, in drawing order."""
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(svg).find("s:svg", ns)
    out = []
    for g in root.findall("s:g[@class='cell']", ns):
        title = g.find("s:title", ns).text
        out.append((title, float(title.rsplit(": ", 1)[1]), g.find("s:text", ns).text, g.find("s:rect", ns).get("fill")))
    return out


def test_conv_sum_figure_prints_the_real_numbers(layers):
    ws = cnn.conv_unit(layers[3].activation, layers[4].weight, layers[4].bias, 2, 1, 1)
    cells = _cells(fig.conv_sum_figure(ws, "pool1"))  # an SVG now (issue 11): numbers printed, exact on hover
    assert len(cells) == 4 * 3 * 9  # window, kernel, products (3×3 each) for each of the 4 input maps
    kernel = [c for c in cells if c[0].startswith("× kernel, map 0,")]
    np.testing.assert_allclose([c[1] for c in kernel], layers[4].weight[2, 0].ravel(), atol=5e-5)
    assert kernel[0][2] == fig._fmt(float(layers[4].weight[2, 0, 0, 0]))
    products = [c[1] for c in cells if c[0].startswith("= products, map 0,")]
    np.testing.assert_allclose(products, ws.products[0].ravel(), atol=5e-5)
    window = [c for c in cells if c[0].startswith("window of pool1, map 3,")]
    np.testing.assert_allclose([c[1] for c in window], ws.inputs[3].ravel(), atol=5e-5)
    # Colours: one signed scale per column (white at 0, blue > 0, red < 0), as in the network picture.
    limit = float(np.abs(ws.weights).max())
    for (title, _, _, fill), w in zip(kernel, layers[4].weight[2, 0].ravel()):
        assert fill == fig._hex(fig.colour(w, limit)), title


def test_window_figure_frames_the_winner(layers):
    import xml.etree.ElementTree as ET

    window = cnn.maxpool_unit(layers[5].activation, 0, 1, 1)
    winner = np.unravel_index(int(np.argmax(window)), window.shape)
    svg = fig.window_figure(window, "the 2×2 block of relu2", winner)
    cells = _cells(svg)
    np.testing.assert_allclose([c[1] for c in cells], window.ravel(), atol=5e-5)
    frame = ET.fromstring(svg).find(".//{http://www.w3.org/2000/svg}rect[@class='winner']")
    assert (float(frame.get("x")) - 2) // 60 == winner[1] and (float(frame.get("y")) - 30) // 60 == winner[0]


def test_linear_sum_figure_shows_the_biggest_terms_first(layers):
    ws = cnn.linear_unit(layers[7].activation, layers[8].weight, layers[8].bias, 4)
    top = cnn.top_terms(ws, 10)
    f = fig.linear_sum_figure(ws, top, [f"x{i}" for i in range(200)])
    bars = np.asarray(f.data[0].x)
    assert len(bars) == 10 and np.all(np.diff(np.abs(bars)) <= 0)
    assert abs(bars[0]) == pytest.approx(np.abs(ws.products).max())


def test_numbers_in_cells_never_read_minus_zero():
    assert fig._fmt(-0.0) == "0.00" and fig._fmt(0.004) == "4e-03" and fig._fmt(-1.234) == "-1.23"


def test_zoom_image_frames_the_window():
    w = cnn.Window(0, 2, 5, 3, 7, (0,))
    img = fig.zoom_image(np.zeros((28, 28)), w, scale=8, signed=False)
    assert img.shape == (224, 224, 3)
    np.testing.assert_array_equal(img[2 * 8, 3 * 8 + 4], ORANGE)
    np.testing.assert_array_equal(img[0, 0], [255, 255, 255])


def test_picks_drawn_on_a_cached_base_equal_the_picture_drawn_from_scratch(layers):
    base = fig.network_base(layers)
    pick = (4, 3, 5, 6)
    windows = cnn.receptive_windows(*pick)
    cached = fig.network_picture(layers, pick, windows, base=base)
    np.testing.assert_array_equal(cached.image, fig.network_picture(layers, pick, windows).image)
    assert cached.hits == base.hits
    assert not (base.image == ORANGE).all(axis=-1).any()  # the frames went on a copy, never on the cached base


def test_png_bytes_decode_to_the_same_pixels(layers):
    import io

    from PIL import Image

    rgb = fig.network_picture(layers, (1, 0, 3, 4), cnn.receptive_windows(1, 0, 3, 4)).image
    data = fig.png_bytes(rgb)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), rgb)
    assert len(data) < 200_000  # compressed: the raw picture is 1.6 MB


def test_fast_figures_are_valid_plotly(layers):
    """The fully connected unit's bars skip plotly's validation at runtime; validated here, they must come out the same."""
    import plotly.graph_objects as go

    fc = layers[8]
    lin = cnn.linear_unit(layers[7].activation, fc.weight, fc.bias, 4)
    f = fig.linear_sum_figure(lin, cnn.top_terms(lin, 10), [f"x{i}" for i in range(lin.terms)])
    plain = f.to_dict()
    assert go.Figure(plain).to_dict() == plain


@pytest.mark.parametrize("pick", [(1, 0, 3, 4), (4, 3, 5, 6), (6, 1, 2, 2), (7, 30, 0, 0), (8, 3, 0, 0),
                                  (9, 1, 0, 0), (7, 191, 0, 0), (0, 0, 27, 27)])
def test_the_frames_laid_over_the_picture_cover_the_pixels_drawn_into_it(layers, pick):
    base = fig.network_base(layers)
    windows = cnn.receptive_windows(*pick)
    drawn = (fig.network_picture(layers, pick, windows, base=base).image == ORANGE).all(axis=-1)
    frames = fig.pick_frames(layers, base, pick, windows)
    svg = style.frames_svg(frames, base.picture.size)
    assert drawn.any() and svg.count("<rect") == len(frames)
    np.testing.assert_array_equal(svg_pixels(svg, base.picture.size), drawn)
    assert f'viewBox="0 0 {base.image.shape[1]} {base.image.shape[0]}"' in svg


def test_the_base_picture_is_encoded_once(layers):
    base = fig.network_base(layers)
    assert base.png is base.png and base.png == fig.png_bytes(base.image)
    assert base.picture.hits == base.hits and base.picture.image is base.image
