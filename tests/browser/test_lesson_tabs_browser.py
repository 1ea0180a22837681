"""A lesson page's tabs (pages/widgets/lesson_tabs.py) in a real browser: a click or the keyboard opens a part of
the lesson, the address keeps it, Back brings the last one back, and a key press in a panel under the tabs leaves
them alone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tests.browser.helpers import assert_no_exception, open_page, wait_settled

LAYERS = "Why layers need a non-linearity"


def _open_tab(pg) -> str:
    return pg.get_by_role("tab", selected=True).inner_text()


def _param(pg, key: str) -> str:
    return parse_qs(urlparse(pg.url).query).get(key, [""])[0]


def test_tabs_open_by_click_and_keyboard_and_follow_back(server, page):
    open_page(page, server, "perceptron")
    page.get_by_role("tablist", name="Parts of the lesson").wait_for()  # named for screen readers
    assert _open_tab(page) == "One neuron" and page.get_by_role("tab").count() == 4
    page.get_by_role("tab", name="The learning rule").click()
    wait_settled(page)
    assert _open_tab(page) == "The learning rule" and _param(page, "perc_tab") == "The learning rule"
    page.get_by_role("button", name="Step", exact=True).wait_for()  # the part under the tabs is the new one

    # Arrow keys move the focus along the tabs without opening them; Enter opens the focused one.
    tab = page.get_by_role("tab", name="The learning rule")
    tab.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.shadowRoot?.activeElement?.textContent") == LAYERS
    assert _open_tab(page) == "The learning rule"  # moving the focus opens nothing
    page.keyboard.press("Enter")
    wait_settled(page)
    assert _open_tab(page) == LAYERS and _param(page, "perc_tab") == LAYERS
    page.get_by_text("Random weights (seed)").wait_for()

    page.go_back()
    page.wait_for_function("() => new URLSearchParams(location.search).get('perc_tab') === 'The learning rule'")
    wait_settled(page)
    assert _open_tab(page) == "The learning rule"
    page.get_by_role("button", name="Step", exact=True).wait_for()
    assert_no_exception(page)
    assert not page.js_errors


def test_a_key_press_in_a_panel_leaves_the_tabs_in_place(server, page):
    """The tabs are one element above the open part: a panel's rerun neither redraws nor moves them."""
    open_page(page, server, "perceptron")
    tablist = page.get_by_role("tablist", name="Parts of the lesson")
    tablist.evaluate("el => { el.dataset.mark = 'kept'; }")  # a node React replaced would lose this
    slider = page.get_by_role("slider", name="Weight w1", exact=True)
    before = slider.input_value()
    slider.focus()
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    assert slider.input_value() != before and _param(page, "perc_w1") == slider.input_value()
    assert tablist.evaluate("el => el.dataset.mark") == "kept" and _open_tab(page) == "One neuron"
    assert_no_exception(page)


def test_a_row_too_wide_for_a_projector_scrolls_to_its_last_tab(server, page):
    """At 1024 px Pooling's five tabs do not fit: an arrow says so, and a click on it brings the rest in."""
    page.set_viewport_size({"width": 1024, "height": 768})
    open_page(page, server, "pooling")
    last = page.get_by_role("tab", name="Pyramid 28 → 14 → 7")
    row = page.get_by_role("tablist", name="Parts of the lesson")
    row.wait_for()

    def shown_whole() -> bool:  # the last tab lies inside the row's visible part
        return row.evaluate("(el, tab) => { const r = el.getBoundingClientRect(), t = tab.getBoundingClientRect();"
                            " return t.left >= r.left - 1 && t.right <= r.right + 1; }", last.element_handle())

    right, left = page.locator(".nl-more.nl-right"), page.locator(".nl-more.nl-left")
    assert not shown_whole() and right.is_visible() and not left.is_visible()
    right.click()
    page.wait_for_function("(el) => el.scrollLeft + el.clientWidth >= el.scrollWidth - 1", arg=row.element_handle())
    assert shown_whole() and left.is_visible() and not right.is_visible()
    last.click()  # and it opens like any other
    wait_settled(page)
    assert _open_tab(page) == "Pyramid 28 → 14 → 7" and _param(page, "pool_tab") == "Pyramid 28 → 14 → 7"
    assert_no_exception(page)
