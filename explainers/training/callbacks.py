"""The fit loop's callbacks: cancellation, epoch metrics, step losses with a divergence stop,
throughput, the live snapshot, histograms, early stopping and the LR finder's recorder.

Callbacks report through a ``Recorder`` (the threaded TrainRun is one; a remote runner would
be another), never to a UI. Orders: cancel -100, LR sweep -10, metrics 0, losses 10,
throughput 15, live 20, histograms 25, early stopping 30.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from explainers.training.loop import (
    Callback,
    CancelFit,
    Diverged,
    EarlyStop,
    FitState,
    Stopped,
)

if TYPE_CHECKING:
    import torch
    from torch import nn


class Recorder(Protocol):
    """Where a run's callbacks report (a TrainRun keeps it under a lock for snapshots)."""

    def update(self, **fields: Any) -> None: ...  # epoch, batch, steps_done, ips, eta, best_epoch, stopped_early

    def add_steps(self, losses: list[float], lrs: list[float]) -> None: ...

    def add_epoch(self, record: dict) -> None: ...

    def add_histograms(self, histograms: list[dict]) -> None: ...

    def refresh_live(self, model: nn.Module) -> None: ...


class Cancellation(Callback):
    """Raises Stopped before a batch once ``cancelled()`` is true (a Stop button, a session that ended)."""

    order = -100

    def __init__(self, cancelled: Callable[[], bool]) -> None:
        self.cancelled = cancelled

    def before_batch(self, state: FitState) -> None:
        if self.cancelled():
            raise Stopped()


class EpochMetrics(Callback):
    """Train loss and accuracy summed on the device (no sync per step), then validation -> state.record."""

    order = 0

    def __init__(self, validate: Callable[[nn.Module], tuple[float, float]]) -> None:
        self.validate = validate  # model -> (val loss, val accuracy)

    def before_epoch(self, state: FitState) -> None:
        import torch

        device = next(state.model.parameters()).device
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.int64)
        self.seen = 0
        self.t0 = time.perf_counter()

    def after_batch(self, state: FitState) -> None:
        n = len(state.yb)
        self.loss_sum += state.loss.detach() * n
        self.correct += (state.logits.detach().argmax(1) == state.yb).sum()
        self.seen += n

    def after_epoch(self, state: FitState) -> None:
        seconds = time.perf_counter() - self.t0
        val_loss, val_acc = self.validate(state.model)
        state.record.update(
            epoch=state.epoch, train_loss=float(self.loss_sum) / self.seen, train_acc=int(self.correct) / self.seen,
            val_loss=val_loss, val_acc=val_acc, lr=state.opt.param_groups[0]["lr"], seconds=seconds,
            images_per_second=self.seen / seconds if seconds > 0 else 0.0,
        )


class StepLosses(Callback):
    """Copies step losses to the host in groups (one sync each) and stops on NaN, inf or an explosion."""

    order = 10

    def __init__(self, recorder: Recorder, *, every_step: bool, config_lr: float, fallback_loss: float) -> None:
        self.recorder = recorder
        self.every_step = every_step  # on the CPU a copy costs nothing; on a GPU it waits for the queue
        self.config_lr = config_lr  # named in the divergence message
        self.fallback_loss = fallback_loss  # first-loss stand-in when the very first loss is not finite
        self.pending: list[tuple[torch.Tensor, float]] = []
        self.first_loss: float | None = None
        self.last_flush = time.perf_counter()

    def after_batch(self, state: FitState) -> None:
        self.pending.append((state.loss.detach(), state.lr))
        now = time.perf_counter()
        if self.every_step or len(self.pending) >= 25 or now - self.last_flush > 0.25:
            self.flush(state.step)
            self.last_flush = now

    def after_epoch(self, state: FitState) -> None:
        self.flush(state.step)

    def after_fit(self, state: FitState) -> None:
        if isinstance(state.cancelled, Diverged):
            return
        try:
            self.flush(state.step)
        except Diverged as exc:  # diverged in the last few steps of a run that was stopped anyway
            state.cancelled = exc

    def flush(self, step: int) -> None:
        """Hand the pending losses to the recorder; raise Diverged (after recording the finite ones) if needed."""
        import torch

        if not self.pending:
            return
        values = torch.stack([p for p, _ in self.pending]).float().cpu().tolist()
        lrs = [lr for _, lr in self.pending]
        self.pending = []
        if self.first_loss is None:
            self.first_loss = values[0] if math.isfinite(values[0]) else self.fallback_loss
        limit = max(25.0, 10.0 * self.first_loss)
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v) or v > limit), None)
        if bad is None:
            self.recorder.add_steps(values, lrs)
            return
        v = values[bad]
        keep = bad + 1 if math.isfinite(v) else bad  # the charts get finite values only
        self.recorder.add_steps(values[:keep], lrs[:keep])
        what = "became NaN" if math.isnan(v) else "became infinite" if not math.isfinite(v) else f"exploded to {v:.3g}"
        raise Diverged(f"The loss {what} near step {step}, so training stopped: the learning rate "
                       f"({self.config_lr:g}) is probably too high. Try a value 10x smaller, or use the LR finder.")


