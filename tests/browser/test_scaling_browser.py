"""Scaling out in Chromium: a data-parallel run on two real worker processes, polled into the page
while it runs; the gradients, ring and loss charts appear; the pipeline tab draws its timeline."""

from __future__ import annotations

from tests.browser.helpers import assert_no_exception, open_page, wait_settled


def test_ddp_run_shows_results_and_the_pipeline_tab_draws(server, page):
    open_page(page, server, "scaling_out?scale_batch=8&scale_steps=2")
    assert page.get_by_text("This machine:").count() == 1
    page.get_by_role("button", name="Train with DDP on 2 processes").click()
    # The page stays usable while the workers run; the poller redraws it when they finish.
    page.get_by_text("Ranks' p.grad differ by").wait_for(timeout=180_000)
    wait_settled(page)
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 3
    assert page.get_by_text("all worker processes have exited").count() == 1
    assert page.locator("[data-testid='stImage']").count() >= 1  # each rank's slice of the batch
    assert_no_exception(page)

    page.get_by_role("tab", name="Pipelining").click()
    wait_settled(page)
    page.get_by_role("button", name="Measure it: 2 stages on 2 processes, M = 4").wait_for(timeout=30_000)
    page.wait_for_selector("[data-testid='stPlotlyChart'] .js-plotly-plot", timeout=30_000)
    assert page.get_by_text("Computed: GPipe, S = 2, M = 4").count() >= 1
    assert "scale_tab=Pipelining" in page.url
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors


def test_the_pipeline_panel_moves_m_through_its_choices_at_once(server, page):
    open_page(page, server, "scaling_out?scale_tab=Pipelining")
    micro = page.get_by_role("slider", name="Micro-batches M", exact=True)
    micro.wait_for(timeout=30_000)
    page.get_by_text("Computed: GPipe, S = 2, M = 4").first.wait_for(timeout=30_000)
    shown = page.locator(".nl-control", has=micro).locator("output")
    assert shown.inner_text() == "4" and micro.get_attribute("aria-valuetext") == "4"
    micro.focus()
    page.keyboard.press("ArrowRight")  # the next choice: 4 -> 8, shown before the server answers
    assert shown.inner_text() == "8"
    page.get_by_text("Computed: GPipe, S = 2, M = 8").first.wait_for(timeout=20_000)
    page.get_by_role("button", name="Measure it: 2 stages on 2 processes, M = 8").wait_for(timeout=20_000)
    page.wait_for_function("() => location.href.includes('scale_micro=8')", timeout=20_000)
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors


def test_the_data_parallel_ranges_redraw_what_they_change_outside_their_panel(server, page):
    """B, the steps and η rerun their panel alone (pages/scaling_out.py ddp_ranges); N, which the Run button names,
    and any range while the snippet shows them all, rerun the whole tab (the panel's ``rerun`` hook)."""
    open_page(page, server, "scaling_out?scale_world=2&scale_steps=10&scale_batch=16")
    steps = page.get_by_role("slider", name="Steps", exact=True)
    steps.wait_for(timeout=30_000)
    page.get_by_role("button", name="Train with DDP on 2 processes").wait_for(timeout=30_000)
    steps.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_text("11 steps: 352 images in all").first.wait_for(timeout=20_000)  # the panel's own picture
    page.wait_for_function("() => location.href.includes('scale_steps=11')", timeout=20_000)
    wait_settled(page)

    world = page.get_by_role("slider", name="World size N", exact=True)
    world.focus()
    page.keyboard.press("ArrowRight")  # N = 3: the button outside the panel says so
    page.get_by_role("button", name="Train with DDP on 3 processes").wait_for(timeout=20_000)
    wait_settled(page)

    page.get_by_text("PyTorch equivalent").first.click()
    page.get_by_text("STEPS = 11").first.wait_for(timeout=20_000)
    steps.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_text("STEPS = 12").first.wait_for(timeout=20_000)  # an open snippet follows every range
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors


# The bubble curve (plotly) is drawn for S stages: its trace's name says so.
CURVE_IS = ("() => document.querySelector(\"[data-testid='stPlotlyChart'] .js-plotly-plot\")"
            "?.data?.[0]?.name === 'computed, S = {stages}'")


def test_the_pipeline_ranges_redraw_the_curve_and_the_snippet_when_they_change_them(server, page):
    """M reruns its panel and the Measure button alone (pages/widgets/scaling.pipeline_run); S, which the bubble
    curve draws, and M while the snippet shows it, rerun the whole tab (the panel's ``rerun`` hook)."""
    open_page(page, server, "scaling_out?scale_tab=Pipelining&scale_micro=4&scale_stages=2")
    page.wait_for_function(CURVE_IS.format(stages=2), timeout=30_000)
    micro = page.get_by_role("slider", name="Micro-batches M", exact=True)
    micro.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_role("button", name="Measure it: 2 stages on 2 processes, M = 8").wait_for(timeout=20_000)
    wait_settled(page)

    stages = page.get_by_role("slider", name="Stages S (computed timeline)", exact=True)
    stages.focus()
    page.keyboard.press("ArrowRight")  # S = 3: the curve outside the panel follows
    page.wait_for_function(CURVE_IS.format(stages=3), timeout=20_000)
    page.wait_for_function("() => location.href.includes('scale_stages=3')", timeout=20_000)
    wait_settled(page)

    page.get_by_text("PyTorch equivalent").first.click()
    page.get_by_text("8 micro-batches of 32").first.wait_for(timeout=20_000)
    micro.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_text("16 micro-batches of 16").first.wait_for(timeout=20_000)  # an open snippet follows M
    assert_no_exception(page)
    assert not page.js_errors, page.js_errors
