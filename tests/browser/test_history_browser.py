"""Browser Back steps back through settled changes: each change is one history entry, and Back
shows the previous settings (not the same state again)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tests.browser.helpers import assert_no_exception, open_page, wait_settled


def _param(pg, key: str) -> str:
    return parse_qs(urlparse(pg.url).query)[key][0]


def test_back_and_forward_step_through_slider_changes(server, page):
    open_page(page, server, "pooling")
    slider = page.get_by_role("slider", name="Kernel size k", exact=True)  # a range of the settings panel
    start = int(slider.input_value())
    for _ in range(2):
        slider.focus()
        page.keyboard.press("ArrowRight")
        wait_settled(page)
    assert int(slider.input_value()) == start + 2 and _param(page, "pool_k") == str(start + 2)
    page.go_back()
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('pool_k') === '{start + 1}'")
    wait_settled(page)
    assert int(slider.input_value()) == start + 1, "Back must show the previous setting"
    page.go_forward()
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('pool_k') === '{start + 2}'")
    wait_settled(page)
    assert int(slider.input_value()) == start + 2
    assert_no_exception(page)
