"""The Pooling page in a real browser: figures draw, the first slider re-pools, bad settings and uploads are friendly."""

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

# The picked cell's panel (pages/widgets/slider_panel.py, in a shadow root that Playwright's CSS enters):
MAP = ".nl-panel img[data-nl-pick='pool_row pool_col']"  # the clickable max-pooled map


def _max_pool_size(n: int, k: int, s: int, p: int = 0) -> int:
    return F.max_pool2d(torch.zeros(1, n, n), k, s, p).shape[-1]


def _metric(page, label: str) -> str:
    """An output size of the settings panel (explainers/figures/style.metrics_html)."""
    box = page.locator(".nl-panel .nl-metric", has=page.locator(".nl-metric-label", has_text=label)).first
    return box.locator(".nl-metric-value").inner_text().strip()


def test_the_kernel_size_in_the_settings_panel_repools(server, page):
    open_page(page, server, "pooling")
    # The settings panel holds the block (a compact picture) and the output sizes; the picked cell's panel holds
    # the clickable pooled map and both windows.
    page.locator(MAP).first.wait_for(timeout=30_000)
    assert page.locator(".nl-panel figure img").count() == 4 and not page.locator("[data-testid='stSlider']").count()
    n = _max_pool_size(32, 2, 2)
    assert _metric(page, "Max pooling output") == f"{n}×{n}"
    first = page.get_by_role("slider", name="Kernel size k", exact=True)  # what the benchmark moves
    assert first.input_value() == "2"
    first.focus()
    page.keyboard.press("ArrowRight")  # kernel 2 -> 3, stride stays 2
    wait_settled(page)
    n3 = _max_pool_size(32, 3, 2)
    wait_text(page, f"{n3}×{n3}")  # in the settings panel
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
    img = page.locator(MAP).first
    img.wait_for(timeout=30_000)
    box = img.bounding_box()
    row = page.get_by_role("slider", name="Output row", exact=True)
    column = page.get_by_role("slider", name="Output column", exact=True)
    img.click(position={"x": box["width"] * (2.5 / 16), "y": box["height"] * (13.5 / 16)})  # cell (13, 2)
    assert (row.input_value(), column.input_value()) == ("13", "2")  # moved in the browser, at once
    wait_settled(page)
    wait_text(page, "output (13, 2)")
    page.wait_for_function("() => location.href.includes('pool_row=13') && location.href.includes('pool_col=2')",
                           timeout=20_000)
    # A key press moves the row (and the window) at once.
    row.focus()
    page.keyboard.press("ArrowLeft")
    assert row.input_value() == "12"
    wait_text(page, "output (12, 2)")
    assert_no_exception(page)
    assert not page.js_errors
