"""A shared link reproduces the page: change a setting and open a tab, copy the address, open it
in a fresh browser (a new session): both show the same text."""

from __future__ import annotations

import re

import pytest

from pages.widgets.catalog import LESSONS
from tests.browser.helpers import assert_no_exception, open_page, wait_settled

MAIN = "[data-testid='stMain']"


def _text(pg, *, stable_ms: int = 1200, timeout_ms: int = 30_000) -> str:
    """The main column's text once it has stopped changing.

    Plotly charts, images and components draw after the script has settled (their JS loads
    lazily), so one read right after "settled" can catch a page half drawn.
    """
    pg.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")]"
                         ".every(c => c.querySelector('.main-svg'))", timeout=timeout_ms)
    last, same_for, waited = None, 0, 0
    while waited < timeout_ms:
        text = re.sub(r"\s+", " ", pg.locator(MAIN).inner_text()).strip()
        same_for = same_for + 200 if text == last else 0
        if same_for >= stable_ms:
            break
        last = text
        pg.wait_for_timeout(200)
        waited += 200
    return text


@pytest.mark.parametrize("info", LESSONS, ids=lambda i: i.url_path)
def test_shared_link_shows_the_same_page(server, browser, info):
    a = browser.new_context(viewport={"width": 1400, "height": 1000})
    pa = a.new_page()
    open_page(pa, server, info.url_path)
    slider = pa.locator("[data-testid='stSlider']").get_by_role("slider").first
    if not slider.count():  # no Streamlit slider: the first range of a browser-drawn panel (Convolution's stride)
        slider = pa.get_by_role("slider").first
    if slider.count():
        slider.focus()
        pa.keyboard.press("ArrowRight")
        wait_settled(pa)
    tabs = pa.get_by_role("tab")
    if tabs.count() > 1:
        tabs.nth(tabs.count() - 1).click()
        wait_settled(pa)
    url, text_a = pa.url, _text(pa)
    a.close()

    b = browser.new_context(viewport={"width": 1400, "height": 1000})
    pb = b.new_page()
    pb.goto(url, wait_until="domcontentloaded")
    pb.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    wait_settled(pb)
    text_b = _text(pb)
    assert_no_exception(pb)
    b.close()
    if text_b != text_a:
        wa, wb = text_a.split(" "), text_b.split(" ")
        i = next((k for k, (x, y) in enumerate(zip(wa, wb)) if x != y), min(len(wa), len(wb)))
        where = f"first difference at word {i}: {' '.join(wa[max(0, i - 8):i + 12])!r} vs {' '.join(wb[max(0, i - 8):i + 12])!r}"
        pytest.fail(f"{info.title}: the shared link shows another page; {where}\nlink: {url}")
