"""A training run in a worker thread: a server-wide gate (cap and FIFO queue), a history kept under a
lock and read with ``snapshot()``, ``stop()`` checked before every batch.

The worker never touches a UI; the page polls ``run.snapshot()`` about once a second. When
``owner`` (any object kept in a session) is garbage-collected, the session has ended and the run
stops between batches; the page also stops its runs when the session disconnects for good. The cap
defaults to $NEURAL_LENS_MAX_RUNS or 2; at most $NEURAL_LENS_MAX_QUEUE (default 8) wait behind it,
and one ``session`` has one job (a run, or the race's two runs) queued or training at a time. Every
heavy job takes a slot the same way: runs, the race and the LR finder (``server_slot``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import math
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explainers.training import callbacks as cb
from explainers.training.batches import (
    Batches,
    batches_per_epoch,
    norm_consts,
    split_indices,
)
from explainers.training.build import (
    build_model,
    l1_penalty,
    make_optimizer,
    make_scheduler,
)
from explainers.training.config import TrainConfig
from explainers.training.evaluation import EvalResult, evaluate, evaluate_split
from explainers.training.inspect import (
    filters_of,
    first_layer,
    histograms,
    strip_indices,
)
from explainers.training.loop import Callback, Diverged, FitState, Stopped, fit
from explainers.training.runtime import (
    configure_threads,
    lower_thread_priority,
    resolve_device,
    seed_everything,
)

if TYPE_CHECKING:
    from torch import nn

    from explainers.training.data import ImageDataset


class _RunGate:
    """A FIFO server-wide cap on concurrent runs; waiters know their place."""

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._limit = max(1, limit)
        self._active: set[int] = set()
        self._waiting: list[int] = []

    def acquire(self, run_id: int, cancelled: Callable[[], bool]) -> bool:
        """Block until it is run_id's turn; False when cancelled() became true while waiting."""
        with self._cond:
            self._waiting.append(run_id)
            try:
                while not cancelled():
                    if self._waiting[0] == run_id and len(self._active) < self._limit:
                        self._waiting.pop(0)
                        self._active.add(run_id)
                        return True
                    self._cond.wait(0.2)
                return False
            finally:
                if run_id in self._waiting:
                    self._waiting.remove(run_id)
                self._cond.notify_all()

    def release(self, run_id: int) -> None:
        with self._cond:
            self._active.discard(run_id)
            self._cond.notify_all()

    def position(self, run_id: int) -> int:
        with self._cond:
            return self._waiting.index(run_id) + 1 if run_id in self._waiting else 0

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def set_limit(self, n: int) -> None:
        with self._cond:
            self._limit = max(1, int(n))
            self._cond.notify_all()

    @property
    def limit(self) -> int:
        return self._limit

    def counts(self) -> tuple[int, int]:
        with self._cond:
            return len(self._active), len(self._waiting)


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name) or default))
    except ValueError:
        return default


_GATE = _RunGate(_env_int("NEURAL_LENS_MAX_RUNS", 2))
MAX_QUEUE = _env_int("NEURAL_LENS_MAX_QUEUE", 8)  # jobs waiting behind the cap; more are refused
_RUN_IDS = itertools.count(1)
_LIVE_RUNS: weakref.WeakSet[TrainRun] = weakref.WeakSet()
_ADMIT = threading.Lock()


class ServerBusy(ValueError):
    """A job was refused: the queue is full, or this session already has a job; the message says which."""


def _check_queue_room() -> None:
    running, waiting = _GATE.counts()
    if running >= _GATE.limit and waiting >= MAX_QUEUE:
        raise ServerBusy(f"The server is busy: {waiting} runs are already waiting for {_GATE.limit} training "
                         "slots. Please try again in a few minutes.")


@contextlib.contextmanager
def server_slot(cancelled: Callable[[], bool] = lambda: False) -> Iterator[bool]:
    """Hold one of the server's training slots for a heavy job outside a TrainRun (the LR finder):
    waits its turn in the same FIFO queue -> True, or False when ``cancelled()`` while waiting.
    ServerBusy when the queue is full."""
    with _ADMIT:
        _check_queue_room()
    job = next(_RUN_IDS)
    got = _GATE.acquire(job, cancelled)
    try:
        yield got
    finally:
        if got:
            _GATE.release(job)
            release_memory()


