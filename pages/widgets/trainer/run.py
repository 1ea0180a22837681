"""Trainer page, part 2: starting and stopping a run, and the live view redrawn by a fragment.

The run (a TrainRun in this process, or a Ray actor: explainers.training.runners) lives in the session's
TrainerState (it belongs to one learner), never in a global cache.
Its worker thread never touches Streamlit: a fragment polls ``run.snapshot()`` once a second.
Finished runs are kept as RunRecords (TrainerState.archive) so they can be compared and inspected later.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import streamlit as st

from explainers.figures import training as ft
from explainers.training import TrainConfig, actions, diagnose, lr_find
from explainers.training.runners import RunHandle, RunnerUnavailable, get_runner
from pages.widgets import sessions
from pages.widgets.trainer import resume
from pages.widgets.trainer.state import TrainerState

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset
    from explainers.training.lr_find import LRFinderResult

LIVE_EVERY_S = 1.0  # the live panel's refresh while training
WATCH_NAME = "trainer-run"  # the session-end callback that stops this session's run
QUEUED_EVERY_S = 5.0  # ... and while waiting in the queue: ten queued tabs must not keep the server busy


def start(state: TrainerState, config: TrainConfig, dataset: ImageDataset) -> None:
    """Button callback: start a run of ``config`` in a worker thread (a refused config goes to state.start_error)."""
    state.start_error = None
    if state.active:
        return  # one run per session; Stop it first
    sid = sessions.session_id()
    try:  # this machine, or a Ray cluster when $NEURAL_LENS_RAY_ADDRESS is set
        run = get_runner().start(config, dataset, owner=state.token, session=sid)
    except (ValueError, RunnerUnavailable) as exc:  # also ServerBusy: queue full, or this tab has a job
        state.start_error = str(exc)
        return
    state.run = run
    stop_when_gone(WATCH_NAME, [run], sid)
    resume.park(state, run, sid)  # a reload of this tab finds the run again


def take_back(state: TrainerState) -> bool:
    """After a reload: adopt this learner's run from the resume code in the URL (pages.widgets.trainer.resume);
    from now on the run stops when this session ends, not the old one. True when a run came back."""
    old = resume.adopt(state)
    if old is None:
        return False
    sid = sessions.session_id()
    if old:
        sessions.forget(WATCH_NAME, old)
    stop_when_gone(WATCH_NAME, [state.run], sid)
    return True


def stop_when_gone(name: str, runs: list, sid: str | None) -> None:
    """Stop ``runs`` once this session has disconnected for good (weak references: a finished run is
    not kept alive by the watcher)."""
    refs = [weakref.ref(r) for r in runs]

    def stop_all() -> None:
        for ref in refs:
            r = ref()
            if r is not None:
                r.stop()

    sessions.on_session_end(name, stop_all, sid)


def find_lr(config: TrainConfig, dataset: ImageDataset) -> LRFinderResult:
    """The LR finder in the script thread, through the server's training slots; stopped if the session ends."""
    stop = threading.Event()
    sessions.on_session_end("trainer-lr-find", stop.set)
    try:
        return lr_find(config, dataset, num_steps=100, stop=stop)
    finally:
        sessions.forget("trainer-lr-find")


def poll_every(snaps: list) -> float | None:
    """The live fragment's run_every for these snapshots: None when all are done, slow while all queue."""
    if all(s.done for s in snaps):
        return None
    return QUEUED_EVERY_S if all(s.status == "queued" for s in snaps) else LIVE_EVERY_S


def stop(state: TrainerState) -> None:
    """Button callback: ask the latest run to stop between batches."""
    if state.run is not None:
        state.run.stop()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


def live_panel(state: TrainerState, run: RunHandle) -> None:
    """Progress, live curves, prediction strip and first-layer filters of one run (on its own dataset)."""
    snap = run.snapshot()
    dataset = run.dataset  # not the page's: the learner may have switched datasets since
    if snap.done and state.archived_run != run.id:
        state.archived_run = run.id
        state.archive(run)
        st.rerun()  # the whole page: results tabs appear, the fragment stops polling
    place = run.placement
    if state.polling_queued and snap.status != "queued":
        state.polling_queued = False
        st.rerun()  # the whole page: the fragment polls at the training pace from now on
    if snap.status == "queued":
        state.polling_queued = True
        busy = "The Ray cluster is" if place.runner == "ray" else "The server is"
        st.info(f"{busy} busy with other learners' runs. You are number **{snap.queue_position}** in "
                "the queue; training starts by itself.", icon=":material/hourglass_top:")
        st.caption(f"Training on {place.label()}.")
        return  # nothing else to draw yet: a queued tab costs the server one small rerun every few seconds
    st.caption(f"Training on {place.label()}.")
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
    # One plot of three panels, pictures as images: each second the browser redraws one chart, not five.
    st.plotly_chart(ft.live_curves_figure(snap.step_loss, snap.epochs, snap.step_lr, snap.batches_per_epoch),
                    key="trainer_live_loss")
    below = diagnose.train_below_validation(snap.epochs)
    if below is not None:
        st.caption(f":material/info: Training accuracy ({below['train_acc']:.0%}) is below validation accuracy "
                   f"({below['val_acc']:.0%}) in epoch {below['epoch']}. That is normal: training accuracy is the "
                   "average over the epoch's batches while the network was still improving, and measured with "
                   "dropout and augmentation on; validation uses the end-of-epoch network on clean pictures.")
    left, right = st.columns([3, 2])
    if snap.strip_indices:
        images = actions.images(dataset, snap.strip_indices)
        with left.container(key="trainer_live_strip"):
            if snap.strip_probabilities is not None:
                st.markdown("**Live predictions on test images** (green: right, red: wrong; the network's "
                            "confidence in its guess)")
                pics, captions = ft.prediction_strip_pictures(images, snap.strip_labels, snap.strip_predictions,
                                                              snap.strip_probabilities.max(axis=1), dataset.classes)
            else:
                st.markdown("**Test images** (waiting for the first prediction)")
                pics, captions = list(ft.to_display(images)), None
            st.image(pics, caption=captions, width=62 if pics and pics[0].shape[0] <= 64 else 96)
    if snap.filters is not None:
        picture, caption = ft.filter_grid_picture(snap.filters, max_filters=16)
        with right.container(key="trainer_live_filters"):
            st.markdown(f"**First layer ({snap.filters_layer}) filters, live**")
            st.image(picture, caption=caption, width="stretch")  # about 300 px: fits the column on a projector too
