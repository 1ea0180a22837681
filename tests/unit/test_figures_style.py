"""The one style module every figure builder shares: palette, layout, picture encoding, mosaics."""

from __future__ import annotations

import base64
import io
import pathlib
import re

import numpy as np
import plotly.graph_objects as go
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from explainers.figures import style
from tests.unit.overlay import svg_pixels

RNG = np.random.default_rng(11)
FIGURES = pathlib.Path(style.__file__).parent


def decode(uri: str) -> np.ndarray:
    head, data = uri.split(",", 1)
    assert head in ("data:image/png;base64", "data:image/jpeg;base64")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_small_pictures_travel_as_exact_png_and_big_ones_as_jpeg():
    small = (RNG.random((20, 30, 3)) * 255).astype(np.uint8)
    assert style.image_data_uri(small).startswith("data:image/png")
    np.testing.assert_array_equal(decode(style.image_data_uri(small)), small)
    smooth = np.repeat(np.linspace(0, 255, 512)[None, :, None], 512, axis=0).repeat(3, axis=2).astype(np.uint8)
    uri = style.image_data_uri(smooth)
    assert uri.startswith("data:image/jpeg")
    assert np.abs(decode(uri).astype(int) - smooth).max() <= 6
    assert len(uri) < 200_000  # compact: a 512×512 picture is not a JSON array of 786,432 numbers


def test_lossless_pictures_stay_exact_png_at_any_size():
    big = (RNG.random((200, 300, 3)) * 255).astype(np.uint8)
    uri = style.image_data_uri(big, lossless=True)
    assert uri.startswith("data:image/png")
    np.testing.assert_array_equal(decode(uri), big)
    grey = (RNG.random((9, 7)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(decode(style.image_data_uri(grey))[..., 0], grey)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 13), st.integers(1, 6), st.integers(0, 3))
