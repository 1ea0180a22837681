"""The floor under benchmarks/latency.py: how fast a Streamlit fragment with nothing of ours in it can answer.

    python -m benchmarks.fragment_floor [--repeats 15]

Serves benchmarks/floor_app.py (with the project's .streamlit/config.toml, as the app runs) and moves
the "Value" slider of each synthetic panel, timed exactly as latency.py times a lesson page's control:
key press -> script run finished -> two painted frames. Each panel's median and p90 are given as a
ratio to the baseline panel's in the same run. The gap between these ratios and a lesson page's is what
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

from benchmarks.latency import measure, p90
from tests.browser import helpers as h

PANELS = ("baseline", "text", "image", "sliders", "formulas", "panel")  # floor_app.py's, in this order


def run(repeats: int) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix="nl-floor-"))
    port = h.free_port()
    app = h.start_streamlit("benchmarks/floor_app.py", port, workdir / "floor.log")
    results: dict[str, list[float]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=h.CHROMIUM, args=h.CHROMIUM_ARGS)
            # The baseline first and last: the two runs show how much the machine drifted meanwhile.
            for name in ("baseline", *PANELS[1:], "baseline"):
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                h.open_page(pg, f"http://127.0.0.1:{port}", f"?panel={name}")
                h.wait_settled(pg)
                slider = pg.locator("[data-testid='stSlider']").filter(has_text="Value").get_by_role("slider").first
                results.setdefault(name, []).extend(measure(pg, slider, repeats))
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
        "| panel | median ms | p90 ms | median / baseline | p90 / baseline p90 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in PANELS:
        times = results[name]
        out.append(f"| {name} | {statistics.median(times):.0f} | {p90(times):.0f} | "
                   f"{statistics.median(times) / base_med:.2f} | {p90(times) / base_p90:.2f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    print("\n".join(run(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
