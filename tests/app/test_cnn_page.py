"""The "A whole CNN" page in AppTest: defaults, every layer picked, links with settings, uploads good and bad."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from explainers import cnn
from explainers.formula_html import plain
from pages.widgets.cnn_parts import INDEX_PANEL
from tests.app.harness import (
    move_panel,
    open_snippets,
    panel,
    panel_value,
    run_page,
)

TIMEOUT = 300  # the first run trains the small CNN (seconds; more on a busy machine)


def run(query: dict | None = None) -> AppTest:
    return run_page("cnn.py", query, timeout=TIMEOUT)


def formula(at: AppTest) -> str:
    """The picked unit's formula, as text: the last paragraph of its panel (HTML)."""
    html = unit(at)["picture"]
    return plain(html[html.rindex('<p class="nl-eq">'):])


def unit(at: AppTest) -> dict:
    """What the unit panel (pages/widgets/cnn_parts.unit_panel) shows: its controls and its HTML."""
    return panel(at, "cnn_unit_panel")


def controls(at: AppTest) -> list[str]:
    return [c["label"] for c in unit(at)["controls"]]


def index_range(at: AppTest) -> dict:
    """The test image's range (pages/widgets/cnn_parts.digit_input): its label, bounds and value."""
    (control,) = panel(at, INDEX_PANEL)["controls"]
    return control


def layer(at: AppTest) -> str:
    """The layer the unit panel shows (its first range)."""
    return panel_value(at, "cnn_unit_panel", "cnn_layer")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def digit_png(invert: bool = False) -> bytes:
    """A drawn '1': a thick vertical stroke (dark on white, or light on dark)."""
    im = Image.new("L", (120, 160), 0 if invert else 255)
    ImageDraw.Draw(im).line([(60, 20), (60, 140)], fill=255 if invert else 0, width=16)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_default_page_shows_the_network_the_unit_and_the_parameters():
    at = run()
    assert at.title[0].value == "A whole CNN"
    assert not at.slider and index_range(at)["label"] == "Test image" and index_range(at)["hi"] == 999
    assert controls(at) == ["Layer", "Channel", "Row", "Column"]
    assert not at.select_slider and layer(at) == "conv1"  # the layer is a range of the unit panel
    assert [c["labels"] for c in unit(at)["controls"]][0] == list(cnn.LAYER_NAMES)
    assert metric(at, "Prediction").split()[0] in "0123456789"
    assert formula(at).startswith("conv1[0,12,12] = ∑ x · w + b = ") and "9 products" in formula(at)
    assert not at.get("plotly_chart")  # the multiply-and-sum is an SVG (issue 11): no plotly chart to redraw
    html = unit(at)["picture"]
    assert html.count('class="cnn-sum"') == 1 and html.count('class="cell"') == 27  # window, kernel, products
    assert html.count('data-nl-click="network"') == 1 and "<b>conv1[0, 12, 12] = " in html
    table = at.table[0].value
    assert list(table["parameters"]) == ["40", "0", "0", "296", "0", "0", "0", "2,010", "0"]
    assert any("2,122,640" in m.value for m in at.markdown)  # conv1 as a dense layer
    open_snippets(at)
    assert "nn.Conv2d(1, 4, kernel_size=3)" in at.code[0].value
    assert "acts['conv1'][0, 0, 12, 12]" in at.code[0].value  # the snippet redoes the picked unit


def test_every_layer_can_be_picked_and_its_sum_is_the_torch_value():
    at = run()
    open_snippets(at)  # it stays open as the layer moves
    for name in cnn.LAYER_NAMES:
        move_panel(at, "cnn_unit_panel", {"cnn_layer": name})
        assert layer(at) == name
        heading = unit(at)["picture"].split(f"<b>{name}[", 1)[1].split("</b>", 1)[0]
        assert " = " in heading
        assert f"{name} unit" in at.code[0].value  # the snippet checks this very unit
    assert index_range(at)["value"] == 0 and controls(at) == ["Layer", "Unit"]
    assert at.query_params["cnn_layer"] == "softmax"


def test_sliders_clamp_when_the_layer_shrinks():
    at = run({"cnn_layer": "conv1", "cnn_row": "25", "cnn_col": "25", "cnn_ch": "3"})
    assert panel_value(at, "cnn_unit_panel", "cnn_row") == 25
    move_panel(at, "cnn_unit_panel", {"cnn_layer": "pool2"})
    assert [panel_value(at, "cnn_unit_panel", k) for k in ("cnn_ch", "cnn_row", "cnn_col")] == [3, 4, 4]
    assert [c["hi"] for c in unit(at)["controls"]][1:] == [7, 4, 4]  # pool2: 8 maps of 5×5
    assert formula(at).startswith("pool2[3,4,4] = max(")


def _centre_of(layer: str, channel: int, row: int, col: int) -> dict:
    """Where unit (channel, row, col) of a map layer sits in the network picture, as the panel sends a click there.

    The picture's geometry depends on the layers' shapes only, so any network of this shape gives it."""
    from explainers.figures import cnn as fig
    from explainers.training.cnn import run_layers, train_cnn

    trained = train_cnn("synthetic-digits", 0, n_train=200, epochs=1)
    layers = run_layers(trained.model, trained.test_images[0])
    pick = (1, 0, 0, 0)
    picture = fig.network_picture(layers, pick, cnn.receptive_windows(*pick), trained.classes,
                                  base=fig.network_base(layers, trained.classes))
    li = cnn.LAYER_NAMES.index(layer)
    hit = next(h for h in picture.hits if h.layer == li and h.channel == channel)
    w, h = picture.size
    return {"target": "network", "x": (hit.x0 + (col + 0.5) * hit.cell_w) / w,
            "y": (hit.y0 + (row + 0.5) * hit.cell_h) / h}


