"""Training engine: a config dataclass, a threaded TrainRun with a lock-protected history, an LR finder.

The worker thread never touches Streamlit. The page polls ``run.snapshot()`` (a copy taken
under the lock) about once a second. Datasets are uint8 tensors shared read-only; a batch is
picked by indexing with a shuffled permutation and normalised on the fly on the device (no
DataLoader, no per-sample Python transforms).

Additions beyond the shared contract:
- ``TrainConfig.problems() -> list[str]``: what is wrong with a config (empty when fine).
- ``TrainRun(config, dataset, *, owner=None, on_batch_end=None, on_epoch_end=None)``: when
  ``owner`` (any object kept in the session, e.g. in ``st.session_state``) is garbage-collected,
  the session has ended and the run stops between batches.
- ``RunSnapshot.queue_position`` (1 = next to start, 0 = not queued), ``total_epochs``,
  ``progress`` (0..1), ``strip_indices`` into ``dataset.test_x``, ``filters`` (F, C, kh, kw).
- ``set_max_concurrent_runs(n)``, ``max_concurrent_runs()``, ``active_runs()``, ``stop_all_runs()``;
  the cap defaults to $NEURAL_LENS_MAX_RUNS or 2.
- ``configure_threads(n=None)``: sets torch's thread count once per process.
- ``evaluate(model, dataset) -> TrainResult``, ``resolve_device(name) -> str``.
- ``TrainConfig.augmentations``: named operations of explainers.training.augment (flip, crop, rotate,
  jitter) used when ``augment`` is on; empty = small shifts and rotations (digits).
"""

from __future__ import annotations

import argparse
import copy
import io
import itertools
import json
import math
import os
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explainers.training.data.datasets import ImageDataset

