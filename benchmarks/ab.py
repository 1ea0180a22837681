"""Before and after, change by change: two checkouts of the app side by side, their controls moved in turn.

    python -m benchmarks.ab --old f55b910 [--new DIR] [--pages backprop,cnn] [--repeats 20]

Starts `streamlit run app.py` from the old revision (checked out into a temporary git worktree, removed at
the end) and from this checkout (or ``--new DIR``), opens the same page of each in its own Chromium tab, and
moves each of the page's controls (latency.CONTROLS) once in the old tab, then once in the new one, `--repeats`
times. On a shared VM whose speed drifts by 2x within minutes, two runs one after the other compare the host
with itself more than the code (last round: the same code measured 20% apart a minute later); changes made in
turn see the same host. For each control it reports both sides' median and p90 (ms, key press to settled, as
latency.py times them), the median of the paired ratios new/old, and per change the server's CPU and the
browser's main-thread task time (Chromium's Performance.getMetrics TaskDuration).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.latency import (
    CONTROLS,
    Control,
    _first_sliders,
    _setup,
    _slider,
    cpu_seconds,
    instrument,
    measure,
    p90,
)
from pages.widgets.catalog import LESSONS
from tests.browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    free_port,
    open_page,
    start_streamlit,
    stop,
)

SIDES = ("old", "new")


def _task_ms(cdp) -> float:
    """The tab's main-thread task time so far, in ms."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration") * 1000


def worktree(rev: str, into: Path) -> Path:
    """Check `rev` out into `into` (a detached git worktree of this repository)."""
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(into), rev], cwd=ROOT, check=True)
    return into


def compare(pages: list[str], roots: dict[str, Path], repeats: int, workdir: Path) -> list[str]:
    """Move every control of `pages` in turn in both apps -> the table's rows (markdown)."""
    apps, urls = {}, {}
    rows = []
    try:
        for side, root in roots.items():
            port = free_port()
            apps[side] = start_streamlit("app.py", port, workdir / f"{side}.log", cwd=root)
            urls[side] = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for info in (i for i in LESSONS if i.url_path in pages):
                tabs, cdps = {}, {}
                for side in SIDES:
                    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                    tabs[side] = ctx.new_page()
                    instrument(tabs[side])
                    open_page(tabs[side], urls[side], info.url_path)
                    _setup(tabs[side], info.url_path, workdir)
                    cdps[side] = ctx.new_cdp_session(tabs[side])
                    cdps[side].send("Performance.enable")
                controls = CONTROLS.get(info.url_path) or _first_sliders(tabs["new"])
                for control in controls:
                    rows.append(_one_control(info.title, control, tabs, cdps, apps, repeats))
                for tab in tabs.values():
                    tab.context.close()
            browser.close()
    finally:
        for app in apps.values():
            stop(app)
    return rows


def _one_control(title: str, control: Control, tabs: dict, cdps: dict, apps: dict, repeats: int) -> str:
    sliders = {side: _slider(tabs[side], control) for side in SIDES}
    for side in SIDES:
        measure(tabs[side], sliders[side], 1)  # warm: the first change of a control fills caches
    times = {side: [] for side in SIDES}
    cpu = dict.fromkeys(SIDES, 0.0)
    task = dict.fromkeys(SIDES, 0.0)
    for _ in range(repeats):
        for side in SIDES:
            cpu0, task0 = cpu_seconds(apps[side].pid), _task_ms(cdps[side])
            times[side] += measure(tabs[side], sliders[side], 1, warm_up=False)
            cpu[side] += (cpu_seconds(apps[side].pid) - cpu0) * 1000 / repeats
            task[side] += (_task_ms(cdps[side]) - task0) / repeats
    paired = statistics.median(new / old for old, new in zip(times["old"], times["new"]))
    old, new = times["old"], times["new"]
    return (f"| {title} | {control.label} | {statistics.median(old):.0f} / {p90(old):.0f} | "
            f"{statistics.median(new):.0f} / {p90(new):.0f} | {paired:.2f} | {cpu['old']:.0f} -> {cpu['new']:.0f} | "
            f"{task['old']:.0f} -> {task['new']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="the revision to compare with (a commit, tag or branch)")
    ap.add_argument("--new", default=str(ROOT), help="the checkout to measure against it (default: this one)")
    ap.add_argument("--pages", default="", help="comma-separated url paths (default: every lesson page)")
    ap.add_argument("--repeats", type=int, default=20, help="changes of each control on each side")
    args = ap.parse_args(argv)
    pages = args.pages.split(",") if args.pages else [i.url_path for i in LESSONS]
    unknown = set(pages) - {i.url_path for i in LESSONS}
    if unknown:
        ap.error(f"no lesson page {sorted(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="nl-ab-"))
    old = worktree(args.old, workdir / "old")
    load = os.getloadavg()[0]
    try:
        rows = compare(pages, {"old": old, "new": Path(args.new)}, args.repeats, workdir)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
          f"old = {args.old}, new = {args.new}; {args.repeats} changes per control on each side, in turn")
    print()
    print("| page | control | old median / p90 ms | new median / p90 ms | paired new / old (median) | "
          "server CPU ms/change, old -> new | browser main thread ms/change, old -> new |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
