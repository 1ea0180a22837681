"""The local runner: a TrainRun in a worker thread of this process (the default, nothing to set up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from explainers.training.runners import Placement

if TYPE_CHECKING:
    from torch import nn

    from explainers.training import RunSnapshot, TrainConfig, TrainRun
    from explainers.training.data import ImageDataset


class LocalHandle:
    """A TrainRun seen through the runner seam; the cap and the queue are the process-wide run gate's."""

    def __init__(self, run: TrainRun) -> None:
        self.run = run
        self.id, self.config, self.dataset = run.id, run.config, run.dataset

    def start(self) -> LocalHandle:
        self.run.start()
        return self

    def snapshot(self) -> RunSnapshot:
        return self.run.snapshot()

    def stop(self) -> None:
        self.run.stop()

    def join(self, timeout: float | None = None) -> bool:
        return self.run.join(timeout)

    @property
    def alive(self) -> bool:
        return self.run.alive

    @property
    def placement(self) -> Placement:
        snap = self.run.snapshot()
        return Placement("local", "this machine", snap.device if snap.status != "queued" else "")

    @property
    def result(self):
        return self.run.result

    @property
    def model(self) -> nn.Module:
        return self.run.model

    @property
    def error(self) -> str | None:
        return self.run.error


class LocalRunner:
    """Runs in this process: today's worker thread, cap ($NEURAL_LENS_MAX_RUNS) and FIFO queue."""

    name = "local"

    def start(self, config: TrainConfig, dataset: ImageDataset | None = None, *,
              owner: object | None = None, session: str | None = None) -> LocalHandle:
        """Start `config` on `dataset` (loaded from config.dataset when None); ValueError for a bad config,
        ServerBusy (a ValueError) when `session` already has a job queued or training, or the queue is full."""
        from explainers.training import TrainRun

        if dataset is None:
            from explainers.training.data import load_dataset

            dataset = load_dataset(config.dataset)
        return LocalHandle(TrainRun(config, dataset, owner=owner, session=session)).start()