OPTIMIZERS = {"sgd": "SGD", "sgd_momentum": "SGD + momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULERS = {"none": "Constant", "step": "StepLR", "onecycle": "OneCycle", "cosine": "Cosine"}
DEVICES = ("auto", "cpu", "cuda", "mps")
STATUSES = ("queued", "running", "finished", "stopped", "failed")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run."""

    dataset: str = "synthetic-digits"  # key of explainers.training.data.datasets.DATASETS
    model: str = "fast_cnn"  # key of models.MODELS
    optimizer: str = "adam"  # "sgd", "sgd_momentum" (0.9), "adam" or "adamw"
    lr: float = 1e-3  # peak learning rate (OneCycle's max)
    batch_size: int = 64  # images per step
    epochs: int = 2  # passes over the training split
    weight_decay: float = 0.0  # L2 (decoupled for AdamW)
    l1: float = 0.0  # strength of the L1 penalty on weights (conv and linear, not biases)
    dropout: float | None = None  # None = the model's own default; ignored when the model has none
    scheduler: str = "none"  # "none", "step" (x0.1 every third of the run), "onecycle" or "cosine"
    patience: int = 0  # early stopping: epochs without a better val loss; 0 = off; best weights restored
    augment: bool = False  # augment each batch on the fly (on tensors, on the device)
    augmentations: tuple[str, ...] = ()  # () = small shifts (+-2 px) and rotations (+-10 deg), fit for digits;
    # else names from explainers.training.augment.OPERATIONS ("flip", "crop", "rotate", "jitter"), e.g. for photos
    subset: int | None = None  # train on only this many images (None = the whole training split)
    seed: int = 0  # split, shuffles, init and augmentation
    device: str = "auto"  # "auto" picks cuda, then mps, then cpu
    val_fraction: float = 0.1  # held out of the training set for validation
    strip_size: int = 16  # test images whose predictions are shown live
    live_every_s: float = 1.0  # how often filters and strip predictions are refreshed
    histograms: bool = True  # weight and gradient histograms per layer per epoch

    def problems(self) -> list[str]:
        """Human-readable problems with this config; empty when it can run."""
        from explainers.training.data.datasets import DATASETS
        from models import MODELS

        out = []
        if self.dataset not in DATASETS:
            out.append(f"Unknown dataset {self.dataset!r}.")
        if self.model not in MODELS:
            out.append(f"Unknown model {self.model!r}.")
        if self.optimizer not in OPTIMIZERS:
            out.append(f"Unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        if self.scheduler not in SCHEDULERS:
            out.append(f"Unknown scheduler {self.scheduler!r}; choose one of {', '.join(SCHEDULERS)}.")
        if self.device not in DEVICES:
            out.append(f"Unknown device {self.device!r}; choose one of {', '.join(DEVICES)}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            out.append("The learning rate must be a positive number.")
        if self.batch_size < 1:
            out.append("The batch size must be at least 1.")
        if self.epochs < 1:
            out.append("Train for at least one epoch.")
        if self.weight_decay < 0 or self.l1 < 0:
            out.append("Weight decay and L1 strength cannot be negative.")
        if self.dropout is not None and not (0.0 <= self.dropout < 1.0):
            out.append("Dropout must be in [0, 1).")
        if not (0.0 <= self.val_fraction < 0.9):
            out.append("The validation fraction must be in [0, 0.9).")
        if self.patience > 0 and self.val_fraction <= 0:
            out.append("Early stopping needs a validation split (val_fraction > 0).")
        if self.augmentations:
            from explainers.training.augment import OPERATIONS

            unknown = [a for a in self.augmentations if a not in OPERATIONS]
            if unknown:
                out.append(f"Unknown augmentation {', '.join(unknown)}; choose from {', '.join(OPERATIONS)}.")
        if self.subset is not None and self.subset < 2:
            out.append("The training subset needs at least 2 images.")
        return out


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


@dataclass(frozen=True)
class TrainResult:
    """Test-set evaluation of a trained model."""

    test_accuracy: float
    test_loss: float
    confusion: np.ndarray  # (K, K) counts, rows = true class, columns = predicted
    per_class_accuracy: np.ndarray  # (K,), NaN where a class has no test image
    losses: np.ndarray  # (N,) cross-entropy per test image
    probabilities: np.ndarray  # (N, K)
    predictions: np.ndarray  # (N,)
    labels: np.ndarray  # (N,)
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    epochs_completed: int = 0
    best_epoch: int | None = None
    stopped_early: bool = False
    device: str = "cpu"


@dataclass(frozen=True)
class LRFinderResult:
    """Loss along an exponential learning-rate sweep."""

    lrs: np.ndarray  # (T,)
    losses: np.ndarray  # (T,) smoothed
    raw_losses: np.ndarray  # (T,)
    suggested_lr: float


# ----------------------------------------------------------------------------- process-wide settings

_THREADS_SET = False
_THREADS_LOCK = threading.Lock()
_SEED_LOCK = threading.Lock()  # torch's global RNG seeds model init; builds take turns


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count once per process ($NEURAL_LENS_TORCH_THREADS or all cores)."""
    global _THREADS_SET
    import torch

    with _THREADS_LOCK:
        if not _THREADS_SET:
            want = n or int(os.environ.get("NEURAL_LENS_TORCH_THREADS") or 0) or (os.cpu_count() or 1)
            torch.set_num_threads(max(1, want))
            _THREADS_SET = True
        return torch.get_num_threads()


def resolve_device(name: str = "auto") -> str:
    """"auto" -> "cuda", "mps" or "cpu"; an unavailable explicit device raises ValueError."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but no CUDA GPU is available here; choose 'auto' or 'cpu'.")
    if name == "mps" and not has_mps:
        raise ValueError("MPS was asked for but this machine has no Apple GPU; choose 'auto' or 'cpu'.")
    return name


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
                while True:
                    if cancelled():
                        return False
                    if self._waiting[0] == run_id and len(self._active) < self._limit:
                        self._waiting.pop(0)
                        self._active.add(run_id)
                        return True
                    self._cond.wait(0.2)
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


_GATE = _RunGate(int(os.environ.get("NEURAL_LENS_MAX_RUNS") or 2))
_RUN_IDS = itertools.count(1)
_LIVE_RUNS: weakref.WeakSet[TrainRun] = weakref.WeakSet()


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


# ----------------------------------------------------------------------------- helpers


class _Diverged(RuntimeError):
    pass


class _Cancelled(Exception):
    pass


def _build_model(config: TrainConfig, dataset: ImageDataset) -> nn.Module:
    import torch

    from models import MODELS, build_model

    spec = MODELS.get(config.model)
    dropout = config.dropout if (spec is not None and spec.has_dropout) else None
    with _SEED_LOCK:
        state = torch.random.get_rng_state()
        torch.manual_seed(config.seed)
        try:
            return build_model(config.model, dataset.channels, dataset.image_size, dataset.num_classes, dropout)
        finally:
            torch.random.set_rng_state(state)


def _make_optimizer(config: TrainConfig, params: Any, lr: float) -> torch.optim.Optimizer:
    import torch

    wd = config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if config.optimizer == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


def _make_scheduler(config: TrainConfig, opt: torch.optim.Optimizer, total_steps: int) -> Any:
    """A per-step scheduler (or None)."""
    import torch

    total_steps = max(1, total_steps)
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, total_steps // 3), gamma=0.1)
    if config.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total_steps + 1)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    return None


def _split(config: TrainConfig, dataset: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split of the training set -> (train indices, val indices) into dataset.train_x."""
    import torch

    n = len(dataset.train_y)
    gen = torch.Generator().manual_seed(config.seed)
    perm = torch.randperm(n, generator=gen)
    n_val = round(config.val_fraction * n) if config.val_fraction > 0 else 0
    n_val = min(n_val, n - 2)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if config.subset is not None:
        train_idx = train_idx[: config.subset]
    return train_idx, val_idx


def _strip_indices(dataset: ImageDataset, size: int) -> list[int]:
    """A fixed, class-balanced strip of test images: the first of each class in turn."""
    labels = dataset.test_y.tolist()
    per_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        per_class.setdefault(int(y), []).append(i)
    out: list[int] = []
    depth = 0
    while len(out) < min(size, len(labels)):
        added = False
        for k in sorted(per_class):
            if depth < len(per_class[k]) and len(out) < size:
                out.append(per_class[k][depth])
                added = True
        if not added:
            break
        depth += 1
    return out


def _first_layer(model: nn.Module, dataset: ImageDataset) -> tuple[str, Any] | None:
    """(name, module) of the first Conv2d, else the first Linear that sees all pixels."""
    from torch import nn

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    pixels = dataset.channels * dataset.image_size * dataset.image_size
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and m.in_features == pixels:
            return name, m
    return None


def _filters_of(layer: tuple[str, Any] | None, dataset: ImageDataset) -> np.ndarray | None:
    """First layer weights -> (F, C, kh, kw) numpy (a Linear's rows become C x S x S images)."""
    if layer is None:
        return None
    w = layer[1].weight.detach().float().cpu()
    if w.dim() == 2:
        w = w.view(w.shape[0], dataset.channels, dataset.image_size, dataset.image_size)
    return w.numpy().copy()


def _weight_layers(model: nn.Module) -> list[tuple[str, Any]]:
    """(name, weight parameter) of every conv and linear layer."""
    from torch import nn

    return [(n, m.weight) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _histograms(model: nn.Module, epoch: int, with_grads: bool, bins: int = 40) -> list[dict]:
    out = []
    for name, w in _weight_layers(model):
        kinds = [("weight", w.detach())]
        if with_grads and w.grad is not None:
            kinds.append(("grad", w.grad.detach()))
        for kind, t in kinds:
            values = t.float().flatten().cpu().numpy()
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            counts, edges = np.histogram(values, bins=bins)
            out.append({"epoch": epoch, "layer": name, "kind": kind, "counts": counts, "edges": edges})
    return out


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts (+-2 px) and rotations (+-10 deg) of a float batch (B, C, H, W) in one grid_sample."""
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape
    angle = (torch.rand(b, generator=gen) * 2 - 1) * (10 * math.pi / 180)
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2.0 * 2 / torch.tensor([w, h]))  # pixels -> [-1, 1] units
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    theta = theta.to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _augmenter(config: TrainConfig) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """The batch augmentation a config asks for: float (B, C, H, W) on the 0..255 scale -> same."""
    if not config.augment:
        return None
    if not config.augmentations:
        return _augment
    from explainers.training.augment import augment_named

    names = tuple(config.augmentations)
    return lambda x, gen: augment_named(x, names, gen)


def _norm_consts(dataset: ImageDataset, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) with x_norm = x_uint8 * scale + shift, shaped (1, C, 1, 1)."""
    import torch

    mean = torch.tensor(dataset.mean, dtype=torch.float32)
    std = torch.tensor(dataset.std, dtype=torch.float32)
    scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
    shift = (-mean / std).view(1, -1, 1, 1).to(device)
    return scale, shift


def evaluate(
    model: nn.Module, dataset: ImageDataset, *, device: str | None = None, batch_size: int = 1024, **extra: Any
) -> TrainResult:
    """Test-set evaluation -> TrainResult (confusion, per-class accuracy, per-example losses and probabilities)."""
    import torch
    import torch.nn.functional as F

    dev = device or next(model.parameters()).device.type
    scale, shift = _norm_consts(dataset, dev)
    k = dataset.num_classes
    losses, probs = [], []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(dataset.test_y), batch_size):
                xb = dataset.test_x[s : s + batch_size].to(dev).float() * scale + shift
                yb = dataset.test_y[s : s + batch_size].to(dev)
                logits = model(xb).float()
                losses.append(F.cross_entropy(logits, yb, reduction="none").cpu())
                probs.append(torch.softmax(logits, 1).cpu())
    finally:
        model.train(was_training)
    loss = torch.cat(losses).numpy() if losses else np.zeros(0, np.float32)
    prob = torch.cat(probs).numpy() if probs else np.zeros((0, k), np.float32)
    labels = dataset.test_y.numpy().astype(np.int64)
    pred = prob.argmax(1).astype(np.int64) if len(prob) else np.zeros(0, np.int64)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, pred), 1)
    support = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)
    return TrainResult(
        test_accuracy=float((pred == labels).mean()) if len(labels) else float("nan"),
        test_loss=float(loss.mean()) if len(loss) else float("nan"),
        confusion=confusion,
        per_class_accuracy=per_class,
        losses=loss,
        probabilities=prob,
        predictions=pred,
        labels=labels,
        device=dev,
        **extra,
    )


