"""The "A whole CNN" page in a real browser: the network picture draws, sliders and clicks pick units, nothing is cut."""

from __future__ import annotations

import pytest

from explainers import cnn
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import PANELS, assert_no_exception, open_page, wait_settled

TRUNCATED_LABELS = """() => [...document.querySelectorAll("[data-testid='stWidgetLabel']")]
  .filter((el) => el.offsetParent && el.scrollWidth > el.clientWidth + 1)
  .map((el) => el.textContent.trim().slice(0, 60))"""


# The focused element's accessible name, looked for inside shadow roots (the panel draws in one).
FOCUSED = """() => {
  let el = document.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  return el?.getAttribute("aria-label") ?? null;
}"""


def _network_frame(page):
    """The clickable network picture (in the unit panel's shadow root) once its image has loaded."""
    image = page.locator(".nl-panel img[data-nl-click='network']").first
    image.wait_for(timeout=60_000)
    image.evaluate("img => img.decode()")  # its pixels are ready to be clicked
    assert image.bounding_box()["height"] > 100
    return image


def _slider(page, label: str):
    """A range input of the unit panel, by its accessible name."""
    return page.get_by_role("slider", name=label, exact=True)


@pytest.mark.parametrize("size", [(1440, 900), (1024, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_page_draws_the_network_and_a_slider_moves_the_unit(server, browser, size):
    width, height = size
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_page(page, server, "cnn")
        page.get_by_text("right on 1,000 test digits").first.wait_for(timeout=120_000)  # trained at first use
        _network_frame(page)
        # The conv unit's multiply-and-sum: an SVG of 27 numbered cells (window, kernel, products).
        page.locator(".cnn-sum svg").first.wait_for(timeout=30_000)
        assert page.locator(".cnn-sum svg g.cell").count() == 27
        row = _slider(page, "Row")
        row.focus()
        page.keyboard.press("ArrowRight")
        assert row.input_value() == "13"  # the thumb moves on the key press
        wait_settled(page)
        page.wait_for_function("() => location.search.includes('cnn_row=')", timeout=15_000)
        assert "cnn_row=13" in page.url  # 12 by default
        page.wait_for_timeout(400)  # the picture and the figure finish drawing
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"cnn-{width}x{height}.png"), full_page=True)
        truncated = page.evaluate(TRUNCATED_LABELS)
        assert not truncated, f"labels cut at {width}x{height}: {truncated}"
        assert_no_exception(page)
        assert not errors
    finally:
        ctx.close()


def test_clicking_the_picture_picks_the_unit_under_the_pointer(server, page):
    open_page(page, server, "cnn?cnn_layer=conv1&cnn_ch=0&cnn_row=0&cnn_col=0")
    image = _network_frame(page)
    box = image.bounding_box()
    # The fully connected column sits at about 78% of the picture's width, its cells in the middle band.
    page.mouse.click(box["x"] + box["width"] * 0.783, box["y"] + box["height"] * 0.5)
    wait_settled(page)
    page.wait_for_function("() => location.search.includes('cnn_layer=fc')", timeout=15_000)
    page.get_by_text("largest of 200 terms").first.wait_for(timeout=15_000)
    unit = _slider(page, "Unit")  # the panel was rebuilt for the fc layer's one control
    assert unit.get_attribute("max") == "9"
    # The panel patched its picture from conv1's to fc's (other elements, other counts): what is on screen
    # is exactly the HTML Python sent, as a fresh page would parse it.
    wait_settled(page)
    same = page.evaluate("() => (" + PANELS + """)().map((panel) => panel.querySelector(".nl-picture"))
      .map((pic) => {
        const fresh = document.createElement("div");
        fresh.className = pic.className;
        fresh.innerHTML = pic.nlHtml;
        return fresh.isEqualNode(pic);
      })""")
    assert same == [True, True]  # the test image's range (no picture) and the unit panel
    assert_no_exception(page)
    assert not page.js_errors


def test_a_link_with_settings_opens_that_unit(server, page):
    open_page(page, server, "cnn?cnn_layer=pool2&cnn_ch=3&cnn_row=2&cnn_col=4&cnn_index=7")
    _network_frame(page)
    page.get_by_text("pool2[3, 2, 4]").first.wait_for(timeout=15_000)
    assert _slider(page, "Test image").input_value() == "7"
    assert_no_exception(page)


def test_a_drawn_digit_goes_through_the_network(server, page):
    open_page(page, server, "cnn?cnn_source=Draw")
    page.get_by_text("Showing the test digit until").first.wait_for(timeout=60_000)
    page.locator("canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    # The drawing canvas is the 224 px square one (the component stacks a few canvases; the last takes strokes).
    canvas = [c for c in page.locator("canvas").all() if (c.bounding_box() or {}).get("width", 0) == 224][-1]
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 21):  # a slightly slanted stroke: a "1"
        page.mouse.move(x + i, y + i * box["height"] * 0.035)
    page.mouse.up()
    page.wait_for_function("() => !document.body.innerText.includes('Showing the test digit until')", timeout=30_000)
    wait_settled(page)
    assert page.locator("[data-testid='stMetricValue']").first.inner_text().strip() == "1"
    assert_no_exception(page)


def test_the_layer_range_keeps_the_keyboard_through_the_panels_it_rebuilds(server, page):
    # conv1 -> relu1 -> pool1 -> ... -> flatten: each layer has other ranges (14×14 maps, then one unit), so the
    # panel is built anew; the Layer range must keep the focus, or a keyboard learner is thrown out at each step.
    open_page(page, server, "cnn?cnn_layer=conv1")
    _network_frame(page)
    layer = _slider(page, "Layer")
    layer.focus()
    for name in ("relu1", "pool1", "conv2", "relu2", "pool2", "flatten"):
        page.keyboard.press("ArrowRight")
        wait_settled(page)
        page.wait_for_function(f"() => location.search.includes('cnn_layer={name}')", timeout=15_000)
        assert page.evaluate(FOCUSED) == "Layer", name
    assert _slider(page, "Unit").get_attribute("max") == "199"  # flatten: 8 maps of 5×5, one vector
    assert _slider(page, "Layer").input_value() == str(cnn.LAYER_NAMES.index("flatten"))  # a range counts choices
    assert_no_exception(page)
    assert not page.js_errors
