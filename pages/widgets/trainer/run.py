"""Trainer page, part 2: starting and stopping a run, and the live view redrawn by a fragment.

The TrainRun lives in ``st.session_state`` (it belongs to one learner), never in a global cache.
Its worker thread never touches Streamlit: a fragment polls ``run.snapshot()`` once a second.
Finished runs are kept as ``RunRecord``s so they can be compared and inspected later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from explainers.figures import training as ft

MAX_RECORDS = 8  # finished runs kept per session (each holds its model)


class SessionToken:
    """Kept in st.session_state; when the session ends it is garbage-collected and the run stops."""


@dataclass(frozen=True)
class RunRecord:
    """A finished run (or loaded weights) with everything the results views need."""

    id: int
    label: str
    config: Any  # TrainConfig
    model: Any  # nn.Module
    result: Any  # TrainResult | None
    snapshot: Any  # RunSnapshot | None (None for loaded weights: no curves)
    dataset: str


def records() -> list[RunRecord]:
    """Finished runs of this session, oldest first."""
    return st.session_state.setdefault("trainer_records", [])


def current_run():
    """The session's latest TrainRun (running or not), or None."""
    return st.session_state.get("trainer_run")


def is_active(run) -> bool:
    return run is not None and not run.snapshot().done


def describe(config) -> str:
    """Short label of a config for legends and tables."""
    from models import MODELS

    reg = []
    if config.weight_decay:
        reg.append(f"wd {config.weight_decay:g}")
    if config.l1:
        reg.append(f"L1 {config.l1:g}")
    if config.dropout:
        reg.append(f"drop {config.dropout:g}")
    if config.augment:
        reg.append("aug")
    if config.patience:
        reg.append(f"early stop {config.patience}")
    subset = f", {config.subset} imgs" if config.subset else ""
    return f"{MODELS[config.model].label.split(' (')[0]}, {config.optimizer} lr {config.lr:g}{subset}" + (
        f", {', '.join(reg)}" if reg else "")


def archive(run) -> None:
    """Keep a finished run (once) so that it can be compared and inspected."""
    recs = records()
    if run.result is None or any(r.id == run.id for r in recs):
        return
    n = len(st.session_state.setdefault("trainer_labels", [])) + 1
    st.session_state.trainer_labels.append(run.id)
    recs.append(RunRecord(run.id, f"Run {n}: {describe(run.config)}", run.config, run.model, run.result,
                          run.snapshot(), run.config.dataset))
    del recs[:-MAX_RECORDS]


def start(kwargs: dict, dataset) -> None:
    """Button callback: build the config and start a run in a worker thread (problems go to trainer_error)."""
    from explainers.training import TrainConfig, TrainRun

    st.session_state.trainer_error = None
    if is_active(current_run()):
        return  # one run per session; Stop it first
    try:
        run = TrainRun(TrainConfig(**kwargs), dataset, owner=st.session_state.setdefault("trainer_token", SessionToken()))
    except ValueError as exc:
        st.session_state.trainer_error = str(exc)
        return
    st.session_state.trainer_run = run.start()


def stop() -> None:
    run = current_run()
    if run is not None:
        run.stop()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


def live_panel(run) -> None:
    """Progress, live curves, prediction strip and first-layer filters of one run (on its own dataset)."""
    snap = run.snapshot()
    dataset = run.dataset  # not the page's: the learner may have switched datasets since
    if snap.done and st.session_state.get("trainer_archived") != run.id:
        st.session_state.trainer_archived = run.id
        archive(run)
        st.rerun()  # the whole page: results tabs appear, the fragment stops polling
    if snap.status == "queued":
        st.info(f"The server is busy with other learners' runs. You are number **{snap.queue_position}** in "
                "the queue; training starts by itself.", icon=":material/hourglass_top:")
    text = (f"Epoch {max(snap.epoch, 1)}/{snap.total_epochs} · batch {snap.batch}/{snap.batches_per_epoch} · "
            f"{snap.images_per_second:,.0f} images/s · "
            + (f"ETA {_duration(snap.eta_seconds)}" if not snap.done else f"took {_duration(snap.elapsed_seconds)}")
            + f" · {snap.device}")
    st.progress(snap.progress, text=text)
    if snap.status == "failed":
        st.error(snap.message, icon=":material/error:")
    elif snap.status == "stopped":
        st.warning(snap.message, icon=":material/stop_circle:")
    elif snap.status == "finished":
        st.success(snap.message, icon=":material/check_circle:")
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(ft.loss_figure(snap.step_loss, batches_per_epoch=snap.batches_per_epoch), key="trainer_live_loss")
    c2.plotly_chart(ft.epoch_figure(snap.epochs, "acc"), key="trainer_live_acc")
    c3.plotly_chart(ft.lr_figure(snap.step_lr), key="trainer_live_lr")
    left, right = st.columns([3, 2])
    if snap.strip_indices:
        images = dataset.test_x[snap.strip_indices].numpy()
        if snap.strip_probabilities is not None:
            conf = snap.strip_probabilities.max(axis=1)
            fig = ft.prediction_strip_figure(images, snap.strip_labels, snap.strip_predictions, conf,
                                             dataset.classes, cols=8)
        else:
            fig = ft.gallery_figure(images, cols=8, title="Test images (waiting for the first prediction)")
        left.plotly_chart(fig, key="trainer_live_strip")
    if snap.filters is not None:
        right.plotly_chart(ft.filter_grid_figure(snap.filters, max_filters=16, title=f"First layer "
                                                 f"({snap.filters_layer}) filters, live"), key="trainer_live_filters")
