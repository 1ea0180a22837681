"""The body of the Ray runner's actor: one TrainRun on a cluster node (imported there, never by the page).

The actor receives only the TrainConfig; the dataset is loaded by its key (config.dataset) from the
node's own data folder ($NEURAL_LENS_DATA there), never pickled from the page. Training runs in the
TrainRun's worker thread, so snapshot() and stop() answer while it trains.
"""

from __future__ import annotations

import os
import socket
from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from explainers.training import RunSnapshot, TrainConfig


def placeholder_snapshot(config: TrainConfig, status: str, message: str, *, device: str = "",
                         last: RunSnapshot | None = None) -> RunSnapshot:
    """A RunSnapshot for a run that has no live state (queued on the cluster, or lost with its worker).

    With `last`, keeps what was already seen (curves, epochs) and only changes status and message.
    """
    from dataclasses import replace

    from explainers.training import RunSnapshot

    if last is not None:
        return replace(last, status=status, message=message, queue_position=0, eta_seconds=0.0)
    empty: dict[str, Any] = {
        "status": status, "message": message, "epoch": 0, "total_epochs": config.epochs, "batch": 0,
        "batches_per_epoch": 0, "progress": 0.0, "images_per_second": 0.0, "eta_seconds": None,
        "elapsed_seconds": 0.0, "queue_position": 0, "device": device, "step_loss": [], "step_lr": [],
        "epochs": [], "strip_indices": [], "strip_labels": [], "strip_predictions": [],
        "strip_probabilities": None, "filters": None, "filters_layer": "", "filters_version": 0,
        "histograms": [], "best_epoch": None, "stopped_early": False,
    }
    # Fields the engine may add later get None rather than breaking the cluster runner.
    return RunSnapshot(**{f.name: empty.get(f.name) for f in fields(RunSnapshot)})


class RunWorker:
    """One run inside a Ray actor: wraps ray.remote at run time (Ray stays an optional dependency)."""

    def __init__(self, config: TrainConfig, threads: int = 1) -> None:
        from explainers.training import TrainRun, configure_threads

        self.config = config
        self.run: TrainRun | None = None
        self.problem: str | None = None
        try:
            configure_threads(max(1, threads))  # the CPUs Ray gave this actor, not the whole node
            from explainers.training.data import load_dataset

            dataset = load_dataset(config.dataset)
            self.run = TrainRun(config, dataset).start()
        except Exception as exc:  # noqa: BLE001 - reported through snapshot(), the actor stays up to say so
            self.problem = f"{type(exc).__name__}: {exc}"

    def where(self) -> dict:
        """Which node and process this actor runs on, and the GPUs Ray gave it."""
        import ray

        return {"host": socket.gethostname(), "ip": ray.util.get_node_ip_address(), "pid": os.getpid(),
                "gpus": [str(g) for g in ray.get_gpu_ids()]}

    def snapshot(self) -> RunSnapshot:
        if self.run is None:
            return placeholder_snapshot(self.config, "failed",
                                        f"The cluster node could not start this run: {self.problem}")
        return self.run.snapshot()

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()

    def final(self) -> tuple[Any, bytes | None, str | None]:
        """(EvalResult or None, the trained weights as save_weights bytes or None, traceback or None)."""
        from explainers.training import save_weights

        if self.run is None:
            return None, None, self.problem
        self.run.join()
        weights = save_weights(self.run.model) if self.run.result is not None else None
        return self.run.result, weights, self.run.error