def release_memory() -> None:
    """Collect cycles and hand freed heap pages back to the OS (glibc keeps them otherwise), so the
    server's memory returns after training instead of staying at its peak."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def set_max_concurrent_runs(n: int) -> None:
    """Change the server-wide cap on runs training at the same time (others queue)."""
    _GATE.set_limit(n)


def max_concurrent_runs() -> int:
    """The server-wide cap on concurrent runs."""
    return _GATE.limit


def active_runs() -> tuple[int, int]:
    """(running, queued) counts over the whole process."""
    return _GATE.counts()


def stop_all_runs(timeout: float = 10.0) -> None:
    """Stop every live run in this process and wait for them (tests, shutdown)."""
    runs = list(_LIVE_RUNS)
    for r in runs:
        r.stop()
    for r in runs:
        r.join(timeout)


@dataclass(frozen=True)
class RunSnapshot:
    """A copy of a run's state, safe to read while the worker goes on."""

    status: str  # "queued", "running", "finished", "stopped" or "failed"
    message: str
    epoch: int  # 1-based epoch in progress (0 before the first)
    total_epochs: int
    batch: int  # batches done in the current epoch
    batches_per_epoch: int
    progress: float  # 0..1 over the whole run
    images_per_second: float
    eta_seconds: float | None
    elapsed_seconds: float
    queue_position: int  # 1 = next to start; 0 = not waiting
    device: str
    step_loss: list[float]  # one per step
    step_lr: list[float]  # learning rate at each step
    epochs: list[dict]  # {epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds, images_per_second}
    strip_indices: list[int]  # into dataset.test_x
    strip_labels: list[int]
    strip_predictions: list[int]  # -1 before the first refresh
    strip_probabilities: np.ndarray | None  # (S, K)
    filters: np.ndarray | None  # first layer's weights (F, C, kh, kw), refreshed about once a second
    filters_layer: str
    filters_version: int  # increases with each refresh
    histograms: list[dict]  # {epoch, layer, kind ("weight"|"grad"), counts, edges}; epoch 0 = initial weights
    best_epoch: int | None
    stopped_early: bool

    @property
    def done(self) -> bool:
        """True when the run will not change any more."""
        return self.status in ("finished", "stopped", "failed")