# ----------------------------------------------------------------------------- the run


class TrainRun:
    """One training run in a worker thread; read it with snapshot(), end it with stop()."""

    def __init__(
        self,
        config: TrainConfig,
        dataset: ImageDataset,
        *,
        owner: object | None = None,
        on_batch_end: Callable[[TrainRun, dict], None] | None = None,
        on_epoch_end: Callable[[TrainRun, dict], None] | None = None,
    ) -> None:
        problems = config.problems()
        if problems:
            raise ValueError(" ".join(problems))
        self.config = config
        self.dataset = dataset
        self.id = next(_RUN_IDS)
        self.on_batch_end = on_batch_end
        self.on_epoch_end = on_epoch_end
        self._owner = weakref.ref(owner) if owner is not None else None
        self.model = _build_model(config, dataset)
        self.result: TrainResult | None = None
        self.error: str | None = None  # traceback of an unexpected failure
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._train_idx, self._val_idx = _split(config, dataset)
        n = len(self._train_idx)
        bs = config.batch_size
        self._bpe = n // bs + (1 if n % bs >= 2 or n < bs else 0)  # a last batch of 1 is dropped (BatchNorm)
        self._strip = _strip_indices(dataset, config.strip_size)
        # history, guarded by self._lock
        self._status = "queued"
        self._message = "Waiting to start."
        self._epoch = 0
        self._batch = 0
        self._steps_done = 0
        self._ips = 0.0
        self._eta: float | None = None
        self._t0: float | None = None
        self._t_end: float | None = None
        self._device = "cpu"
        self._step_loss: list[float] = []
        self._step_lr: list[float] = []
        self._epochs: list[dict] = []
        self._strip_pred = [-1] * len(self._strip)
        self._strip_prob: np.ndarray | None = None
        self._first = _first_layer(self.model, dataset)
        self._filters = _filters_of(self._first, dataset)
        self._filters_version = 0
        self._hist: list[dict] = _histograms(self.model, 0, False) if config.histograms else []
        self._best_epoch: int | None = None
        self._stopped_early = False
        _LIVE_RUNS.add(self)

    # -- control

    def start(self) -> TrainRun:
        """Start the worker thread (it queues first if the server is at its cap)."""
        if self._thread is None:
            configure_threads()
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
                status=self._status,
                message=self._message,
                epoch=self._epoch,
                total_epochs=self.config.epochs,
                batch=self._batch,
                batches_per_epoch=self._bpe,
                progress=1.0 if self._status == "finished" else min(1.0, self._steps_done / max(1, total)),
                images_per_second=self._ips,
                eta_seconds=self._eta,
                elapsed_seconds=(now - self._t0) if self._t0 else 0.0,
                queue_position=_GATE.position(self.id) if self._status == "queued" else 0,
                device=self._device,
                step_loss=list(self._step_loss),
                step_lr=list(self._step_lr),
                epochs=[dict(e) for e in self._epochs],
                strip_indices=list(self._strip),
                strip_labels=[int(self.dataset.test_y[i]) for i in self._strip],
                strip_predictions=list(self._strip_pred),
                strip_probabilities=None if self._strip_prob is None else self._strip_prob.copy(),
                filters=None if self._filters is None else self._filters.copy(),
                filters_layer=self._first[0] if self._first else "",
                filters_version=self._filters_version,
                histograms=list(self._hist),
                best_epoch=self._best_epoch,
                stopped_early=self._stopped_early,
            )

    def _set(self, **kw: Any) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, "_" + k, v)

    # -- worker

    def _main(self) -> None:
        if not _GATE.acquire(self.id, self._cancelled):
            self._set(status="stopped", message=self._cancel_message() + " It had not started yet (it was waiting in the queue).")
            return
        try:
            self._set(status="running", message="Training.", t0=time.perf_counter())
            self._train()
        except _Diverged as exc:
            self._set(status="failed", message=str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
            self.error = traceback.format_exc()
            self._set(status="failed", message=f"Training failed: {type(exc).__name__}: {exc}")
        finally:
            self._set(t_end=time.perf_counter(), eta=0.0)
            _GATE.release(self.id)

    def _refresh_live(self, model: nn.Module, strip_x: torch.Tensor) -> None:
        """Strip predictions and first-layer filters (eval mode, no grad)."""
        import torch

        model.eval()
        with torch.no_grad():
            prob = torch.softmax(model(strip_x).float(), 1).cpu().numpy()
        model.train()
        filters = _filters_of(self._first, self.dataset)
        with self._lock:
            self._strip_prob = prob
            self._strip_pred = [int(p) for p in prob.argmax(1)]
            self._filters = filters
            self._filters_version += 1

    def _evaluate_split(self, model: nn.Module, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                        scale: torch.Tensor, shift: torch.Tensor) -> tuple[float, float]:
        """Mean loss and accuracy of model on x[idx] (eval mode)."""
        import torch
        import torch.nn.functional as F

        if len(idx) == 0:
            return float("nan"), float("nan")
        model.eval()
        loss_sum = torch.zeros((), device=x.device)
        correct = torch.zeros((), device=x.device, dtype=torch.int64)
        with torch.no_grad():
            for s in range(0, len(idx), 1024):
                b = idx[s : s + 1024]
                logits = model(x[b].float() * scale + shift).float()
                loss_sum += F.cross_entropy(logits, y[b], reduction="sum")
                correct += (logits.argmax(1) == y[b]).sum()
        model.train()
        return float(loss_sum) / len(idx), int(correct) / len(idx)

    def _train(self) -> None:
        import torch
        import torch.nn.functional as F

        cfg, ds = self.config, self.dataset
        device = resolve_device(cfg.device)
        self._set(device=device)
        model = self.model.to(device)
        model.train()
        on_cpu = device == "cpu"
        # channels-last convolutions are markedly faster on CPUs (oneDNN); same maths, another memory layout
        channels_last = on_cpu and any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        # the shared uint8 tensors stay where they are on the CPU; a GPU gets its own copy once
        x_all = ds.train_x if on_cpu else ds.train_x.to(device)
        y_all = ds.train_y if on_cpu else ds.train_y.to(device)
        train_idx, val_idx = self._train_idx.to(device), self._val_idx.to(device)
        strip_x = ds.test_x[self._strip].to(device)
        scale, shift = _norm_consts(ds, device)
        strip_x = strip_x.float() * scale + shift
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        opt = _make_optimizer(cfg, model.parameters(), cfg.lr)
        total_steps = self._bpe * cfg.epochs
        sched = _make_scheduler(cfg, opt, total_steps)
        l1_params = [w for _, w in _weight_layers(model)] if cfg.l1 > 0 else []
        augment = _augmenter(cfg)
        n = len(train_idx)
        bs = cfg.batch_size
        best_loss, best_state, bad_epochs = math.inf, None, 0
        pending: list[tuple[torch.Tensor, float]] = []  # losses not yet copied to the host
        first_loss: float | None = None
        window: deque[tuple[float, int]] = deque(maxlen=50)  # (time, images) for images/s
        images = 0
        t_start = time.perf_counter()
        last_live = last_flush = t_start
        self._refresh_live(model, strip_x)

        def flush(step: int) -> None:
            nonlocal first_loss, pending
            if not pending:
                return
            values = torch.stack([p for p, _ in pending]).float().cpu().tolist()
            lrs = [lr for _, lr in pending]
            pending = []
            if first_loss is None:
                first_loss = values[0] if math.isfinite(values[0]) else float(math.log(ds.num_classes))
            limit = max(25.0, 10.0 * first_loss)
            for i, v in enumerate(values):
                if not math.isfinite(v) or v > limit:
                    what = "became NaN" if math.isnan(v) else "became infinite" if not math.isfinite(v) else f"exploded to {v:.3g}"
                    keep = i + 1 if math.isfinite(v) else i  # the charts get finite values only
                    with self._lock:
                        self._step_loss.extend(values[:keep])
                        self._step_lr.extend(lrs[:keep])
                    raise _Diverged(
                        f"The loss {what} near step {step}, so training stopped: the learning rate "
                        f"({cfg.lr:g}) is probably too high. Try a value 10x smaller, or use the LR finder."
                    )
            with self._lock:
                self._step_loss.extend(values)
                self._step_lr.extend(lrs)

        stopped = False
        for epoch in range(1, cfg.epochs + 1):
            self._set(epoch=epoch, batch=0)
            t_epoch = time.perf_counter()
            perm = train_idx[torch.randperm(n, generator=gen).to(device)]
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            seen = 0
            for b in range(self._bpe):
                if self._cancelled():
                    stopped = True
                    break
                idx = perm[b * bs : (b + 1) * bs]
                xb = x_all[idx].float()  # (B, C, H, W) still on the 0..255 scale
                yb = y_all[idx]
                if augment is not None:  # shifts/rotations, or flip/crop/rotate/jitter (cats vs dogs)
                    xb = augment(xb, gen)
                xb = xb * scale + shift  # normalised on the fly
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                total = loss
                if l1_params:
                    total = loss + cfg.l1 * sum(w.abs().sum() for w in l1_params)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                lr_now = opt.param_groups[0]["lr"]
                if sched is not None:
                    sched.step()
                d = loss.detach()
                loss_sum += d * len(idx)
                correct += (logits.detach().argmax(1) == yb).sum()
                seen += len(idx)
                images += len(idx)
                pending.append((d, lr_now))
                now = time.perf_counter()
                step = (epoch - 1) * self._bpe + b + 1
                if on_cpu or len(pending) >= 25 or now - last_flush > 0.25:
                    flush(step)
                    last_flush = now
                    window.append((now, images))
                    t_old, i_old = window[0]
                    ips = (images - i_old) / (now - t_old) if now > t_old and images > i_old else self._ips
                    remaining = (total_steps - step) * bs
                    self._set(batch=b + 1, steps_done=step, ips=ips, eta=remaining / ips if ips > 0 else None)
                if now - last_live >= cfg.live_every_s:
                    self._refresh_live(model, strip_x)
                    last_live = now
                if self.on_batch_end is not None:
                    self.on_batch_end(self, {"epoch": epoch, "batch": b + 1, "step": step, "loss": d})
            flush((epoch - 1) * self._bpe + self._bpe)
            if stopped or seen == 0:
                break
            train_seconds = time.perf_counter() - t_epoch
            val_loss, val_acc = self._evaluate_split(model, val_idx, x_all, y_all, scale, shift)
            record = {
                "epoch": epoch,
                "train_loss": float(loss_sum) / seen,
                "train_acc": int(correct) / seen,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": opt.param_groups[0]["lr"],
                "seconds": train_seconds,
                "images_per_second": seen / train_seconds if train_seconds > 0 else 0.0,
            }
            hist = _histograms(model, epoch, True) if cfg.histograms else []
            with self._lock:
                self._epochs.append(record)
                self._hist.extend(hist)
                self._steps_done = epoch * self._bpe
            self._refresh_live(model, strip_x)
            last_live = time.perf_counter()
            if self.on_epoch_end is not None:
                self.on_epoch_end(self, record)
            if cfg.patience > 0 and math.isfinite(val_loss):
                if val_loss < best_loss - 1e-6:
                    best_loss, bad_epochs = val_loss, 0
                    best_state = copy.deepcopy(model.state_dict())
                    self._set(best_epoch=epoch)
                else:
                    bad_epochs += 1
                    if bad_epochs >= cfg.patience:
                        self._set(stopped_early=True)
                        break
        if best_state is not None:
            model.load_state_dict(best_state)  # early stopping restores the best weights
            self._refresh_live(model, strip_x)
        train_time = time.perf_counter() - t_start
        snap_epochs = len(self._epochs)
        if images == 0:
            self._set(status="stopped", message=self._cancel_message())
            return
        self._set(message="Evaluating on the test set.")
        self.result = evaluate(
            model, ds, device=device, train_seconds=train_time, images_per_second=images / max(train_time, 1e-9),
            epochs_completed=snap_epochs, best_epoch=self._best_epoch, stopped_early=self._stopped_early,
        )
        acc = f"test accuracy {self.result.test_accuracy:.1%}"
        if stopped:
            self._set(status="stopped", message=f"{self._cancel_message()} Partly trained model: {acc}.")
        elif self._stopped_early:
            self._set(status="finished", message=f"Early stopping after epoch {snap_epochs}; best epoch "
                      f"{self._best_epoch} restored: {acc}.")
        else:
            self._set(status="finished", message=f"Finished: {acc}.")


# ----------------------------------------------------------------------------- LR finder, maps, weights


def lr_find(
    config: TrainConfig,
    dataset: ImageDataset,
    num_steps: int = 200,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    *,
    model: nn.Module | None = None,
    stop: threading.Event | None = None,
) -> LRFinderResult:
    """Exponential LR sweep on a copy of the model -> loss per LR and a suggested LR (steepest descent)."""
    import torch
    import torch.nn.functional as F

    configure_threads()
    device = resolve_device(config.device)
    net = copy.deepcopy(model) if model is not None else _build_model(config, dataset)
    net = net.to(device).train()
    opt = _make_optimizer(config, net.parameters(), start_lr)
    train_idx, _ = _split(config, dataset)
    gen = torch.Generator().manual_seed(config.seed + 2)
    scale, shift = _norm_consts(dataset, device)
    bs = min(config.batch_size, len(train_idx))
    num_steps = max(2, num_steps)
    ratio = end_lr / start_lr
    lrs, raw, smooth = [], [], []
    avg, best, beta = 0.0, math.inf, 0.98
    perm = train_idx[torch.randperm(len(train_idx), generator=gen)]
    pos = 0
    for i in range(num_steps):
        if stop is not None and stop.is_set():
            break
        lr = start_lr * ratio ** (i / (num_steps - 1))
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + bs > len(perm):
            perm, pos = train_idx[torch.randperm(len(train_idx), generator=gen)], 0
        idx = perm[pos : pos + bs]
        pos += bs
        xb = dataset.train_x[idx].to(device).float() * scale + shift
        yb = dataset.train_y[idx].to(device)
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        v = float(loss.detach())
        if not math.isfinite(v):
            break
        avg = beta * avg + (1 - beta) * v
        s = avg / (1 - beta ** (i + 1))
        lrs.append(lr)
        raw.append(v)
        smooth.append(s)
        best = min(best, s)
        if s > 4 * best and i > 10:
            break
    lrs_a, sm = np.asarray(lrs), np.asarray(smooth)
    return LRFinderResult(lrs_a, sm, np.asarray(raw), _suggest_lr(lrs_a, sm, config.lr))


def _suggest_lr(lrs: np.ndarray, losses: np.ndarray, fallback: float) -> float:
    """LR of steepest descent of the smoothed loss vs log LR, before its minimum."""
    if len(lrs) < 5:
        return float(fallback)
    lo = max(1, len(lrs) // 10)
    hi = int(np.argmin(losses))
    if hi - lo < 3:
        return float(lrs[max(0, hi)] / 10)
    grads = np.gradient(losses[lo : hi + 1], np.log10(lrs[lo : hi + 1]))
    return float(lrs[lo + int(np.argmin(grads))])


def feature_maps(model: nn.Module, image_tensor: torch.Tensor, dataset: ImageDataset | None = None) -> list[tuple[str, np.ndarray]]:
    """One image (C, H, W) or (1, C, H, W) -> [(layer name, activations (C', H', W'))] for every 2-D layer.

    A float image is taken as already normalised; a uint8 image is normalised with ``dataset``.
    """
    import torch

    x = image_tensor
    if x.dim() == 3:
        x = x.unsqueeze(0)
    device = next(model.parameters()).device
    x = x.to(device)
    if x.dtype == torch.uint8:
        if dataset is None:
            x = x.float() / 255.0
        else:
            scale, shift = _norm_consts(dataset, device.type)
            x = x.float() * scale.to(device) + shift.to(device)
    out: list[tuple[str, np.ndarray]] = []
    hooks = []
    for name, m in model.named_modules():
        if name and not list(m.children()):
            def hook(module, inputs, output, name: str = name) -> None:
                if isinstance(output, torch.Tensor) and output.dim() == 4:
                    out.append((name, output[0].detach().float().cpu().numpy()))

            hooks.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x.float())
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return out


def save_weights(model: nn.Module) -> bytes:
    """model -> bytes of its state_dict (torch.save format)."""
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def load_weights(model: nn.Module, data: bytes) -> nn.Module:
    """Load bytes from save_weights into model (weights_only=True); ValueError when they do not fit."""
    import pickle
    import zipfile

    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, AttributeError, TypeError) as exc:
        raise ValueError(f"This is not a PyTorch weights file this app can read ({type(exc).__name__}).") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("The file holds no state_dict (a dict of tensors).")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        if wrong:
            parts.append(f"wrong shapes {'; '.join(wrong[:3])}{' ...' if len(wrong) > 3 else ''}")
        raise ValueError("These weights do not fit the chosen model (" + "; ".join(parts) + "). "
                         "Choose the model and dataset they were trained with.")
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in state.items()})
    return model


