"""Smoke test of benchmarks/latency.py: it drives the named controls and reports every target."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from benchmarks import latency
from tests.browser.helpers import ROOT


def test_latency_benchmark_reports_every_target(browser):
    """One change per control on one page: the table has its three controls, first paint and memory."""
    # In a subprocess: the `browser` fixture (which checks Chromium is there) holds this process's Playwright.
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency", "--repeats", "1", "--pages", "perceptron",
         "--sessions", "1", "--settle-s", "0", "--no-fail"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    for control in latency.CONTROLS["perceptron"]:
        assert f"| Perceptron | {control.label} |" in out
    assert "first paint ms" in out and "| Perceptron |" in out
    assert "App server memory:" in out and "server CPU ms/change" in out


def test_ab_moves_both_checkouts_in_turn_and_removes_its_worktree(browser):
    """benchmarks/ab.py against this very revision: a row per control with both sides measured."""
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("not a git checkout: benchmarks/ab.py checks the old revision out with git worktree")
    before = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    proc = subprocess.run([sys.executable, "-m", "benchmarks.ab", "--old", "HEAD", "--pages", "perceptron",
                           "--repeats", "2"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[2].strip(): line.split("|")[3:8] for line in proc.stdout.splitlines()
            if line.startswith("| Perceptron |")}
    assert set(rows) == {c.label for c in latency.CONTROLS["perceptron"]}, proc.stdout
    for old, new, paired, cpu, task in rows.values():
        assert all(float(ms) > 0 for ms in old.split("/") + new.split("/"))  # both sides' key presses timed
        assert float(paired) > 0 and "->" in cpu and "->" in task
    after = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before  # the old revision's worktree is gone


def test_every_lesson_names_three_controls():
    """Each lesson page in the catalog has its three most used controls named (new pages too)."""
    from pages.widgets.catalog import LESSONS

    missing = [p.url_path for p in LESSONS if len(latency.CONTROLS.get(p.url_path, ())) != 3]
    assert not missing, f"name three controls in benchmarks/latency.py CONTROLS for: {missing}"


def test_fragment_floor_times_every_synthetic_panel(browser):
    """benchmarks/fragment_floor.py: every panel of floor_app.py is moved and given a ratio to the baseline."""
    from benchmarks import fragment_floor

    proc = subprocess.run([sys.executable, "-m", "benchmarks.fragment_floor", "--repeats", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert set(fragment_floor.PANELS) <= set(rows), proc.stdout
    assert rows["baseline"].split("|")[4].strip() == "1.00"
    for name in fragment_floor.PANELS:  # a number, not a blank: the panel's slider really moved
        assert float(rows[name].split("|")[2]) > 0
        assert float(rows[name].split("|")[6]) >= 0  # the server's CPU per change
    local = re.search(r"computed in the browser: median (\d+) ms", proc.stdout)
    assert local and int(local.group(1)) > 0, proc.stdout  # the component redrew itself on the key press
