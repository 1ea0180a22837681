"""The Perceptron page in a real browser: a key press in the neuron's panel reruns the panel alone, unless the
PyTorch snippet under it is open: then the snippet follows every key press."""

from __future__ import annotations

from tests.browser.helpers import assert_no_exception, open_page, wait_settled


def test_an_open_snippet_follows_the_panel_and_a_closed_one_stays_put(server, page):
    open_page(page, server, "perceptron")
    w1 = page.get_by_role("slider", name="Weight w1", exact=True)
    assert w1.input_value() == "0.5"
    w1.focus()
    page.keyboard.press("ArrowRight")  # closed snippet: the panel alone reruns
    page.wait_for_function("() => location.href.includes('perc_w1=0.6')", timeout=20_000)
    wait_settled(page)

    page.get_by_text("PyTorch equivalent").first.click()
    code = page.locator("[data-testid='stCode']").first
    code.get_by_text("torch.tensor([0.6, -1.0, 0.8])").wait_for(timeout=20_000)  # opened on what the panel shows
    for expected in ("0.7, -1.0, 0.8", "0.8, -1.0, 0.8"):
        w1.focus()
        page.keyboard.press("ArrowRight")
        code.get_by_text(f"torch.tensor([{expected}])").wait_for(timeout=20_000)  # the open snippet follows
        wait_settled(page)
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors
