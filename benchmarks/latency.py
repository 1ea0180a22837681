"""Slider-to-settled latency of every lesson page, as a ratio to a one-slider baseline app in the same run.

    python -m benchmarks.latency [--repeats 15] [--pages perceptron,convolution] [--sessions 20]

Starts `streamlit run app.py` and `streamlit run benchmarks/baseline_app.py` on free 127.0.0.1
ports and drives both in Debian's Chromium. For each page it moves the three controls learners use
most (CONTROLS below) `--repeats` times each, timing from the key press until the script run has
finished and the browser has painted twice. Each change of a control follows one change of the baseline
app's slider (in a second tab), so both are timed on the machine as it is at that moment: a shared VM
whose speed swings by 2x within seconds cannot favour one side. It reports, against the issue's targets:
- median and p90 per control, and their ratio to the baseline changes made alongside it (median <= 1.5x,
  p90 <= 2x);
- first paint of each page after navigation on a warm server (<= 1.5 s);
- server CPU per change (the app process's utime + stime over the changes; <= 25 ms), and the baseline
  server's in its row: what Streamlit itself spends on one rerun of a one-slider app;
- resident memory after `--sessions` browser sessions each visited every page and closed, against the
  figure after one session (<= +300 MiB).
Exits 1 when a target is missed (`--no-fail` prints the table only).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

from pages.widgets.catalog import LESSONS
from tests.browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    open_page,
    start_streamlit,
    stop,
    wait_settled,
)

MEDIAN_RATIO = 1.5
P90_RATIO = 2.0
FIRST_PAINT_MS = 1500
CPU_MS_PER_CHANGE = 25
MEMORY_GROWTH_MIB = 300


@dataclass(frozen=True)
class Control:
    label: str  # the slider's label on the page (a slider, select_slider or panel range input)
    tab: str | None = None  # a tab to open first, when the control lives in one


# The three most used controls of each lesson page; a page missing here uses its first three sliders.
CONTROLS: dict[str, tuple[Control, ...]] = {
    "perceptron": (Control("Weight w1"), Control("Input x1"), Control("Bias b")),
    "backprop": (Control("Backward step"), Control("Hidden units"), Control("Learning rate η")),
    "convolution": (Control("Stride"), Control("Bias"), Control("Output row")),
    "pooling": (Control("Kernel size k"), Control("Output row"), Control("Stride s")),
    "cnn": (Control("Test image"), Control("Row"), Control("Column")),  # not Layer: past fc there is no Row
    "trainer": (Control("Epochs"), Control("Learning rate"), Control("Batch size")),
    "scaling_out": (Control("Steps"), Control("Batch per rank B"), Control("Micro-batches M", tab="Pipelining")),
}

# Installed in each measured page before it loads (``instrument``): every ForwardMsg the server sends is read
# for a top-level script_finished field (protobuf field 6, a varint), which fires "nl-script-finished" with its
# status. A rerun is known to have ended from the message itself: the app's data-test-script-state attribute
# alone misses runs the frontend never marks "running" (on a quiet machine about 1 key press in 3 of the
# baseline app's, which a benchmark reading only the attribute drops as "lost": the quickest changes).
_HOOK = """(() => {
  if (window.__nlHooked) return;
  window.__nlHooked = true;
  const scriptFinished = (buffer) => {  // the ScriptFinishedStatus of one ForwardMsg, or -1 when it has none
    const b = new Uint8Array(buffer);
    let i = 0;
    const varint = () => {
      let value = 0, shift = 0, byte;
      do { byte = b[i++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80 && i < b.length);
      return value;
    };
    while (i < b.length) {
      const key = varint(), field = Math.floor(key / 8), type = key % 8;
      if (type === 0) { const v = varint(); if (field === 6) return v; }
      else if (type === 2) { const length = varint(); i += length; }  // not i += varint(): i is read first
      else if (type === 1) i += 8;
      else if (type === 5) i += 4;
      else return -1;
    }
    return -1;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (!(event.data instanceof ArrayBuffer)) return;
        const status = scriptFinished(event.data);
        if (status >= 0) window.dispatchEvent(new CustomEvent("nl-script-finished", { detail: status }));
      });
    }
  };
})();"""

# Resolves with the ms from now until the app's run has finished (its script_finished message, or the script
# state going running -> notRunning in a page without the hook), the state reads notRunning and the browser
# has painted twice.
_ARM = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const t0 = performance.now();
  window.__settled = new Promise((resolve) => {
    let finished = false;
    const done = () => {
      window.removeEventListener("nl-script-finished", onFinished);
      obs.disconnect(); clearTimeout(timer); clearTimeout(lost);
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
    };
    // The attribute follows the same message, handled after this listener: wait for it too when it shows a run.
    const settle = () => {
      if (app.getAttribute("data-test-script-state") !== "running") done();
    };
    const onFinished = (event) => {
      if (event.detail === 2 || finished) return;  // 2: FINISHED_EARLY_FOR_RERUN, another run follows at once
      finished = true;
      setTimeout(settle, 0);
    };
    window.addEventListener("nl-script-finished", onFinished);
    // -1: no rerun started (a key press can be lost while the page is busy); the caller retries.
    const lost = setTimeout(() => { if (!finished) { obs.disconnect(); clearTimeout(timer); resolve(-1); } }, 10000);
    const timer = setTimeout(() => { obs.disconnect(); resolve(-2); }, 60000);
    const obs = new MutationObserver((records) => {
      const state = app.getAttribute("data-test-script-state");
      // Both changes can land before this callback runs: old values show a run happened.
      if (!window.__nlHooked && (state === "running" || records.some((r) => r.oldValue === "running"))) {
        finished = true;
      }
      if (finished && state === "notRunning") done();
    });
    obs.observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"]});
  });
}"""


