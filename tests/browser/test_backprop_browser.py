"""The Backprop page in a real browser: the graph and charts render, sliders and the step-through work."""

from tests.browser.helpers import (
    PANELS,
    assert_no_exception,
    open_page,
    wait_settled,
    wait_text,
)

# Laid out in Python and sent as SVG (no graphviz in the browser), the picture of the step panel: Playwright's
# selectors enter its shadow root, document.querySelector does not (SVG_JS finds it for page functions).
GRAPH = ".bp-graph svg"
SVG_JS = "(" + PANELS + ")().map((p) => p.querySelector('.bp-graph svg')).find(Boolean)"


def _wait_graph_text(page, text: str) -> None:
    page.wait_for_function(f"t => {SVG_JS}?.textContent.includes(t)", arg=text, timeout=15_000)


def _press(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()
    wait_settled(page)


def test_backprop_page_renders_and_follows_the_first_slider(server, page):
    open_page(page, server, "backprop")
    assert_no_exception(page)
    page.wait_for_selector(GRAPH, timeout=30_000)
    assert page.locator(f"{GRAPH} g.node").count() > 20  # the op-level graph of a 2-unit network
    assert page.locator(f"{GRAPH} g.cluster").count() == 4  # two hidden neurons, the output, the loss
    # The charts are server-drawn SVG pictures: the learning-rate lesson's, and the loss curve and boundaries in
    # the training panel (a shadow root). All decoded.
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stImage'] img\"), ...(" + PANELS
                           + ")().flatMap((p) => [...p.querySelectorAll('.nl-figure img')])]"
                           ".filter(i => i.complete && i.naturalWidth > 0).length >= 3", timeout=30_000)
    assert page.locator(".katex").count() >= 2

    slider = page.locator("[data-testid='stSlider']").get_by_role("slider").first  # what the benchmark moves
    assert slider.input_value() == "2"
    slider.focus()
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    assert slider.input_value() == "3"
    assert "bp_hidden=3" in page.url
    # 3 hidden units: one node per neuron, with "hidden neuron 3" in it
    _wait_graph_text(page, "hidden neuron 3")
    assert page.locator(f"{GRAPH} g.cluster").count() == 0
    assert_no_exception(page)
    assert not page.js_errors


def test_step_through_highlights_and_survives_a_reload(server, page):
    open_page(page, server, "backprop?bp_hidden=1&bp_step=0")
    page.wait_for_selector(GRAPH, timeout=30_000)
    unknown_before = page.locator(GRAPH).text_content().count("grad ?")
    for k in (1, 2):  # each press moves one node; wait for it before pressing again
        _press(page, "Next")
        wait_text(page, f"Step {k} of", timeout=15_000)
    page.wait_for_function(
        f"n => {SVG_JS}.textContent.split('grad ?').length - 1 < n",
        arg=unknown_before, timeout=15_000)
    assert page.locator(f"{GRAPH} [fill='#f59e0b']").count() == 1  # exactly one node is processed
    assert "bp_step=2" in page.url
    page.reload(wait_until="domcontentloaded")  # the shared link brings the same step back
    wait_settled(page)
    page.wait_for_selector(GRAPH, timeout=30_000)
    wait_text(page, "Step 2 of", timeout=15_000)
    _press(page, "All")
    page.wait_for_function(
        f"() => !{SVG_JS}.textContent.includes('grad ?')",
        timeout=15_000)
    step = page.get_by_role("slider", name="Backward step")  # the panel's range follows the buttons
    page.wait_for_function("s => s.getAttribute('aria-valuetext') === s.max", arg=step.element_handle(),
                           timeout=15_000)
    step.focus()
    page.keyboard.press("Home")  # and moves the step itself
    wait_text(page, "Step 0 of", timeout=15_000)
    page.wait_for_function("() => location.search.includes('bp_step=0')", timeout=15_000)
    _wait_graph_text(page, "grad ?")
    assert_no_exception(page)
    assert not page.js_errors


def test_a_setting_in_a_closed_tab_survives_switching_tabs(server, page):
    """Lazy tabs do not draw their widgets; the value must still come back with the tab."""
    open_page(page, server, "backprop")
    page.get_by_role("tab", name="Vanishing gradients").click()
    wait_settled(page)
    depth = page.locator("[data-testid='stSlider']", has_text="Depth of the chain").get_by_role("slider")
    depth.focus()
    page.keyboard.press("Home")
    wait_settled(page)
    page.wait_for_function("() => location.search.includes('bp_depth=2')", timeout=15_000)
    page.get_by_role("tab", name="Mini-batches").click()
    wait_settled(page)
    page.get_by_role("tab", name="Vanishing gradients").click()
    wait_settled(page)
    depth = page.locator("[data-testid='stSlider']", has_text="Depth of the chain").get_by_role("slider")
    assert depth.input_value() == "2"
    assert "bp_depth=2" in page.url
    assert_no_exception(page)


def test_the_current_equation_stays_beside_the_graph_at_1440x900(server, browser):
    """Issue 13: after pressing Next, the step's equation and the graph are both on screen, text >= 10 px."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    try:
        open_page(page, server, "backprop")
        page.wait_for_selector(GRAPH, timeout=30_000)
        for k in (1, 2, 3):  # each press moves one node; wait for it before pressing again
            _press(page, "Next")
            wait_text(page, f"Step {k} of", timeout=30_000)
        # The step's equation, in the graph's panel (it wraps before its ⇒ in a narrow window).
        eq = page.locator(".nl-eq").filter(has_text="⇒").first
        box, graph = eq.bounding_box(), page.locator(GRAPH).bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= 900, box  # not below the fold
        assert graph and graph["y"] < 900 and graph["y"] - (box["y"] + box["height"]) < 200  # right next to it
        # What only a screen reader gets (the step's announcement, each fraction's "/") takes no room on screen.
        for hidden in (".nl-announce", ".nl-eq .nl-sr"):
            sizes = [b and (b["width"], b["height"]) for b in
                     (el.bounding_box() for el in page.locator(hidden).all())]
            assert sizes and all(s and s[0] <= 1 and s[1] <= 1 for s in sizes), (hidden, sizes)
        sizes = page.evaluate(f"() => [...{SVG_JS}.querySelectorAll('text')].map("
                              "t => t.getBoundingClientRect().height)")
        smallest = page.evaluate(f"() => Math.min(...[...{SVG_JS}.querySelectorAll('text')].map("
                                 "t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))")
        assert sizes and smallest >= 9.95, smallest
        assert_no_exception(page)
    except Exception:
        page.screenshot(path="tests/browser/artifacts/equation-beside-graph.png", full_page=True)
        raise
    finally:
        ctx.close()


def test_the_learning_rate_and_training_ranges_answer_the_keyboard(server, page):
    """η and the training steps are ranges of browser panels: a key moves them, the lesson and the link follow."""
    open_page(page, server, "backprop")
    lr = page.get_by_role("slider", name="Learning rate η", exact=True)
    lr.focus()
    page.keyboard.press("ArrowLeft")  # 1 -> 0.3
    wait_settled(page)
    page.wait_for_function("() => location.search.includes('bp_lr=0.3')", timeout=15_000)
    wait_text(page, "your η = 0.3")
    steps = page.get_by_role("slider", name="Training steps", exact=True)
    steps.focus()
    page.keyboard.press("Home")
    wait_settled(page)
    page.wait_for_function("() => location.search.includes('bp_steps=10')", timeout=15_000)
    assert steps.input_value() == "10"
    assert_no_exception(page)
    assert not page.js_errors
