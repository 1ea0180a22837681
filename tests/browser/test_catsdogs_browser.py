"""Cats vs dogs on the Trainer page in a real browser: the augmentation preview follows its controls,
a short run on drawn pets finishes, and the Grad-CAM tab paints heat over the test pictures."""

from tests.browser.helpers import assert_no_exception, open_page, wait_settled

QUERY = "trainer?trainer_dataset=synthetic-pets&trainer_model=catsdogs_cnn&trainer_subset=200&trainer_epochs=1"


def _preview_src(page) -> str:
    chart = page.locator("[data-testid='stPlotlyChart']", has_text="version 7").first
    chart.locator("image").first.wait_for(state="attached", timeout=30_000)
    return chart.locator("image").first.get_attribute("href") or ""


def test_preview_follows_the_slider_and_a_short_run_shows_grad_cam(server, page):
    open_page(page, server, QUERY)
    page.get_by_text("Cats vs dogs: augmentation and transfer learning").wait_for(timeout=60_000)
    before = _preview_src(page)
    slider = page.locator("[data-testid='stSlider']", has_text="Preview picture").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    wait_settled(page)
    page.wait_for_function(
        "(old) => { const c = [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")]"
        ".find(e => e.innerText.includes('version 7')); const i = c && c.querySelector('image');"
        " return i && i.getAttribute('href') !== old; }", arg=before, timeout=30_000)
    assert _preview_src(page) != before
    page.locator("[data-testid='stCheckbox']", has_text="Rotate").locator("label").first.click()
    wait_settled(page)
    assert "trainer_cd_rotate=1" in page.url
    assert_no_exception(page)

    page.get_by_role("button", name="Start training").click()
    page.get_by_role("tab", name="Grad-CAM").wait_for(timeout=120_000)
    wait_settled(page)
    page.get_by_role("tab", name="Grad-CAM").click()
    page.get_by_text("What is the network looking at?").wait_for(timeout=30_000)
    cam = page.locator("[data-testid='stPlotlyChart']", has_text="four per class").first
    cam.locator("image").first.wait_for(state="attached", timeout=30_000)
    assert (cam.locator("image").first.get_attribute("href") or "").startswith("data:image/png")
    assert_no_exception(page)
    assert not page.js_errors
