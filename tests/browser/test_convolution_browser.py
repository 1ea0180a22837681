"""The Convolution page in a real browser: figures draw, the first slider re-convolves, uploads good and bad."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tests.browser.helpers import assert_no_exception, open_page, wait_settled

CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def _out_size(n: int, k: int = 3, s: int = 1, p: int = 1) -> int:
    return F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]


def _output_picture(page) -> str:
    """The data URI of the output feature map (the second chart's image)."""
    return page.locator(CHART).nth(1).locator("image").first.get_attribute("href") or ""


def _wait_text(page, text: str) -> None:
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=20_000)


def test_first_slider_is_the_stride_and_moving_it_reconvolves(server, page):
    open_page(page, server, "convolution")
    page.wait_for_selector(CHART, timeout=30_000)
    assert page.locator(CHART).count() >= 5
    n = _out_size(256)
    _wait_text(page, f"(1, 1, {n}, {n})")
    src = _output_picture(page)
    assert src.startswith("data:image/")  # a compact picture, not a JSON array of numbers
    assert "Stride" in page.locator("[data-testid='stSlider']").first.inner_text()
    page.locator("[data-testid='stSlider']").get_by_role("slider").first.focus()  # what the benchmark moves
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    n2 = _out_size(256, s=2)
    _wait_text(page, f"(1, 1, {n2}, {n2})")
    page.wait_for_function(
        "old => { const c = document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\")[1];"
        " const i = c && c.querySelector('image'); return i && i.getAttribute('href') !== old; }",
        arg=src, timeout=20_000)
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
    _wait_text(page, "(1, 1, 60, 90)")
    wait_settled(page)
    page.wait_for_selector(CHART, timeout=30_000)
    before = _output_picture(page)
    box = page.locator("[data-testid='stSelectbox']", has_text="Preset")
    box.click()
    page.keyboard.type("Gaussian blur 3")
    page.keyboard.press("Enter")
    wait_settled(page)
    _wait_text(page, "Weighted average, heavier in the middle.")
    page.wait_for_function(
        "old => { const c = document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\")[1];"
        " const i = c && c.querySelector('image'); return i && i.getAttribute('href') !== old; }",
        arg=before, timeout=20_000)
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
    _wait_text(page, f"(1, 1, {n}, {n})")  # the sample is still convolved
    assert_no_exception(page)
