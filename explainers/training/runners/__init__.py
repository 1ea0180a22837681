"""Where a training run executes: in this process (``local``) or on a Ray cluster (``ray``).

The page starts a run from a TrainConfig and reads snapshots; it does not know where the run
executes. Both runners hand back a RunHandle that reads like a TrainRun::

    runner = get_runner()                   # $NEURAL_LENS_RAY_ADDRESS set -> Ray, else local
    run = runner.start(config, dataset, owner=session_token)
    run.snapshot()  # RunSnapshot, polled about once a second
    run.stop()      # a flag checked before every batch
    run.placement   # Placement: "this machine" or a cluster node, CPU or GPU
    run.result, run.model   # EvalResult and the trained nn.Module once done (None before)

- local: today's worker thread (TrainRun) with the process-wide cap ($NEURAL_LENS_MAX_RUNS) and FIFO queue.
- ray: each run is a Ray actor running the same TrainRun (the same fit loop). The dataset reaches the
  worker as its key (config.dataset) and is loaded from the worker's data folder. Ray is optional:
  ``pip install -r requirements-ray.txt``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from torch import nn

    from explainers.training import RunSnapshot, TrainConfig
    from explainers.training.data import ImageDataset


RAY_ADDRESS_ENV = "NEURAL_LENS_RAY_ADDRESS"


class RunnerUnavailable(RuntimeError):
    """The configured runner cannot start runs; the message says why and what to do (one line)."""


@dataclass(frozen=True)
class Placement:
    """Where a run executes, for the page to show."""

    runner: str  # "local" or "ray"
    node: str  # "this machine" or "cluster node <host> (<ip>)"; "" while queued on a cluster
    device: str  # "cpu", "cuda", "mps"; "" until known

    def label(self) -> str:
        """E.g. "this machine, CPU" or "cluster node gpu-1 (10.0.0.7), GPU"."""
        device = {"cpu": "CPU", "cuda": "GPU", "mps": "Apple GPU"}.get(self.device, self.device)
        where = self.node or ("the Ray cluster (waiting for a free slot)" if self.runner == "ray" else "this machine")
        return f"{where}, {device}" if device else where


class RunHandle(Protocol):
    """What the page uses of a run, wherever it executes (TrainRun's own reading and control)."""

    id: int
    config: TrainConfig
    dataset: ImageDataset  # the page's copy, for pictures of the test images

    def start(self) -> RunHandle: ...

    def snapshot(self) -> RunSnapshot: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> bool: ...

    @property
    def alive(self) -> bool: ...

    @property
    def placement(self) -> Placement: ...

    @property
    def result(self): ...  # EvalResult | None

    @property
    def model(self) -> nn.Module | None: ...


class Runner(Protocol):
    name: str

    def start(self, config: TrainConfig, dataset: ImageDataset | None = None, *,
              owner: object | None = None, session: str | None = None) -> RunHandle: ...


_LOCK = threading.Lock()
_RUNNERS: dict[str, Runner] = {}


def get_runner(address: str | None = None) -> Runner:
    """The process's runner: Ray at `address` (default $NEURAL_LENS_RAY_ADDRESS), else local.

    RunnerUnavailable when an address is set but Ray is not installed (a one-line message).
    """
    address = (address if address is not None else os.environ.get(RAY_ADDRESS_ENV, "")).strip()
    with _LOCK:
        if address not in _RUNNERS:
            if address:
                from explainers.training.runners.ray import RayRunner

                _RUNNERS[address] = RayRunner(address)
            else:
                from explainers.training.runners.local import LocalRunner

                _RUNNERS[address] = LocalRunner()
        return _RUNNERS[address]


__all__ = ["RAY_ADDRESS_ENV", "Placement", "RunHandle", "Runner", "RunnerUnavailable", "get_runner"]