def instrument(page) -> None:
    """Let ``measure`` see each run's script_finished message in `page` (call before the page opens)."""
    page.add_init_script(_HOOK)


def _photo(path: Path, side: int = 512) -> Path:
    """A 512x512 RGB test photo with edges and texture (the Convolution page's benchmark input)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:side, 0:side] / side
    rgb = np.stack([np.sin(12 * x) * 0.5 + 0.5, (x + y) / 2, ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1) * 1.0], -1)
    Image.fromarray((rgb * 255).astype("uint8")).save(path)
    return path


def _setup(page, url_path: str, workdir: Path) -> None:
    """Per-page preparation so the measured sliders work on a realistic input."""
    if url_path != "convolution":
        return
    source = page.get_by_text("Upload", exact=True)
    if source.count():
        source.first.click()
        page.wait_for_timeout(300)
    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    if uploader.count():
        uploader.first.set_input_files(str(_photo(workdir / "photo512.png")))
        page.wait_for_timeout(500)
        wait_settled(page)


def _slider(page, control: Control):
    """The <input type=range> of the slider labelled `control.label` (opening its tab first)."""
    if control.tab:
        page.get_by_role("tab", name=control.tab).first.click()
        wait_settled(page)
    box = page.locator("[data-testid='stSlider']").filter(
        has=page.locator("[data-testid='stWidgetLabel']", has_text=control.label))
    # A Streamlit slider, or a range input of a browser-drawn panel (pages/widgets/slider_panel.py), whose
    # accessible name is its label.
    slider = box.get_by_role("slider").or_(page.get_by_role("slider", name=control.label, exact=True)).first
    slider.wait_for(timeout=30_000)
    return slider


def _first_sliders(page, n: int = 3) -> tuple[Control, ...]:
    labels = page.locator("[data-testid='stSlider'] [data-testid='stWidgetLabel']").all_inner_texts()
    return tuple(Control(t.strip()) for t in labels[:n])


def arrow_key(slider) -> str:
    """The arrow that moves this <input type=range> one step without hitting its end."""
    return "ArrowRight" if float(slider.input_value()) < float(slider.get_attribute("max")) else "ArrowLeft"


def measure(page, slider, repeats: int, *, warm_up: bool = True) -> list[float]:
    """Press an arrow key on `slider` `repeats` times; return ms per change (a warm-up change dropped)."""
    times: list[float] = []
    lost = 0
    while len(times) < repeats + warm_up:
        key = arrow_key(slider)
        slider.focus()
        page.evaluate(_ARM)
        page.keyboard.press(key)
        ms = page.evaluate("window.__settled")
        if ms == -2:
            raise RuntimeError("a rerun started but did not finish within 60 s")
        if ms < 0:
            lost += 1
            if lost > 3:
                raise RuntimeError("four slider changes in a row started no rerun")
            continue
        times.append(ms)
        lost = 0
    return times[warm_up:]


def measure_beside(page, slider, base_page, base_slider, repeats: int) -> tuple[list[float], list[float]]:
    """`repeats` changes of `slider`, each right after one change of the baseline's: (page ms, baseline ms)."""
    measure(page, slider, 0)  # the warm-up change
    times, base = [], []
    for _ in range(repeats):
        base += measure(base_page, base_slider, 1, warm_up=False)
        times += measure(page, slider, 1, warm_up=False)
    return times, base


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int, field: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def first_paint_ms(browser, base: str, url_path: str, tries: int = 3) -> float:
    """Click the page in the sidebar from Home on a warm server: ms until its script ran and painted.

    A click can be lost while Home is still settling (no run starts within 10 s): then it is tried
    again on a fresh tab, like a lost key press in ``measure``."""
    for _ in range(tries):
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        instrument(pg)
        open_page(pg, base, "")  # Home is the default page, at the root
        link = pg.locator(f"[data-testid='stSidebarNav'] a[href$='/{url_path}']").first
        pg.evaluate(_ARM)
        link.click()
        ms = pg.evaluate("window.__settled")
        pg.close()
        if ms >= 0:
            return ms
    raise RuntimeError(f"navigating to {url_path} started no run ({tries} tries)")