def test_tile_puts_every_image_in_its_cell(n, cols, pad):
    imgs = np.random.default_rng(n).random((n, 4, 5))
    mosaic = style.tile(imgs, cols, pad=pad, fill=-1.0)
    cols = min(cols, n)
    for i in range(n):
        r, c = divmod(i, cols)
        np.testing.assert_array_equal(mosaic[r * (4 + pad): r * (4 + pad) + 4, c * (5 + pad): c * (5 + pad) + 5], imgs[i])
    assert mosaic.shape == (-(-n // cols) * (4 + pad) - pad, cols * (5 + pad) - pad)


def test_tile_keeps_colour_channels_and_fills_gaps():
    imgs = np.zeros((3, 2, 2, 3), np.uint8)
    mosaic = style.tile(imgs, 2, pad=1)
    assert mosaic.shape == (5, 5, 3) and mosaic.dtype == np.uint8
    assert (mosaic[2] == 255).all() and (mosaic[:, 2] == 255).all()  # the gaps
    assert (mosaic[3:, 3:] == 255).all()  # the empty last cell


def test_colour_language():
    assert style.CLASS_COLOURS[0] != style.CLASS_COLOURS[1]
    assert style.POSITIVE == style.DIVERGING[-1][1] and style.NEGATIVE == style.DIVERGING[0][1]
    assert style.DIVERGING[1] == [0.5, style.WHITE]  # white exactly at zero
    assert style.CLASS_SCALE[0][1] == style.CLASS_COLOURS[0] and style.CLASS_SCALE[-1][1] == style.CLASS_COLOURS[1]
    np.testing.assert_array_equal(style.rgb("#2563eb"), [37, 99, 235])
    assert style.rgba(style.BLUE, 0.5) == "rgba(37,99,235,0.50)"
    for name, value in vars(style).items():
        if name.isupper() and isinstance(value, str) and value.startswith("#"):
            assert re.fullmatch(r"#[0-9a-f]{6}", value), name


def test_every_hex_colour_is_defined_once_in_the_style_module():
    for path in FIGURES.glob("*.py"):
        if path.name != "style.py":
            found = re.findall(r"[\"']#[0-9a-fA-F]{6}[\"']", path.read_text())
            assert not found, f"{path.name} defines colours of its own: {found}; use explainers.figures.style"


def test_layout_is_one_validated_dict():
    lay = style.layout(300, "A title", legend="below", margin={"l": 1, "r": 2, "t": 3, "b": 4}, bargap=0)
    fig = go.Figure(layout=lay)  # plotly validates every key
    assert fig.layout.height == 300 and fig.layout.title.text == "A title" and fig.layout.bargap == 0
    assert fig.layout.margin.l == 1 and fig.layout.legend.orientation == "h"
    assert fig.layout.showlegend is None  # plotly decides from the traces
    hidden = go.Figure(layout=style.layout(200))
    assert hidden.layout.showlegend is False and hidden.layout.title.text is None
    assert hidden.layout.margin.t < go.Figure(layout=style.layout(200, "t")).layout.margin.t  # room for a title
    assert style.styled(go.Figure(), 250, legend="above").layout.legend.yanchor == "bottom"
    assert "template" not in style.layout(100)  # validating a template costs ~30 ms a figure: pictures skip it
    assert style.layout(100, grid=True)["template"] == "plotly_white"  # charts of numbers get grid lines


def test_diverging_rgb_is_white_at_zero_and_full_at_the_limit():
    v = np.array([[-2.0, -1.0, 0.0], [0.5, 1.0, np.nan]])
    c = style.diverging_rgb(v, 1.0)
    assert c.shape == (2, 3, 3) and c.dtype == np.uint8
    np.testing.assert_array_equal(c[0, 0], style.rgb(style.NEGATIVE))  # clipped beyond the limit
    np.testing.assert_array_equal(c[0, 1], style.rgb(style.NEGATIVE))
    np.testing.assert_array_equal(c[0, 2], [255, 255, 255])
    np.testing.assert_array_equal(c[1, 1], style.rgb(style.POSITIVE))
    np.testing.assert_array_equal(c[1, 2], [255, 255, 255])  # a gap (NaN) is white
    half = (255 + style.rgb(style.POSITIVE)) / 2
    assert np.abs(c[1, 0].astype(float) - half).max() <= 0.5  # linear between white and blue


def test_figure_html_carries_the_picture_and_escapes_what_a_learner_named():
    from explainers.figures import convolution as figs

    png = figs.png_bytes(np.zeros((4, 6, 3), np.uint8))
    html = style.figure_html(png, 'Input: "<b>x</b>.png" (4×6)', alt="a <photo>", click="output",
                             after="<div>key</div>")
    uri = html.split('src="', 1)[1].split('"', 1)[0]
    assert decode(uri).shape == (4, 6, 3)  # the very bytes, as a data URI
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html and 'alt="a &lt;photo&gt;"' in html
    assert 'data-nl-click="output"' in html and html.endswith("<div>key</div></figure>")
    jpeg = figs.picture_bytes(np.zeros((8, 8, 3), np.uint8), photo=True)
    assert style.data_uri(jpeg).startswith("data:image/jpeg;base64,")
    assert "data-nl-click" not in style.figure_html(png, "map", alt="map")
    grid = style.figure_html(png, "map", alt="map", pick=("pool_row", "pool_col", 16, 12))
    assert 'data-nl-pick="pool_row pool_col" data-nl-grid="16 12" draggable="false"' in grid
    assert style.bold_html("max(1, <2>) = **3**") == "max(1, &lt;2&gt;) = <b>3</b>"


def test_an_overlay_sits_over_the_picture_it_frames_and_takes_its_size():
    from explainers.figures import convolution as figs

    png = figs.png_bytes(np.zeros((4, 6, 3), np.uint8))
    svg = '<svg class="nl-overlay" viewBox="0 0 6 4"><rect x="1" y="1" width="2" height="2"/></svg>'
    html = style.figure_html(png, "net", alt="net", click="network", overlay=svg, width=300)
    # the picture and its frames in one box sized as the picture would be: the frames scale with it
    assert html.startswith('<figure class="nl-figure"><div class="nl-over" style="width:300px;max-width:100%"><img ')
    assert f'draggable="false">{svg}</div><figcaption>net</figcaption>' in html  # the img itself is not resized
    assert "nl-over" not in style.figure_html(png, "net", alt="net", width=300)


def test_metrics_html_escapes_labels_values_and_help():
    from explainers.figures.style import metrics_html

    html = metrics_html([("Max <pooling> output", "16×16", ""), ("Average", "8&8", 'No "dilation"')])
    assert html.count('class="nl-metric"') == 2 and '<div class="nl-metric"><div class="nl-metric-label">Max' in html
    assert "Max &lt;pooling&gt; output" in html and "8&amp;8" in html and 'title="No &quot;dilation&quot;"' in html


def test_metrics_html_shows_a_change_as_st_metric_does_for_a_loss():
    from explainers.figures.style import metrics_html

    items = [("Final loss", "0.05", ""), ("Accuracy", "90%", ""), ("Loss", "4.2", ""), ("Same", "1", "")]
    html = metrics_html(items, deltas=[(-1.5, "-1.5"), None, (2.0, "+2 <huge>"), (0.0, "0")])
    boxes = html.split('<div class="nl-metric"')[1:]
    assert '<div class="nl-metric-delta nl-good">↓ -1.5</div>' in boxes[0]  # a fall: green, down
    assert "nl-metric-delta" not in boxes[1]  # no change given: none shown
    assert '<div class="nl-metric-delta nl-bad">↑ +2 &lt;huge&gt;</div>' in boxes[2]  # a rise: red, up, escaped
    assert '<div class="nl-metric-delta "> 0</div>' in boxes[3]  # no change: neither colour nor arrow
    assert metrics_html(items[:1], deltas=[None]) == metrics_html(items[:1])


def test_an_svg_figure_is_an_image_of_the_document_as_built():
    svg = '<svg xmlns="http://www.w3.org/2000/svg" aria-label="η"><text>"x" &amp; y</text></svg>'
    html = style.svg_figure_html(svg, alt='The "loss"')
    uri = html.split('src="', 1)[1].split('"', 1)[0]
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.removeprefix("data:image/svg+xml;base64,")).decode() == svg
    assert html.startswith('<figure class="nl-figure"><img ') and 'alt="The &quot;loss&quot;"' in html


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-8, 40), st.integers(0, 30), st.integers(-8, 40), st.integers(0, 30),
                          st.integers(1, 6)), min_size=1, max_size=4))
def test_frames_laid_over_a_picture_cover_the_pixels_outline_paints_into_it(boxes):
    """Borders in and out of the picture, thin and thick, boxes narrower than two borders (filled); every box at
    least one border across, as every frame a page draws is."""
    boxes = [(r0, r0 + t + dr, c0, c0 + t + dc, t) for r0, dr, c0, dc, t in boxes]
    picture = np.zeros((24, 32, 3), np.uint8)
    for box in boxes:
        style.outline(picture, box, style.HIGHLIGHT)
    svg = style.frames_svg(boxes, (32, 24))
    assert svg.startswith('<svg class="nl-overlay" viewBox="0 0 32 24"')
    np.testing.assert_array_equal(svg_pixels(svg, (32, 24)), picture.any(axis=-1))
