"""Slider-to-settled latency of every page, as a ratio to a one-slider baseline app in the same run.

    python -m benchmarks.latency [--repeats 15] [--pages perceptron,convolution]

Starts `streamlit run app.py` and `streamlit run benchmarks/baseline_app.py` on free 127.0.0.1
ports, drives both in Debian's Chromium, and for each page moves its first slider `--repeats`
times, timing from the key press until the script run has finished and the browser has painted.
Prints median and p90 per page, the ratio of the medians to the baseline (target <= 1.5), and the
app server's peak memory (VmHWM) after every page was visited once.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
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
)

TARGET_RATIO = 1.5

# Resolves with the ms from now until the app has gone running -> notRunning and painted twice.
_ARM = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const t0 = performance.now();
  window.__settled = new Promise((resolve) => {
    let sawRunning = false;
    // -1: no rerun started (a key press can be lost while the page is busy); the caller retries.
    const lost = setTimeout(() => { if (!sawRunning) { obs.disconnect(); clearTimeout(timer); resolve(-1); } }, 10000);
    const timer = setTimeout(() => { obs.disconnect(); resolve(-2); }, 60000);
    const obs = new MutationObserver((records) => {
      const state = app.getAttribute("data-test-script-state");
      // Both changes can land before this callback runs: old values show a run happened.
      if (state === "running" || records.some((r) => r.oldValue === "running")) sawRunning = true;
      if (sawRunning && state === "notRunning") {
        obs.disconnect(); clearTimeout(timer); clearTimeout(lost);
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
      }
    });
    obs.observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"]});
  });
}"""


def _photo(path: Path, side: int = 512) -> Path:
    """A 512x512 RGB test photo with edges and texture (the Convolution page's benchmark input)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:side, 0:side] / side
    rgb = np.stack([np.sin(12 * x) * 0.5 + 0.5, (x + y) / 2, ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1) * 1.0], -1)
    Image.fromarray((rgb * 255).astype("uint8")).save(path)
    return path


def _setup(page, url_path: str, workdir: Path) -> None:
    """Per-page preparation so the measured slider works on a realistic input."""
    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    if url_path == "convolution" and uploader.count():
        source = page.get_by_text("Upload", exact=True)
        if source.count():
            source.first.click()
            page.wait_for_timeout(300)
        uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
        if uploader.count():
            uploader.first.set_input_files(str(_photo(workdir / "photo512.png")))
            page.wait_for_timeout(500)
            page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000)


def measure(page, repeats: int) -> list[float]:
    """Move the first slider on the page `repeats` times; return ms per change."""
    slider = page.locator("[data-testid='stSlider']").get_by_role("slider").first  # an <input type=range>
    slider.wait_for(timeout=30_000)
    times: list[float] = []
    lost = 0
    while len(times) < repeats + 1:  # the first change warms caches and is dropped
        now, top = float(slider.input_value()), float(slider.get_attribute("max"))
        slider.focus()
        page.evaluate(_ARM)
        page.keyboard.press("ArrowRight" if now < top else "ArrowLeft")
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
    return times[1:]


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--pages", default="", help="comma-separated url paths (default: every page)")
    args = ap.parse_args()
    wanted = [p for p in LESSONS if not args.pages or p.url_path in args.pages.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="nl-bench-"))
    app_port, base_port = free_port(), free_port()
    app = start_streamlit("app.py", app_port, workdir / "app.log")
    base = start_streamlit("benchmarks/baseline_app.py", base_port, workdir / "baseline.log")
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_page(pg, f"http://127.0.0.1:{base_port}")
            baseline = measure(pg, args.repeats)
            for info in wanted:
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                open_page(pg, f"http://127.0.0.1:{app_port}", info.url_path)
                _setup(pg, info.url_path, workdir)
                try:
                    rows.append((info.title, measure(pg, args.repeats)))
                except Exception:
                    pg.screenshot(path=str(workdir / f"{info.url_path}-failed.png"), full_page=True)
                    print(f"{info.title}: measuring failed; screenshot and logs in {workdir}")
                    raise
                pg.close()
            browser.close()
        peak = peak_memory_mib(app.pid)
    finally:
        stop(app)
        stop(base)
    base_med = statistics.median(baseline)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {args.repeats} slider changes per page\n")
    print("| page | median ms | p90 ms | median / baseline | target <= 1.5 |")
    print("|---|---:|---:|---:|---|")
    print(f"| baseline (one slider) | {base_med:.0f} | {p90(baseline):.0f} | 1.00 | |")
    for title, times in rows:
        ratio = statistics.median(times) / base_med
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER"
        print(f"| {title} | {statistics.median(times):.0f} | {p90(times):.0f} | {ratio:.2f} | {verdict} |")
    print(f"\nApp server peak memory (VmHWM) after visiting every page once: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
