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
