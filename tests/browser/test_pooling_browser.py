"""The Pooling page in a real browser: figures draw, the first slider re-pools, bad settings and uploads are friendly."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tests.browser.helpers import assert_no_exception, open_page, wait_settled

MAP = "iframe[title*='image_coordinates']"  # the clickable max-pooled map


def _max_pool_size(n: int, k: int, s: int, p: int = 0) -> int:
    return F.max_pool2d(torch.zeros(1, n, n), k, s, p).shape[-1]


def _metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']", has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_first_slider_is_the_kernel_size_and_moving_it_repools(server, page):
    open_page(page, server, "pooling")
    # The block and the picked cell's windows are compact pictures; the pooled map is clickable.
    # (they arrive panel by panel, each fragment on its own: wait for all three, not the first)
    page.wait_for_function("() => document.querySelectorAll(\"[data-testid='stImage'] img\").length >= 3",
                           timeout=30_000)
    assert page.locator("[data-testid='stImage'] img").count() >= 3
    page.wait_for_selector(MAP, timeout=30_000)
    n = _max_pool_size(32, 2, 2)
    assert _metric(page, "Max pooling output") == f"{n}×{n}"
    first = page.locator("[data-testid='stSlider']").get_by_role("slider").first  # what the benchmark moves
    assert "Kernel size" in page.locator("[data-testid='stSlider']").first.inner_text()
    first.focus()
    page.keyboard.press("ArrowRight")  # kernel 2 -> 3, stride stays 2
    wait_settled(page)
    n3 = _max_pool_size(32, 3, 2)
    page.wait_for_function(f"() => document.body.innerText.includes('{n3}×{n3}')", timeout=15_000)
    assert _metric(page, "Max pooling output") == f"{n3}×{n3}"
    assert "pool_k=3" in page.url
    assert_no_exception(page)
    assert not page.js_errors


def test_impossible_padding_from_a_link_shows_a_message(server, page):
    open_page(page, server, "pooling?pool_k=2&pool_p=2")
    page.get_by_text("at most half the kernel size", exact=False).first.wait_for(timeout=15_000)
    assert page.locator("[data-testid='stAlertContentError']").count() >= 1
    assert_no_exception(page)


def test_upload_a_picture_and_open_the_gradient_tab(server, page, tmp_path):
    open_page(page, server, "pooling?pool_source=Upload")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    photo = tmp_path / "noise.png"
    photo.write_bytes(buf.getvalue())
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(photo))
    page.get_by_text("noise.png").first.wait_for(timeout=15_000)
    wait_settled(page)
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    page.get_by_role("tab", name="Gradient routing").click()
    page.get_by_text("input pixels get any gradient").wait_for(timeout=15_000)
    assert_no_exception(page)


def test_clicking_the_pooled_map_picks_the_cell_and_shows_its_window(server, page):
    open_page(page, server, "pooling")
    page.wait_for_selector(MAP, timeout=30_000)
    img = page.frame_locator(MAP).first.locator("img#image")
    img.wait_for(timeout=30_000)
    box = img.bounding_box()
    img.click(position={"x": box["width"] * (2.5 / 16), "y": box["height"] * (13.5 / 16)})  # cell (13, 2)
    wait_settled(page)
    page.wait_for_function("() => document.body.innerText.includes('output (13, 2)')", timeout=20_000)
    assert "pool_row=13" in page.url and "pool_col=2" in page.url
    assert_no_exception(page)
