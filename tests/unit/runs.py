"""Shared by the training-run tests: wait for a condition, and leave no run behind."""

from __future__ import annotations

import time

import pytest

from explainers import training as tr


def wait_for(pred, timeout=20.0):
    t0 = time.perf_counter()
    while not pred():
        if time.perf_counter() - t0 > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _clean_runs():
    yield
    tr.stop_all_runs()
    tr.set_max_concurrent_runs(2)