class Throughput(Callback):
    """Images per second over the last 50 steps and the time left -> recorder (ips, eta)."""

    order = 15

    def __init__(self, recorder: Recorder, total_steps: int, batch_size: int) -> None:
        self.recorder = recorder
        self.total_steps = total_steps
        self.batch_size = batch_size
        self.images = 0
        self.ips = 0.0

    def before_fit(self, state: FitState) -> None:
        self.t0 = time.perf_counter()
        self.window: deque[tuple[float, int]] = deque([(self.t0, 0)], maxlen=50)

    def after_batch(self, state: FitState) -> None:
        self.images += len(state.yb)
        now = time.perf_counter()
        self.window.append((now, self.images))
        t_old, i_old = self.window[0]
        if now > t_old and self.images > i_old:
            self.ips = (self.images - i_old) / (now - t_old)
        remaining = (self.total_steps - state.step) * self.batch_size
        self.recorder.update(ips=self.ips, eta=remaining / self.ips if self.ips > 0 else None)


class LiveSnapshot(Callback):
    """Progress, epoch records and (about every ``every_s`` seconds) strip predictions and filters."""

    order = 20

    def __init__(self, recorder: Recorder, every_s: float, steps_per_epoch: int) -> None:
        self.recorder = recorder
        self.every_s = every_s
        self.steps_per_epoch = steps_per_epoch

    def before_fit(self, state: FitState) -> None:
        self.recorder.refresh_live(state.model)
        self.last_live = time.perf_counter()

    def before_epoch(self, state: FitState) -> None:
        self.recorder.update(epoch=state.epoch, batch=0)

    def after_batch(self, state: FitState) -> None:
        self.recorder.update(batch=state.batch, steps_done=state.step)
        if time.perf_counter() - self.last_live >= self.every_s:
            self.recorder.refresh_live(state.model)
            self.last_live = time.perf_counter()

    def after_epoch(self, state: FitState) -> None:
        self.recorder.add_epoch(dict(state.record))
        self.recorder.update(steps_done=state.epoch * self.steps_per_epoch)
        self.recorder.refresh_live(state.model)
        self.last_live = time.perf_counter()


class Histograms(Callback):
    """Weight and gradient histograms of every conv and linear layer at the end of each epoch."""

    order = 25

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def after_epoch(self, state: FitState) -> None:
        from explainers.training.inspect import histograms

        self.recorder.add_histograms(histograms(state.model, state.epoch, with_grads=True))


class EarlyStopping(Callback):
    """Stops after ``patience`` epochs without a better validation loss; the best weights come back at the end."""

    order = 30

    def __init__(self, recorder: Recorder, patience: int) -> None:
        self.recorder = recorder
        self.patience = patience
        self.best_loss = math.inf
        self.best_state: dict | None = None
        self.bad_epochs = 0

    def after_epoch(self, state: FitState) -> None:
        val_loss = state.record.get("val_loss", math.nan)
        if not math.isfinite(val_loss):
            return
        if val_loss < self.best_loss - 1e-6:
            self.best_loss, self.bad_epochs = val_loss, 0
            self.best_state = copy.deepcopy(state.model.state_dict())
            self.recorder.update(best_epoch=state.epoch)
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.recorder.update(stopped_early=True)
            raise EarlyStop()

    def after_fit(self, state: FitState) -> None:
        if self.best_state is not None:
            state.model.load_state_dict(self.best_state)  # restores the best weights
            self.recorder.refresh_live(state.model)


class LRSweep(Callback):
    """The LR finder's recorder: an exponential LR per step, the smoothed loss, a stop once it blows up."""

    order = -10

    def __init__(self, start_lr: float, end_lr: float, num_steps: int, beta: float = 0.98) -> None:
        self.start_lr, self.ratio, self.num_steps, self.beta = start_lr, end_lr / start_lr, num_steps, beta
        self.lrs: list[float] = []
        self.raw: list[float] = []
        self.smooth: list[float] = []
        self.avg, self.best = 0.0, math.inf

    def before_batch(self, state: FitState) -> None:
        i = state.step
        if i >= self.num_steps:
            raise CancelFit()
        lr = self.start_lr * self.ratio ** (i / (self.num_steps - 1))
        for group in state.opt.param_groups:
            group["lr"] = lr

    def after_batch(self, state: FitState) -> None:
        v = float(state.loss.detach())
        if not math.isfinite(v):
            raise CancelFit()
        i = len(self.raw)
        self.avg = self.beta * self.avg + (1 - self.beta) * v
        s = self.avg / (1 - self.beta ** (i + 1))  # bias-corrected running mean
        self.lrs.append(state.lr)
        self.raw.append(v)
        self.smooth.append(s)
        self.best = min(self.best, s)
        if s > 4 * self.best and i > 10:
            raise CancelFit()