def test_the_unit_panel_moves_the_unit_and_a_click_picks_the_one_under_the_pointer():
    at = run()
    move_panel(at, "cnn_unit_panel", {"cnn_row": 13, "cnn_ch": 2})
    open_snippets(at)
    assert formula(at).startswith("conv1[2,13,12] = ") and "acts['conv1'][0, 2, 13, 12]" in at.code[0].value
    assert at.query_params["cnn_row"] == "13" and at.query_params["cnn_ch"] == "2"
    # The fully connected column sits at about 78% of the picture's width, its cells in the middle band.
    fc = {"target": "network", "x": 0.783, "y": 0.5}
    move_panel(at, "cnn_unit_panel", {}, click=fc)
    assert layer(at) == "fc" and at.query_params["cnn_layer"] == "fc"
    assert controls(at) == ["Layer", "Unit"] and "largest" in formula(at)
    unit_now = panel_value(at, "cnn_unit_panel", "cnn_unit")
    move_panel(at, "cnn_unit_panel", {}, click={"target": "network", "x": 0.999, "y": 0.001})  # the paper
    assert layer(at) == "fc" and panel_value(at, "cnn_unit_panel", "cnn_unit") == unit_now
    # A map's square: the click picks layer, channel, row and column.
    move_panel(at, "cnn_unit_panel", {}, click=_centre_of("relu2", 5, 3, 7))
    assert layer(at) == "relu2"
    assert [panel_value(at, "cnn_unit_panel", k) for k in ("cnn_ch", "cnn_row", "cnn_col")] == [5, 3, 7]
    assert formula(at).startswith("relu2[5,3,7] = max(0, conv2[5,3,7]) = max(0, ")
    # A click first, then the moves made after it: the move wins for what it moved.
    move_panel(at, "cnn_unit_panel", {"cnn_row": 1}, click=_centre_of("conv1", 2, 20, 4))
    assert [panel_value(at, "cnn_unit_panel", k) for k in ("cnn_ch", "cnn_row", "cnn_col")] == [2, 1, 4]
    # A message the page has already answered (an old click arriving late) changes nothing.
    move_panel(at, "cnn_unit_panel", {}, click=fc, seq=unit(at)["seq"])
    assert layer(at) == "conv1" and panel_value(at, "cnn_unit_panel", "cnn_row") == 1


def test_the_test_image_range_picks_the_digit_the_page_and_snippet_read():
    at = run()
    before = unit(at)["picture"]
    move_panel(at, INDEX_PANEL, {"cnn_index": 7})
    assert index_range(at)["value"] == 7 and at.query_params["cnn_index"] == "7"
    assert unit(at)["picture"] != before  # another digit through the network
    open_snippets(at)
    assert "image, label = test[7]  # (1, 28, 28): MNIST's test digit #7" in at.code[0].value  # an int, not 7.0
    move_panel(at, INDEX_PANEL, {"cnn_index": 5000})  # past the test set: the range's end
    assert index_range(at)["value"] == 999


def test_a_link_with_settings_opens_that_unit_of_that_digit():
    at = run({"cnn_layer": "fc", "cnn_unit": "3", "cnn_index": "5", "cnn_seed": "0"})
    assert index_range(at)["value"] == 5
    assert panel_value(at, "cnn_unit_panel", "cnn_unit") == 3
    assert formula(at).startswith("z_3 = ∑_i x_i w_3,i + b = ")
    assert "largest" in formula(at) and "other 190" in formula(at)


@pytest.mark.parametrize("query", [{"cnn_layer": "bogus"}, {"cnn_index": "nan"}, {"cnn_seed": "99"}])
def test_bad_link_values_are_reset_with_a_note(query):
    at = run(query)
    assert any("not understood" in c.value for c in at.caption)
    assert layer(at) == "conv1"


def test_bad_upload_says_so_in_one_line_and_keeps_the_test_digit():
    at = run({"cnn_source": "Upload"})
    at.file_uploader(key="cnn_upload").upload("notes.txt", b"this is not a picture", "text/plain").run()
    assert not at.exception
    assert len(at.error) == 1 and "not an image" in at.error[0].value and "test digit" in at.error[0].value
    assert "Traceback" not in at.error[0].value


@pytest.mark.parametrize("invert", [False, True])
def test_uploaded_digit_goes_through_the_network(invert):
    at = run({"cnn_source": "Upload"})
    at.file_uploader(key="cnn_upload").upload("one.png", digit_png(invert), "image/png").run()
    assert not at.exception and not at.error
    assert metric(at, "Prediction").split()[0] in "0123456789"
    assert not any("Showing the test digit" in c.value for c in at.caption)


def test_white_digit_on_a_transparent_sheet_is_read():
    """A '1' in white ink on a transparent PNG (as some drawing apps export it) is read, not blank."""
    arr = np.zeros((160, 120, 4), np.uint8)
    arr[20:140, 52:68] = (255, 255, 255, 255)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGBA").save(buf, "PNG")
    at = run({"cnn_source": "Upload"})
    at.file_uploader(key="cnn_upload").upload("one.png", buf.getvalue(), "image/png").run()
    assert not at.exception and not at.error
    assert not any("Showing the test digit" in c.value or "Nothing to read" in c.value for c in at.caption)
    assert metric(at, "Prediction").split()[0] in "0123456789"


def test_drawing_tab_without_a_drawing_falls_back_to_the_test_digit():
    at = run({"cnn_source": "Draw"})
    assert not at.exception
    assert any("test digit" in c.value for c in at.caption)