# ----------------------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m explainers.training", description="Train a model headless.")
    p.add_argument("--dataset", default=d.dataset)
    p.add_argument("--model", default=d.model)
    p.add_argument("--optimizer", default=d.optimizer, choices=list(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--l1", type=float, default=d.l1)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--scheduler", default=d.scheduler, choices=list(SCHEDULERS))
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--augment", action="store_true")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, choices=list(DEVICES))
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--data-dir", default=None, help="default: $NEURAL_LENS_DATA or ./data")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print one final JSON line on stdout")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI: train, report progress on stderr, print the final result (JSON with --json) on stdout."""
    from explainers.training.data.datasets import DatasetUnavailable, load_dataset

    a = _parse_args(argv)
    configure_threads(a.threads)
    config = TrainConfig(
        dataset=a.dataset, model=a.model, optimizer=a.optimizer, lr=a.lr, batch_size=a.batch_size,
        epochs=a.epochs, weight_decay=a.weight_decay, l1=a.l1, dropout=a.dropout, scheduler=a.scheduler,
        patience=a.patience, augment=a.augment, subset=a.subset, seed=a.seed, device=a.device,
        val_fraction=a.val_fraction,
    )
    problems = config.problems()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    t_load = time.perf_counter()
    try:
        ds = load_dataset(config.dataset, a.data_dir, download=not a.no_download,
                          progress=lambda f, m: print(f"data {f:4.0%} {m}", file=sys.stderr))
    except DatasetUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 3
    load_seconds = time.perf_counter() - t_load
    run = TrainRun(config, ds).start()
    while not run.join(1.0):
        s = run.snapshot()
        eta = f"{s.eta_seconds:.0f}s" if s.eta_seconds is not None else "?"
        last = s.step_loss[-1] if s.step_loss else float("nan")
        print(f"epoch {s.epoch}/{s.total_epochs} batch {s.batch}/{s.batches_per_epoch} loss {last:.4f} "
              f"{s.images_per_second:.0f} img/s ETA {eta}", file=sys.stderr)
    s = run.snapshot()
    for e in s.epochs:
        print(f"epoch {e['epoch']}: train loss {e['train_loss']:.4f} acc {e['train_acc']:.4f}, "
              f"val loss {e['val_loss']:.4f} acc {e['val_acc']:.4f}, {e['seconds']:.1f}s", file=sys.stderr)
    print(s.message, file=sys.stderr)
    r = run.result
    out = {
        "status": s.status,
        "message": s.message,
        "dataset": config.dataset,
        "synthetic": ds.synthetic,
        "model": config.model,
        "test_accuracy": r.test_accuracy if r else None,
        "test_loss": r.test_loss if r else None,
        "train_seconds": r.train_seconds if r else s.elapsed_seconds,
        "images_per_second": r.images_per_second if r else s.images_per_second,
        "epochs": len(s.epochs),
        "device": s.device,
        "threads": configure_threads(),
        "load_seconds": load_seconds,
        "history": s.epochs,
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
    }
    if a.json:
        print(json.dumps(out))
    else:
        acc = f"{r.test_accuracy:.2%}" if r else "n/a"
        print(f"test accuracy {acc} in {out['train_seconds']:.1f}s on {s.device}")
    return 0 if s.status == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
