"""The floor under benchmarks/latency.py: how fast a Streamlit fragment with nothing of ours in it can answer.

    python -m benchmarks.fragment_floor [--repeats 15]

Serves benchmarks/floor_app.py (with the project's .streamlit/config.toml, as the app runs) and moves
the "Value" slider of each synthetic panel, timed exactly as latency.py times a lesson page's control:
key press -> script run finished -> two painted frames. Each panel's median and p90 are given as a
ratio to the baseline panel's in the same run, with the server process's CPU per change (user + system,
every thread: what latency.py's 25 ms target counts). The gap between these ratios and a lesson page's is what
that page's own elements cost the browser; a panel that cannot come near them on the server is the
case for computing it in the browser. A reference measurement: no targets, exit status 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.latency import arrow_key, cpu_seconds, instrument, measure, p90
from tests.browser import helpers as h

PANELS = ("baseline", "text", "image", "sliders", "formulas", "panel", "component")  # floor_app.py's, in this order

# Resolves with the ms from now until the component's own sum line has changed and painted twice (no server).
_ARM_LOCAL = """(input) => {
  const sum = input.getRootNode().querySelector(".sum");
  const t0 = performance.now();
  window.__painted = new Promise((resolve) => {
    const obs = new MutationObserver(() => {
      obs.disconnect();
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
    });
    obs.observe(sum, {childList: true, characterData: true, subtree: true});
    setTimeout(() => { obs.disconnect(); resolve(-1); }, 10000);
  });
}"""


def _slider(pg, name: str):
    """The measured "Value" control: Streamlit's slider, or the component's own range input (in its shadow root)."""
    if name == "component":
        return pg.locator("input[aria-label='Value']").first  # Playwright's CSS reaches into open shadow roots
    return pg.locator("[data-testid='stSlider']").filter(has_text="Value").get_by_role("slider").first


def local_paint_ms(pg, slider, repeats: int) -> list[float]:
    """The component's own answer: key press -> its picture and sum redrawn in the browser -> two frames."""
    times = []
    for _ in range(repeats):
        h.wait_settled(pg)
        slider.focus()
        slider.evaluate(_ARM_LOCAL)
        pg.keyboard.press(arrow_key(slider))
        times.append(pg.evaluate("window.__painted"))
    h.wait_settled(pg)
    return times


def run(repeats: int) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix="nl-floor-"))
    port = h.free_port()
    app = h.start_streamlit("benchmarks/floor_app.py", port, workdir / "floor.log")
    results: dict[str, list[float]] = {}
    cpu_ms: dict[str, list[float]] = {}  # the server process's CPU per change, per panel
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=h.CHROMIUM, args=h.CHROMIUM_ARGS)
            # The baseline first and last: the two runs show how much the machine drifted meanwhile.
            for name in ("baseline", *PANELS[1:], "baseline"):
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                instrument(pg)
                h.open_page(pg, f"http://127.0.0.1:{port}", f"?panel={name}")
                h.wait_settled(pg)
                slider = _slider(pg, name)
                slider.wait_for(timeout=30_000)
                cpu0 = cpu_seconds(app.pid)
                results.setdefault(name, []).extend(measure(pg, slider, repeats))
                cpu_ms.setdefault(name, []).append((cpu_seconds(app.pid) - cpu0) * 1000 / (repeats + 1))
                if name == "component":
                    local = local_paint_ms(pg, slider, repeats)
                h.assert_no_exception(pg)  # a panel that failed would time its error message
                pg.close()
            browser.close()
    finally:
        h.stop(app)
    base_med, base_p90 = statistics.median(results["baseline"]), p90(results["baseline"])
    out = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the end, "
        f"{repeats} changes per panel ({2 * repeats} for the baseline, before and after the others)",
        "",
        "| panel | median ms | p90 ms | median / baseline | p90 / baseline p90 | server CPU ms/change |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in PANELS:
        times = results[name]
        out.append(f"| {name} | {statistics.median(times):.0f} | {p90(times):.0f} | "
                   f"{statistics.median(times) / base_med:.2f} | {p90(times) / base_p90:.2f} | "
                   f"{statistics.mean(cpu_ms[name]):.0f} |")
    out += ["", f"The component's own picture, computed in the browser: median {statistics.median(local):.0f} ms, "
            f"p90 {p90(local):.0f} ms from the key press to two painted frames (no server round trip; its "
            "Python fragment rerun, in the table above, follows it)."]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    print("\n".join(run(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