def visit_every_page(browser, base: str, pages: list[str]) -> None:
    """One browser session that opens each page, then closes (its server session ends)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    for path in pages:
        open_page(pg, base, path)
    ctx.close()


def run(args) -> tuple[list[str], bool]:
    wanted = [p for p in LESSONS if not args.pages or p.url_path in args.pages.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="nl-bench-"))
    app_port, base_port = free_port(), free_port()
    app = start_streamlit("app.py", app_port, workdir / "app.log")
    base = start_streamlit("benchmarks/baseline_app.py", base_port, workdir / "baseline.log")
    app_url = f"http://127.0.0.1:{app_port}"
    rows, paints, ok = [], [], True
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # The baseline app stays open in its own tab: one of its changes goes before each change measured.
            base_pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            instrument(base_pg)
            open_page(base_pg, f"http://127.0.0.1:{base_port}")
            base_slider = base_pg.locator("[data-testid='stSlider']").get_by_role("slider").first
            cpu0 = cpu_seconds(base.pid)
            baseline = measure(base_pg, base_slider, args.repeats)
            base_cpu_ms = (cpu_seconds(base.pid) - cpu0) * 1000 / (args.repeats + 1)  # Streamlit's own share
            visit_every_page(browser, app_url, [i.url_path for i in wanted])  # warm: imports, caches
            one_session_mib = memory_mib(app.pid)
            for info in wanted:
                paints.append((info.title, statistics.median(
                    first_paint_ms(browser, app_url, info.url_path) for _ in range(3))))
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                instrument(pg)
                open_page(pg, app_url, info.url_path)
                _setup(pg, info.url_path, workdir)
                for control in CONTROLS.get(info.url_path) or _first_sliders(pg):
                    try:
                        slider = _slider(pg, control)
                        cpu0 = cpu_seconds(app.pid)  # the baseline's changes run in its own server
                        times, beside = measure_beside(pg, slider, base_pg, base_slider, args.repeats)
                        cpu_ms = (cpu_seconds(app.pid) - cpu0) * 1000 / (args.repeats + 1)
                    except Exception:
                        pg.screenshot(path=str(workdir / f"{info.url_path}-failed.png"), full_page=True)
                        print(f"{info.title} / {control.label}: measuring failed; screenshot and logs in {workdir}")
                        raise
                    rows.append((info.title, control.label, times, cpu_ms, beside))
                    baseline += beside
                pg.close()
            for _ in range(args.sessions):
                visit_every_page(browser, app_url, [i.url_path for i in wanted])
            browser.close()
        time.sleep(args.settle_s)  # sessions are cleaned up after the websocket closes
        after_mib = memory_mib(app.pid)
        peak = memory_mib(app.pid, "VmHWM:")
    finally:
        stop(app)
        stop(base)

    base_med, base_p90 = statistics.median(baseline), p90(baseline)
    out = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the end, "
        f"{args.repeats} changes per control",
        "",
        "| page | control | median ms | p90 ms | baseline beside it, median / p90 ms | median / baseline | "
        "p90 / baseline p90 | server CPU ms/change | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
        f"| baseline | Value | {base_med:.0f} | {base_p90:.0f} | (all its changes) | 1.00 | 1.00 | {base_cpu_ms:.0f} | |",
    ]
    for title, label, times, cpu_ms, beside in rows:
        med_r, p90_r = statistics.median(times) / statistics.median(beside), p90(times) / p90(beside)
        good = med_r <= MEDIAN_RATIO and p90_r <= P90_RATIO and cpu_ms <= CPU_MS_PER_CHANGE
        ok &= good
        out.append(f"| {title} | {label} | {statistics.median(times):.0f} | {p90(times):.0f} | "
                   f"{statistics.median(beside):.0f} / {p90(beside):.0f} | {med_r:.2f} | {p90_r:.2f} | {cpu_ms:.0f} | "
                   f"{'ok' if good else 'OVER'} |")
    out += ["", "| page | first paint ms (median of 3, warm server) | verdict |", "|---|---:|---|"]
    for title, ms in paints:
        ok &= ms <= FIRST_PAINT_MS
        out.append(f"| {title} | {ms:.0f} | {'ok' if ms <= FIRST_PAINT_MS else 'OVER'} |")
    growth = after_mib - one_session_mib
    ok &= growth <= MEMORY_GROWTH_MIB
    out += ["", f"App server memory: {one_session_mib:.0f} MiB resident after one session visited every page; "
            f"{after_mib:.0f} MiB after {args.sessions} more sessions did and closed (+{growth:.0f} MiB, "
            f"target <= +{MEMORY_GROWTH_MIB}); peak {peak:.0f} MiB."]
    return out, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--pages", default="", help="comma-separated url paths (default: every lesson page)")
    ap.add_argument("--sessions", type=int, default=20, help="sessions for the memory figure")
    ap.add_argument("--settle-s", type=float, default=10.0, help="wait before reading memory after the sessions")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even when a target is missed")
    args = ap.parse_args(argv)
    lines, ok = run(args)
    print("\n".join(lines))
    print("\nAll targets met." if ok else "\nSome targets are missed (OVER above).")
    return 0 if ok or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
