"""The Convolution page in a real browser: figures draw, the first slider re-convolves, uploads good and bad."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tests.browser.helpers import (
    assert_no_exception,
    open_page,
    wait_settled,
    wait_text,
)

# The picked pixel's panel (pages/widgets/slider_panel.py, in a shadow root that Playwright's CSS enters):
MAP = ".nl-panel img[data-nl-pick='conv_row conv_col']"  # the clickable feature map
PICTURE = ".nl-panel figure img:not([data-nl-pick])"  # the input picture with the kernel's window


def _out_size(n: int, k: int = 3, s: int = 1, p: int = 1) -> int:
    return F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]


def _map_img(page):
    img = page.locator(MAP).first
    img.wait_for(timeout=30_000)
    return img


def _output_picture(page) -> str:
    """The data URI of the output feature map (the clickable picture)."""
    return _map_img(page).get_attribute("src") or ""


def _wait_new_picture(page, old: str) -> None:
    for _ in range(100):
        if _output_picture(page) != old:
            return
        page.wait_for_timeout(200)
    raise AssertionError("the feature map did not change")


def _click_cell(page, img, fx: float, fy: float, n: int = 256) -> tuple[int, int]:
    """Click the n x n map at fractions (fx, fy) of its size; -> the (row, col) under the pointer.

    Computed from where the click event really landed: Chromium reports whole CSS pixels, and at about one
    pixel per cell rounding the aimed point can move it to the next cell.
    """
    page.evaluate("() => document.addEventListener('click', (e) => { window.__click = [e.clientX, e.clientY]; },"
                  " {capture: true, once: true})")
    box = img.bounding_box()
    img.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    x, y = page.evaluate("window.__click")
    r = img.evaluate("e => e.getBoundingClientRect().toJSON()")
    return int((y - r["y"]) / r["height"] * n), int((x - r["x"]) / r["width"] * n)


def test_the_stride_in_the_settings_panel_reconvolves(server, page):
    open_page(page, server, "convolution")
    page.wait_for_selector(PICTURE, timeout=30_000)
    n = _out_size(256)
    wait_text(page, f"(1, 1, {n}, {n})")
    src = _output_picture(page)
    assert src.startswith("data:image/")  # a compact picture, not a JSON array of numbers
    stride = page.get_by_role("slider", name="Stride", exact=True)  # a range of the settings panel
    assert stride.input_value() == "1" and not page.locator("[data-testid='stSlider']").count()
    bars = page.locator(".conv-hist svg rect")  # the histogram tab: an SVG drawn by the page, hover reads a count
    bars.first.wait_for(timeout=30_000)
    assert bars.count() > 5 and "pixels" in (bars.first.locator("title").text_content() or "")
    stride.focus()  # what the benchmark moves
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    n2 = _out_size(256, s=2)
    wait_text(page, f"(1, 1, {n2}, {n2})")
    _wait_new_picture(page, src)
    assert "conv_stride=2" in page.url
    assert_no_exception(page)
    assert not page.js_errors


def test_upload_a_photo_then_change_the_kernel(server, page, tmp_path):
    open_page(page, server, "convolution?conv_source=Upload")
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)).save(buf, "PNG")
    photo.write_bytes(buf.getvalue())
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(photo))
    wait_text(page, "(1, 1, 60, 90)")
    wait_settled(page)
    before = _output_picture(page)
    box = page.locator("[data-testid='stSelectbox']", has_text="Preset")
    box.click()
    page.keyboard.type("Gaussian blur 3")
    page.keyboard.press("Enter")
    wait_settled(page)
    wait_text(page, "Weighted average, heavier in the middle.")
    _wait_new_picture(page, before)
    assert "Gaussian+blur+3" in page.url or "Gaussian%20blur%203" in page.url
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    assert_no_exception(page)


def test_a_bad_upload_shows_a_message_and_the_page_carries_on(server, page, tmp_path):
    open_page(page, server, "convolution?conv_source=Upload")
    fake = tmp_path / "holiday.png"
    fake.write_bytes(b"this is a text file wearing a .png name\n" * 10)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(fake))
    page.get_by_text("not an image we can read", exact=False).first.wait_for(timeout=20_000)
    wait_settled(page)
    assert page.locator("[data-testid='stAlertContentError']").count() >= 1
    n = _out_size(256)
    wait_text(page, f"(1, 1, {n}, {n})")  # the sample is still convolved
    assert_no_exception(page)


def test_clicking_the_feature_map_picks_the_pixel_and_shows_its_sum_beside_it(server, page):
    open_page(page, server, "convolution")
    img = _map_img(page)
    wait_text(page, "at row 150, column 50")
    box = img.bounding_box()
    assert box and box["width"] > 150  # big enough to aim at
    slider = page.get_by_role("slider", name="Output row", exact=True)
    column = page.get_by_role("slider", name="Output column", exact=True)
    row, col = _click_cell(page, img, 0.25, 0.75)
    assert abs(row - 192) <= 1 and abs(col - 64) <= 1  # where we aimed
    # The click moves both ranges in the browser, before any answer from the server.
    assert (slider.input_value(), column.input_value()) == (str(row), str(col))
    wait_settled(page)
    wait_text(page, f"at row {row}, column {col}")
    assert f"conv_row={row}" in page.url and f"conv_col={col}" in page.url
    # The arithmetic sits beside the picture: its tables start above the map's bottom edge.
    table = page.locator(".nl-panel table").first.bounding_box()
    frame = img.bounding_box()
    assert table["y"] < frame["y"] + frame["height"] and table["x"] > frame["x"] + frame["width"] - 1
    # A key press moves the row at once, and the sums follow.
    ring = page.locator(".nl-over:has(> img[data-nl-pick='conv_row conv_col']) > svg.nl-overlay rect")
    assert ring.count() == 1
    y0, x0 = float(ring.get_attribute("y")), float(ring.get_attribute("x"))
    img.evaluate("e => { e.nlMark = e.src; }")
    slider.focus()
    page.keyboard.press("ArrowUp")
    assert slider.input_value() == str(row + 1)  # before any answer from the server
    wait_text(page, f"at row {row + 1}, column {col}")
    # The panel patches its picture in place: the same <img> element keeps the same map (nothing to decode, nothing
    # blanks), and the orange frame laid over it moves down one row of the map, in the picture's own pixels.
    assert img.evaluate("e => e.nlMark !== undefined && e.nlMark === e.src")
    rows = int(slider.get_attribute("max")) + 1
    one_row = img.evaluate("e => e.naturalHeight") / rows
    assert (float(ring.get_attribute("y")) - y0, float(ring.get_attribute("x"))) == (one_row, x0)
    page.wait_for_function("r => location.href.includes('conv_row=' + r)", arg=str(row + 1), timeout=20_000)
    # A click and, at once, a key press (no waiting for the click's answer): both count, in that order.
    row2, col2 = _click_cell(page, img, 0.5, 0.25)
    slider.focus()
    page.keyboard.press("ArrowDown")
    row2 -= 1
    assert (slider.input_value(), column.input_value()) == (str(row2), str(col2))
    wait_text(page, f"at row {row2}, column {col2}")
    wait_settled(page)
    page.wait_for_timeout(300)  # nothing arrives later to undo it
    assert (slider.input_value(), column.input_value()) == (str(row2), str(col2))
    assert f"conv_row={row2}" in page.url and f"conv_col={col2}" in page.url
    assert_no_exception(page)
    assert not page.js_errors
