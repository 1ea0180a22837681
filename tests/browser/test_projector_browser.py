"""A projector at 1024x768 and a laptop at 1440x900: every page readable, nothing clipped.

Each page is opened at both sizes, screenshotted into tests/browser/artifacts/projector/ (kept
by CI as test artifacts), and checked for what a class sees broken: a widget label, button, tab
or toggle cut with an ellipsis; a formula wider than its box; one of our SVG pictures wider than its column
or the window, or an st.image wider than its column; a menu's chosen value or a segmented option running past
its box; a table that scrolls sideways; figure text under 10 px.
"""

from __future__ import annotations

import pytest

from pages.widgets.catalog import HOME, LESSONS
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import PANELS, assert_no_exception, open_page, wait_settled

SIZES = [(1024, 768), (1440, 900)]
MIN_FIGURE_FONT_PX = 10
# Pages with browser-drawn panels (pages/widgets/slider_panel.py) -> how many: settings and a picked pixel or cell,
# the test image and the picked unit, the Trainer's three columns of settings, Backprop's step, graph, learning rate
# and training (and Convolution's histogram, a panel with no ranges).
PANEL_PAGES = {"perceptron": 1, "backprop": 4, "backprop-step": 4, "convolution": 3, "pooling": 2, "cnn": 2,
               "trainer": 3, "trainer-catsdogs": 3, "scaling_out": 1, "scaling_out-pipelining": 1,
               "scaling_out-model-parallel": 0, "trainer-results": 3}

# Elements whose text must fit: labels, buttons, tabs, toggles, radio/segmented options, metrics.
_CLIPPED = """() => {
  const sel = "[data-testid='stWidgetLabel'], [data-testid='stWidgetLabel'] *, button, button *, "
    + "[role='tab'], [role='tab'] *, [data-testid='stMetricLabel'] *, [data-testid='stMetricValue'] *, "
    + "label, label *, [data-testid='stCaptionContainer'] *";
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const cs = getComputedStyle(el);
    const clips = cs.textOverflow === "ellipsis" || cs.overflow === "hidden" || cs.overflowX === "hidden";
    if (clips && el.scrollWidth > el.clientWidth + 1) out.push(el.textContent.trim().slice(0, 60));
  }
  return [...new Set(out)];
}"""

_OVERFLOWING_FORMULAS = """() => {
  const out = [];
  for (const el of document.querySelectorAll(".katex-display, [data-testid='stMarkdownContainer'] .katex")) {
    if (!el.offsetParent) continue;
    const box = el.closest("[data-testid='stElementContainer'], [data-testid='element-container']") || el.parentElement;
    const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 || r.right > b.right + 1) out.push(el.textContent.trim().slice(0, 60));
  }
  return out;
}"""

# The SVG pictures the pages build (neuron, graphs, curves) have a min-width that keeps their text readable;
# where a column is narrower than that, the picture spills over the next column or off the window. A picture
# (st.image) in a column with a width of its own does the same (the Trainer's input beside its feature maps).
_SPILLING_PICTURES = """() => {
  const out = [];
  const pictures = "[data-testid='stMarkdownContainer'] svg[role='img'], [data-testid='stColumn'] [data-testid='stImage'] img";
  for (const svg of document.querySelectorAll(pictures)) {
    if (!svg.getClientRects().length) continue;
    const box = svg.closest("[data-testid='stColumn']") || svg.closest("[data-testid='stElementContainer']");
    // A picture in a scrolling wrapper (Backprop's graph) scrolls on purpose: then the wrapper must fit.
    const scroller = svg.parentElement.closest("div") || svg.parentElement;
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(scroller).overflowX);
    const r = (scrolls ? scroller : svg).getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.right > b.right + 1 || r.right > window.innerWidth + 1) {
      out.push(`${(svg.parentElement.className || "svg").slice(0, 30)}: ${r.width.toFixed(0)} px wide, ` +
               `${(r.right - Math.min(b.right, window.innerWidth)).toFixed(0)} px out`);
    }
  }
  return out;
}"""

# A selectbox's chosen value (the text of its input) or a segmented control's option that runs past the box
# that clips it: cut with no ellipsis, so _CLIPPED (which asks each element about its own overflow) misses it.
_CUT_BY_BOX = """() => {
  const out = [];
  for (const input of document.querySelectorAll("[data-testid='stSelectbox'] input")) {
    if (input.getClientRects().length && input.scrollWidth > input.clientWidth + 1) out.push(input.value.slice(0, 60));
  }
  const sel = "[data-testid='stSelectbox'] [data-baseweb='select'] *, [data-testid='stButtonGroup'] button *";
  for (const el of document.querySelectorAll(sel)) {
    if (el.children.length || !el.textContent.trim() || !el.getClientRects().length) continue;
    let box = el.parentElement;
    while (box && !["hidden", "clip"].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
    const widget = el.closest("[data-testid='stElementContainer']");
    for (const limit of [box, widget]) {
      if (limit && el.getBoundingClientRect().right > limit.getBoundingClientRect().right + 1) {
        out.push(el.textContent.trim().slice(0, 60));
        break;
      }
    }
  }
  return [...new Set(out)];
}"""

# A panel drawn by a browser component (pages/widgets/slider_panel.py) lives in a shadow root the checks above
# do not see into: its labels and numbers must fit their row, its pictures, tables, columns and text the panel
# and the window (its figure text is read by _SMALL_FIGURE_TEXT).
_PANEL_OVERFLOW = """() => {
  const out = [];
  for (const panel of (""" + PANELS + """)()) {
    if (!panel.getClientRects().length) continue;
    const edge = Math.min(panel.getBoundingClientRect().right, window.innerWidth) + 1;
    for (const head of panel.querySelectorAll(".nl-head, .nl-ends")) {
      if (head.scrollWidth > head.clientWidth + 1) out.push(`row: ${head.textContent.trim().replace(/\\s+/g, " ")}`);
    }
    const parts = ".nl-controls, .nl-picture svg, .nl-picture p, .nl-picture table, .nl-picture figure, .nl-columns > *";
    for (const el of panel.querySelectorAll(parts)) {
      // A picture in a scrolling wrapper (Backprop's graph) scrolls on purpose: then the wrapper must fit.
      const scroller = el.tagName === "svg" && el.parentElement.closest("div");
      if (scroller && ["auto", "scroll"].includes(getComputedStyle(scroller).overflowX)) {
        if (scroller.getBoundingClientRect().right > edge) out.push(`scroller: ${el.textContent.trim().slice(0, 40)}`);
        continue;
      }
      if (el.getBoundingClientRect().right > edge || el.scrollWidth > el.clientWidth + 1) {
        out.push(`${el.tagName.toLowerCase()}: ${el.textContent.trim().slice(0, 40)}`);
      }
    }
  }
  return out;
}"""

# A table (a data grid) wider than its box hides its last columns behind a sideways scroll that a class does not
# see (Backprop's "agree" column at 1024 px).
_SCROLLING_TABLES = """() => {
  const out = [];
  for (const grid of document.querySelectorAll("[data-testid='stDataFrame']")) {
    const scroller = grid.querySelector(".dvn-scroller");
    if (!grid.getClientRects().length || !scroller) continue;
    if (scroller.scrollWidth > scroller.clientWidth + 1) {
      out.push(`a table: ${scroller.scrollWidth - scroller.clientWidth} px of columns hidden`);
    }
  }
  for (const box of document.querySelectorAll("[data-testid='stTable']")) {  // a static table: past its box
    const table = box.querySelector("table");
    if (!table || !box.getClientRects().length) continue;
    const over = table.getBoundingClientRect().right - box.getBoundingClientRect().right;
    if (over > 1) out.push(`a table: ${over.toFixed(0)} px past its box`);
  }
  return out;
}"""

_SMALL_FIGURE_TEXT = """(minPx) => {
  const out = [];
  const texts = [...document.querySelectorAll(".js-plotly-plot svg text, [data-testid='stGraphVizChart'] svg text"),
                 ...(""" + PANELS + """)().flatMap((panel) => [...panel.querySelectorAll("svg text")])];
  for (const t of texts) {
    if (!t.textContent.trim() || t.getBoundingClientRect().width === 0) continue;
    const m = t.getScreenCTM();  // its scale, rotated labels (an axis title) included
    const px = parseFloat(getComputedStyle(t).fontSize) * (m ? Math.hypot(m.a, m.b) : 1);
    if (px > 0 && px < minPx - 0.05) out.push(`${t.textContent.trim().slice(0, 30)} (${px.toFixed(1)} px)`);
  }
  return [...new Set(out)].slice(0, 10);
}"""


def _assert_readable(pg, name: str, size: tuple[int, int]) -> None:
    """Screenshot the open page into artifacts/projector/ and run every check above on it."""
    width, height = size
    pg.wait_for_timeout(500)  # figures finish their first layout
    out = ARTIFACTS / "projector"
    out.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(out / f"{name}-{width}x{height}.png"), full_page=True)
    assert_no_exception(pg)
    clipped = pg.evaluate(_CLIPPED) + pg.evaluate(_CUT_BY_BOX)
    assert not clipped, f"text cut at {width}x{height}: {clipped}"
    formulas = pg.evaluate(_OVERFLOWING_FORMULAS)
    assert not formulas, f"formulas overflow at {width}x{height}: {formulas}"
    if name in PANEL_PAGES:  # drawn by the time the run settled: else the check below would look at nothing
        panels = pg.locator(".nl-panel").count()
        assert panels == PANEL_PAGES[name], f"{panels} browser-drawn panels on {name}, not {PANEL_PAGES[name]}"
    spilling = pg.evaluate(_SPILLING_PICTURES) + pg.evaluate(_PANEL_OVERFLOW) + pg.evaluate(_SCROLLING_TABLES)
    assert not spilling, f"pictures wider than their column at {width}x{height}: {spilling}"
    small = pg.evaluate(_SMALL_FIGURE_TEXT, MIN_FIGURE_FONT_PX)
    assert not small, f"figure text under {MIN_FIGURE_FONT_PX} px at {width}x{height}: {small}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("info", [HOME, *LESSONS], ids=lambda i: i.url_path)
def test_page_is_readable_and_unclipped(server, browser, info, size):
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    try:
        pg = ctx.new_page()
        open_page(pg, server, "" if info is HOME else info.url_path)
        _assert_readable(pg, info.url_path, size)
    finally:
        ctx.close()


def _run_model_parallel(pg) -> None:
    """Scaling out's model-parallel step, run (two local processes): its summary table, with a sentence per row."""
    pg.get_by_role("button", name="Run one training step of the split model").click()
    pg.locator("[data-testid='stTable']").first.wait_for(timeout=120_000)
    wait_settled(pg)


def _train_a_tiny_run(pg) -> None:
    """The Trainer after a run of seconds: its results (the confusion matrix, with a count in every cell, and the
    feature maps, whose tab is opened; the others stay in the page, hidden, and are not checked)."""
    pg.get_by_role("button", name="Start training").click()
    pg.get_by_role("tab", name="Confusion matrix").wait_for(timeout=120_000)
    wait_settled(pg)
    pg.get_by_role("tab", name="Feature maps").click()  # the input beside the maps, in a fifth of the page
    pg.locator(".st-key-trainer_fm").wait_for(timeout=30_000)
    wait_settled(pg)


# Pages in a state their default does not show: Backprop mid-way through its backward pass (the step's
# equation, the widest formula of the site), Scaling out after a model-parallel run (its summary table), the
# Trainer after a tiny run (its results), the Trainer on cats vs dogs with ResNet (its longest menu names and its
# picture sizes), Scaling out's Pipelining tab (its panel and timeline). Name -> (address, ready).
VARIANTS = {
    "backprop-step": ("backprop?bp_step=3", lambda pg: pg.get_by_text("Step 3 of").first.wait_for(timeout=30_000)),
    "scaling_out-model-parallel": ("scaling_out?scale_tab=Model+parallel", _run_model_parallel),
    "trainer-results": ("trainer?trainer_dataset=synthetic-digits&trainer_subset=200&trainer_epochs=1&trainer_batch=64",
                        _train_a_tiny_run),
    "trainer-catsdogs": (
        "trainer?trainer_dataset=synthetic-pets&trainer_model=resnet18_frozen",
        lambda pg: pg.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stSelectbox'] input\")]"
                                        ".some((i) => i.value === 'ResNet-18 transfer (frozen backbone)')",
                                        timeout=60_000)),
    "scaling_out-pipelining": (
        "scaling_out?scale_tab=Pipelining",
        lambda pg: pg.get_by_text("Computed: GPipe, S = 2, M = 4").first.wait_for(timeout=30_000)),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_page_in_another_state_is_readable_and_unclipped(server, browser, name, size):
    address, ready = VARIANTS[name]
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    try:
        pg = ctx.new_page()
        open_page(pg, server, address)
        ready(pg)
        _assert_readable(pg, name, size)
    finally:
        ctx.close()
