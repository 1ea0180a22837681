"""The Trainer in Chromium: start a short synthetic run, watch the live chart grow, stop it, see the
results, then draw a digit on the canvas and get the MNIST preprocessing and a prediction."""

from __future__ import annotations

import re

from tests.browser.helpers import assert_no_exception, open_page, wait_settled

QUERY = "trainer?trainer_dataset=synthetic-digits&trainer_subset=2000&trainer_epochs=5&trainer_batch=16"
# Points drawn in the live loss chart (plotly's own calcdata: the figure JSON holds binary arrays).
LOSS_POINTS = ("() => { const p = document.querySelector('.st-key-trainer_live_loss .js-plotly-plot');"
               " return p && p.calcdata && p.calcdata[0] ? p.calcdata[0].length : 0; }")


def test_train_watch_stop_results_and_draw(server, page):
    open_page(page, server, QUERY)
    assert_no_exception(page)
    assert page.get_by_text("synthetic", exact=True).count() >= 1  # the offline set is labelled
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"({LOSS_POINTS})() > 0", timeout=90_000)
    first = page.evaluate(LOSS_POINTS)
    page.wait_for_function(f"({LOSS_POINTS})() > {first}", timeout=60_000)  # the fragment redraws it
    assert page.get_by_text("images/s").count() >= 1

    # Moving a setting mid-run (a range of the settings' panels) neither kills nor restarts the run; the link
    # follows it.
    epochs = page.get_by_role("slider", name="Epochs", exact=True)
    epochs.focus()
    epochs.press("ArrowRight")
    page.wait_for_function("() => location.href.includes('trainer_epochs=6')", timeout=30_000)
    wait_settled(page)
    grown = page.evaluate(LOSS_POINTS)
    page.wait_for_function(f"({LOSS_POINTS})() > {grown}", timeout=60_000)
    assert_no_exception(page)

    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("Stopped by the user").wait_for(timeout=90_000)
    page.get_by_role("tab", name="Confusion matrix").wait_for(timeout=60_000)
    wait_settled(page)
    assert page.get_by_text("Test accuracy").count() >= 1
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 5
    assert_no_exception(page)

    # Draw a "1" on the canvas: the preprocessing steps and the probabilities appear.
    page.get_by_role("tab", name="Draw a digit").click()
    canvas = page.locator("[data-testid='stTabs'] canvas").last
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + i, y + i * box["height"] * 0.035)
    page.mouse.up()
    page.get_by_text("4. centred in 28×28").wait_for(timeout=60_000)
    page.get_by_text("What the network thinks").wait_for(timeout=30_000)
    wait_settled(page)
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors


def test_settings_rerun_the_form_alone_yet_start_and_the_page_follow_them(server, page):
    """A setting only the form shows reruns the form alone (pages/widgets/trainer/setup.settings): Start must train
    what the form shows then, not what the page was drawn with; one the page shows elsewhere (the optimizer in
    the loss formula, every setting in an open snippet) redraws the page."""
    open_page(page, server, "trainer?trainer_dataset=synthetic-digits&trainer_subset=200&trainer_epochs=1"
                            "&trainer_batch=64")
    epochs = page.get_by_role("slider", name="Epochs", exact=True)
    epochs.focus()
    epochs.press("ArrowRight")
    page.wait_for_function("() => location.href.includes('trainer_epochs=2')", timeout=30_000)
    wait_settled(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"Epoch [12]/2 · ")).first.wait_for(timeout=90_000)  # two epochs, as the form says

    # The loss formula is the page's first; looked up anew each time (a redraw may replace its node).
    formula = "document.querySelector(\"[data-testid='stMarkdownContainer'] .katex\")"
    assert "Adam" in page.evaluate(f"() => {formula}.innerText")
    page.locator("[data-testid='stSelectbox']", has_text="Optimizer").click()
    page.keyboard.type("SGD")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.href.includes('trainer_optimizer=sgd')", timeout=30_000)
    wait_settled(page)
    page.wait_for_function(f"() => !{formula}.innerText.includes('Adam')", timeout=30_000)

    page.get_by_text("PyTorch equivalent").click()
    page.get_by_text("for epoch in range(2)").wait_for(timeout=30_000)
    epochs.focus()
    epochs.press("ArrowRight")
    page.get_by_text("for epoch in range(3)").wait_for(timeout=30_000)  # an open snippet follows every setting
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors
