"""One training loop: forward, loss, backward, step; everything else is a callback with an ``order``.

In the spirit of fastai's miniai Learner. Callbacks see the whole ``FitState`` at
``before_fit``, ``before_epoch``, ``before_batch``, ``after_batch``, ``after_epoch`` and
``after_fit`` (always called), in increasing ``order``. A callback ends the fit by raising a
``CancelFit`` (``Stopped``, ``EarlyStop``, ``Diverged``, ...); ``fit`` keeps it in
``state.cancelled`` and returns. The training run, the LR finder and a remote runner all use it;
it knows nothing about threads or Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

EVENTS = ("before_fit", "before_epoch", "before_batch", "after_batch", "after_epoch", "after_fit")


class CancelFit(Exception):
    """Raised by a callback to end the fit early; the subclass says why."""


class Stopped(CancelFit):
    """The user (or the end of their session) stopped the run."""


class EarlyStop(CancelFit):
    """The validation loss stopped improving."""


class Diverged(CancelFit):
    """The loss became NaN, infinite or exploded."""


class Callback:
    """Base class: override any of the EVENTS; lower ``order`` runs first."""

    order = 0


@dataclass
class FitState:
    """What the loop and its callbacks share."""

    model: nn.Module
    opt: torch.optim.Optimizer
    batches: Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]]  # epoch -> (x, y) batches
    epochs: int
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    sched: Any = None  # a per-step torch scheduler, or None
    penalty: Callable[[nn.Module], torch.Tensor] | None = None  # added to the loss before backward (L1)
    epoch: int = 0  # 1-based epoch in progress
    batch: int = 0  # batches done in this epoch
    step: int = 0  # optimizer steps done in the whole fit
    lr: float = 0.0  # learning rate of the last step
    xb: Any = None  # the current batch (B, C, H, W), labels (B,), logits (B, K) and loss ()
    yb: Any = None
    logits: Any = None
    loss: Any = None
    record: dict = field(default_factory=dict)  # the epoch's metrics, filled by callbacks at after_epoch
    cancelled: CancelFit | None = None  # why the fit ended early


def _call(callbacks: Sequence[Callback], event: str, state: FitState) -> None:
    for cb in callbacks:
        method = getattr(cb, event, None)
        if method is not None:
            method(state)


def _one_batch(state: FitState, callbacks: Sequence[Callback]) -> None:
    """Forward, loss, backward, step."""
    _call(callbacks, "before_batch", state)
    state.logits = state.model(state.xb)  # (B, K)
    state.loss = state.loss_fn(state.logits, state.yb)
    total = state.loss if state.penalty is None else state.loss + state.penalty(state.model)
    state.opt.zero_grad(set_to_none=True)
    total.backward()
    state.lr = state.opt.param_groups[0]["lr"]
    state.opt.step()
    if state.sched is not None:
        state.sched.step()
    state.step += 1
    state.batch += 1
    _call(callbacks, "after_batch", state)


def fit(state: FitState, callbacks: Iterable[Callback] = ()) -> FitState:
    """Train state.model for state.epochs epochs; a CancelFit from a callback ends it early (state.cancelled)."""
    cbs = sorted(callbacks, key=lambda cb: cb.order)
    state.model.train()
    try:
        _call(cbs, "before_fit", state)
        for epoch in range(1, state.epochs + 1):
            state.epoch, state.batch, state.record = epoch, 0, {}
            _call(cbs, "before_epoch", state)
            for xb, yb in state.batches(epoch):
                state.xb, state.yb = xb, yb
                _one_batch(state, cbs)
            _call(cbs, "after_epoch", state)
    except CancelFit as exc:
        state.cancelled = exc
    finally:
        _call(cbs, "after_fit", state)
    return state