class TrainRun:
    """One training run in a worker thread; read it with snapshot(), end it with stop().

    ``callbacks`` are extra fit-loop callbacks (see explainers.training.loop), called in the worker.
    """

    def __init__(self, config: TrainConfig, dataset: ImageDataset, *, owner: object | None = None,
                 session: str | None = None, job: int | None = None, callbacks: Iterable[Callback] = ()) -> None:
        problems = config.problems()
        if problems:
            raise ValueError(" ".join(problems))
        self.config, self.dataset, self.id = config, dataset, next(_RUN_IDS)
        # One job per session: ``job`` groups runs that belong together (the race's two runs).
        self.session, self.job = session, (job if job is not None else self.id)
        self.extra_callbacks = list(callbacks)
        self._owner = weakref.ref(owner) if owner is not None else None
        self.model = build_model(config, dataset)
        self.result: EvalResult | None = None
        self.error: str | None = None  # traceback of an unexpected failure
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._train_idx, self._val_idx = split_indices(config, dataset)
        self._bpe = batches_per_epoch(len(self._train_idx), config.batch_size)
        self._strip = strip_indices(dataset, config.strip_size)
        self._first = first_layer(self.model, dataset)
        self._init_history()
        _LIVE_RUNS.add(self)

    def _init_history(self) -> None:
        """The state snapshot() copies; guarded by self._lock once the worker runs."""
        self._status, self._message = "queued", "Waiting to start."
        self._epoch = self._batch = self._steps_done = 0
        self._ips, self._eta = 0.0, None
        self._t0: float | None = None
        self._t_end: float | None = None
        self._device = "cpu"
        self._step_loss: list[float] = []
        self._step_lr: list[float] = []
        self._epochs: list[dict] = []
        self._strip_pred = [-1] * len(self._strip)
        self._strip_prob: np.ndarray | None = None
        self._filters = filters_of(self._first, self.dataset)
        self._filters_version = 0
        self._hist: list[dict] = histograms(self.model, 0, False) if self.config.histograms else []
        self._best_epoch: int | None = None
        self._stopped_early = False

    # -- control

    def start(self) -> TrainRun:
        """Start the worker thread (it queues first if the server is at its cap).

        ServerBusy (a ValueError, one line) when this session already has another job queued or training,
        or when the queue is full."""
        if self._thread is None:
            configure_threads()
            with _ADMIT:
                if self.session is not None and any(
                        r is not self and r.session == self.session and r.job != self.job and r.alive
                        for r in list(_LIVE_RUNS)):
                    raise ServerBusy("This tab already has a run queued or training; stop it first "
                                     "(one run per learner, so everyone gets a turn).")
                _check_queue_room()
                self._thread = threading.Thread(target=self._main, name=f"train-run-{self.id}", daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop between batches (or leave the queue)."""
        self._stop.set()
        _GATE.wake()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the worker thread runs (queued or training)."""
        return self._thread is not None and self._thread.is_alive()

    def _cancelled(self) -> bool:
        return self._stop.is_set() or (self._owner is not None and self._owner() is None)

    def _cancel_message(self) -> str:
        if self._owner is not None and self._owner() is None:
            return "The session that started this run ended, so the run was stopped."
        return "Stopped by the user."

    # -- reading

    def snapshot(self) -> RunSnapshot:
        """A consistent copy of the run's state."""
        with self._lock:
            total = self._bpe * self.config.epochs
            now = self._t_end or time.perf_counter()
            return RunSnapshot(
                status=self._status, message=self._message, epoch=self._epoch, total_epochs=self.config.epochs,
                batch=self._batch, batches_per_epoch=self._bpe,
                progress=1.0 if self._status == "finished" else min(1.0, self._steps_done / max(1, total)),
                images_per_second=self._ips, eta_seconds=self._eta,
                elapsed_seconds=(now - self._t0) if self._t0 else 0.0,
                queue_position=_GATE.position(self.id) if self._status == "queued" else 0,
                device=self._device, step_loss=list(self._step_loss), step_lr=list(self._step_lr),
                epochs=[dict(e) for e in self._epochs], strip_indices=list(self._strip),
                strip_labels=[int(self.dataset.test_y[i]) for i in self._strip],
                strip_predictions=list(self._strip_pred),
                strip_probabilities=None if self._strip_prob is None else self._strip_prob.copy(),
                filters=None if self._filters is None else self._filters.copy(),
                filters_layer=self._first[0] if self._first else "", filters_version=self._filters_version,
                histograms=list(self._hist), best_epoch=self._best_epoch, stopped_early=self._stopped_early,
            )

    # -- the Recorder the callbacks report to (worker thread)

    def update(self, **fields: Any) -> None:
        """Set history fields (epoch, batch, steps_done, ips, eta, status, message, ...) under the lock."""
        with self._lock:
            for k, v in fields.items():
                setattr(self, "_" + k, v)

    def add_steps(self, losses: list[float], lrs: list[float]) -> None:
        with self._lock:
            self._step_loss.extend(losses)
            self._step_lr.extend(lrs)

    def add_epoch(self, record: dict) -> None:
        with self._lock:
            self._epochs.append(record)

    def add_histograms(self, hist: list[dict]) -> None:
        with self._lock:
            self._hist.extend(hist)

    def refresh_live(self, model: nn.Module) -> None:
        """Strip predictions and first-layer filters (eval mode, no grad)."""
        import torch

        was_training = model.training
        model.eval()
        with torch.no_grad():
            prob = torch.softmax(model(self._strip_x).float(), 1).cpu().numpy()
        model.train(was_training)
        filters = filters_of(self._first, self.dataset)
        with self._lock:
            self._strip_prob = prob
            self._strip_pred = [int(p) for p in prob.argmax(1)]
            self._filters = filters
            self._filters_version += 1

    # -- worker

    def _main(self) -> None:
        if not _GATE.acquire(self.id, self._cancelled):
            self.update(status="stopped",
                        message=self._cancel_message() + " It had not started yet (it was waiting in the queue).")
            return
        try:
            lower_thread_priority()  # page reruns and health checks go first; the run takes what is left
            self.update(status="running", message="Training.", t0=time.perf_counter())
            self._train()
        except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
            self.error = traceback.format_exc()
            self.update(status="failed", message=f"Training failed: {type(exc).__name__}: {exc}")
        finally:
            self.update(t_end=time.perf_counter(), eta=0.0)
            # What only training needed goes now (the model and its results stay for the page).
            self._batches = self._strip_x = None
            _GATE.release(self.id)
            release_memory()

    def _validate(self, model: nn.Module) -> tuple[float, float]:
        """(val loss, val accuracy) of model on the held-out part of the training set."""
        b = self._batches
        return evaluate_split(model, self._val_idx.to(b.device), b.x, b.y, b.scale, b.shift)

    def _prepare(self, device: str) -> FitState:
        """Model on the device, seeded batches, optimizer and scheduler -> the fit loop's state."""
        import torch
        import torch.nn.functional as F

        from explainers.training.augment import augmenter

        cfg = self.config
        seed_everything(cfg.seed)
        model = self.model.to(device)
        # channels-last convolutions are markedly faster on CPUs (oneDNN); same maths, another memory layout
        channels_last = device == "cpu" and any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self._batches = Batches(self.dataset, self._train_idx, cfg.batch_size, device,
                                generator=torch.Generator().manual_seed(cfg.seed + 1),
                                augment=augmenter(cfg.augment, cfg.augmentations), channels_last=channels_last)
        scale, shift = norm_consts(self.dataset, device)
        self._strip_x = self.dataset.test_x[self._strip].to(device).float() * scale + shift
        opt = make_optimizer(cfg, model.parameters(), cfg.lr)
        sched = make_scheduler(cfg, opt, self._bpe * cfg.epochs)
        return FitState(model=model, opt=opt, batches=self._batches, epochs=cfg.epochs, loss_fn=F.cross_entropy,
                        sched=sched, penalty=l1_penalty(model, cfg.l1))

    def _callbacks(self, device: str) -> tuple[list[Callback], cb.Throughput]:
        cfg = self.config
        throughput = cb.Throughput(self, self._bpe * cfg.epochs, cfg.batch_size)
        out: list[Callback] = [
            cb.Cancellation(self._cancelled),
            cb.EpochMetrics(self._validate),
            cb.StepLosses(self, every_step=device == "cpu", config_lr=cfg.lr,
                          fallback_loss=float(math.log(self.dataset.num_classes))),
            throughput,
            cb.LiveSnapshot(self, cfg.live_every_s, self._bpe),
        ]
        if cfg.histograms:
            out.append(cb.Histograms(self))
        if cfg.patience > 0:
            out.append(cb.EarlyStopping(self, cfg.patience))
        return out + self.extra_callbacks, throughput

    def _train(self) -> None:
        device = resolve_device(self.config.device)
        self.update(device=device)
        state = self._prepare(device)
        callbacks, throughput = self._callbacks(device)
        t_start = time.perf_counter()
        fit(state, callbacks)
        self._finish(state, throughput.images, time.perf_counter() - t_start, device)

    def _finish(self, state: FitState, images: int, train_time: float, device: str) -> None:
        """Status, message and the test-set evaluation after the fit loop returned."""
        if isinstance(state.cancelled, Diverged):
            self.update(status="failed", message=str(state.cancelled))
            return
        if images == 0:
            self.update(status="stopped", message=self._cancel_message())
            return
        self.update(message="Evaluating on the test set.")
        with self._lock:
            epochs, best, early = len(self._epochs), self._best_epoch, self._stopped_early
        self.result = evaluate(state.model, self.dataset, device=device, train_seconds=train_time,
                               images_per_second=images / max(train_time, 1e-9), epochs_completed=epochs,
                               best_epoch=best, stopped_early=early)
        acc = f"test accuracy {self.result.test_accuracy:.1%}"
        if isinstance(state.cancelled, Stopped):
            self.update(status="stopped", message=f"{self._cancel_message()} Partly trained model: {acc}.")
        elif early:
            self.update(status="finished", message=f"Early stopping after epoch {epochs}; best epoch {best} restored: {acc}.")
        else:
            self.update(status="finished", message=f"Finished: {acc}.")
