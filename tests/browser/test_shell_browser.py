"""Home and Perceptron in a real browser against a real `streamlit run app.py`."""

from pathlib import Path

import numpy as np

from explainers import perceptron as pc
from tests.browser.helpers import (
    PANELS,
    assert_no_exception,
    free_port,
    open_page,
    start_streamlit,
    stop,
    wait_settled,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def test_home_shows_navigation_and_map(server, page):
    open_page(page, server)
    nav = page.locator("[data-testid='stSidebarNav']")
    assert "Home" in nav.inner_text() and "Perceptron" in nav.inner_text()
    # The map: every lesson, numbered, in the catalog's order, as text that wraps on a projector.
    from pages.widgets.catalog import LESSONS

    line = page.locator("[data-testid='stMarkdownContainer']", has_text="1.\u00a0Perceptron").first.inner_text()
    names = [f"{i}.\u00a0{info.title.replace(' ', chr(160))}" for i, info in enumerate(LESSONS, start=1)]
    assert all(n in line for n in names), line
    assert [line.index(n) for n in names] == sorted(line.index(n) for n in names)
    assert_no_exception(page)
    assert not page.js_errors


# The One-neuron panel is drawn by a browser component in a shadow root (pages/widgets/slider_panel.py).
_PANEL = "() => (" + PANELS + ")()[0]"
_SHOWN = """(name) => {
  const panel = (""" + _PANEL + """)();
  const input = panel.querySelector(`input[name="${name}"]`);
  return input.closest(".nl-control").querySelector("output").textContent;
}"""
# Every number the w1 thumb shows, in order: an answer to an older change must never drag it back.
_WATCH_W1 = """() => {
  const panel = (""" + _PANEL + """)();
  const output = panel.querySelector('input[name="perc_w1"]').closest(".nl-control").querySelector("output");
  window.__w1 = [output.textContent];
  new MutationObserver(() => window.__w1.push(output.textContent)).observe(output, {childList: true, characterData: true, subtree: true});
}"""


def _picture(page) -> str:
    return page.evaluate(f"() => ({_PANEL})().querySelector('.nl-picture').innerText")


def test_perceptron_panel_answers_key_presses_with_pythons_numbers(server, page):
    open_page(page, server, "perceptron")
    page.wait_for_selector(".nl-picture .perc-activation svg", timeout=30_000)  # pierces the panel's shadow root
    wait_settled(page)
    assert "= 0.97" in _picture(page)
    page.evaluate(_WATCH_W1)
    # Seven quick presses, sent without waiting for the server: each moves the thumb at once.
    page.get_by_role("slider", name="Weight w1", exact=True).focus()
    for _ in range(7):
        page.keyboard.press("ArrowLeft")
    assert page.evaluate(_SHOWN, "perc_w1") == "-0.20"  # in the browser, before any answer
    page.get_by_role("slider", name="Bias b", exact=True).focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expected = pc.neuron_forward(np.array([0.7, 0.6, 1.4]), np.array([-0.2, -1.0, 0.8]), 0.4, "sigmoid")
    line = pc.weighted_sum_text(expected)  # (-0.20)·0.70 + (-1.00)·0.60 + 0.80·1.40 + 0.40 = 0.78
    page.wait_for_function(f"() => ({_PANEL})().querySelector('.nl-picture').innerText.includes({line!r})",
                           timeout=15_000)
    wait_settled(page)
    picture = _picture(page)
    assert f"= {pc.fixed(expected.a, 4)}" in picture and "w1=-0.20" in picture and "bias b = 0.40" in picture
    shown = page.evaluate("window.__w1")
    assert shown == [f"{v / 10:.2f}" for v in range(5, -3, -1)], shown  # 0.50 0.40 ... -0.20, never back
    page.wait_for_function("() => location.search.includes('perc_b=0.4')", timeout=15_000)
    assert "perc_w1=-0.2" in page.url
    # Back: the thumbs and the picture follow the earlier address, and agree with each other.
    page.go_back()
    page.wait_for_function("() => !location.search.includes('perc_b=0.4')", timeout=15_000)
    wait_settled(page)
    query = dict(p.split("=") for p in page.url.split("?", 1)[1].split("&"))
    b, w1 = float(query["perc_b"]), float(query["perc_w1"])
    page.wait_for_function(f"() => ({_SHOWN})('perc_b') === '{b:.2f}'", timeout=15_000)
    assert page.evaluate(_SHOWN, "perc_w1") == f"{w1:.2f}"
    earlier = pc.neuron_forward(np.array([0.7, 0.6, 1.4]), np.array([w1, -1.0, 0.8]), b, "sigmoid")
    assert pc.weighted_sum_text(earlier) in _picture(page)
    assert_no_exception(page)
    assert not page.js_errors


def test_shared_link_on_a_fresh_server_uses_the_app_navigation(browser):
    """The first request a server ever gets may be a shared deep link: it must still get app.py's menu."""
    port = free_port()
    proc = start_streamlit("app.py", port, ARTIFACTS / "fresh-server.log")
    try:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_page(pg, f"http://127.0.0.1:{port}", "perceptron?perc_n=4&perc_act=relu")
        # The first run may be Streamlit's old page mode, which reruns into app.py: wait for the result.
        pg.locator("[data-testid='stSidebarNav']", has_text="Neurons").wait_for(timeout=30_000)
        pg.get_by_role("slider", name="Input x4", exact=True).wait_for(timeout=30_000)
        wait_settled(pg)
        nav = pg.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Neurons" in nav and "catalog" not in nav and "ui" not in nav.split()
        assert pg.get_by_role("slider", name="Input x4", exact=True).count() == 1
        assert pg.get_by_role("slider", name="Input x5", exact=True).count() == 0
        pg.get_by_text("ReLU activation").wait_for(timeout=15_000)
        assert_no_exception(pg)
        pg.close()
    finally:
        stop(proc)


def test_perceptron_panel_drag_ends_where_the_thumb_is(server, page):
    """A mouse drag sends one message at a time (the rest wait for the answer): it still ends in agreement."""
    open_page(page, server, "perceptron")
    page.wait_for_selector(".nl-picture .perc-activation svg", timeout=30_000)
    wait_settled(page)
    box = page.get_by_role("slider", name="Input x2", exact=True).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.65, y)  # about the thumb at 0.60
    page.mouse.down()
    for i in range(1, 21):  # to the left end in 20 moves, without waiting for the server
        page.mouse.move(box["x"] + box["width"] * 0.65 * (1 - i / 20), y)
    page.mouse.up()
    assert page.evaluate(_SHOWN, "perc_x2") == "-2.00"
    page.wait_for_function("() => location.search.includes('perc_x2=-2')", timeout=15_000)
    wait_settled(page)
    expected = pc.neuron_forward(np.array([0.7, -2.0, 1.4]), np.array([0.5, -1.0, 0.8]), 0.1, "sigmoid")
    page.wait_for_function(f"() => ({_PANEL})().querySelector('.nl-picture').innerText"
                           f".includes({pc.weighted_sum_text(expected)!r})", timeout=15_000)
    assert page.evaluate(_SHOWN, "perc_x2") == "-2.00"
    assert_no_exception(page)
    assert not page.js_errors
