"""Trainer page: the guided regularisation experiment (five runs of the overfit preset, curves overlaid).

The arms are one job of this session, run one after another (each waits for a training slot behind the
server's cap like any run); a fragment polls them, starts the next arm, and, when all are done, says in
one sentence per regulariser what it did against "none".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from explainers.figures import training as ft
from explainers.training import TrainConfig, TrainRun
from explainers.training import experiment as ex
from pages.widgets import sessions
from pages.widgets.trainer.state import TrainerState

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset


def _arm(state: TrainerState, config: TrainConfig, ds: ImageDataset, job: int | None) -> TrainRun:
    """Start one arm as part of the experiment's job (the session's one job, so other runs are refused meanwhile)."""
    run = TrainRun(config, ds, owner=state.token, session=sessions.session_id(), job=job)
    return run.start()


def start(state: TrainerState, config: TrainConfig, ds: ImageDataset) -> None:
    """Button callback: the first arm; the panel starts each next arm when the one before has finished,
    so the experiment holds one of the server's training slots at a time."""
    state.start_error = None
    if state.experiment_active or state.active:
        state.start_error = "Stop the current run first (one run per learner, so everyone gets a turn)."
        return
    state.experiment_configs = list(ex.experiment_configs(config).values())
    state.experiment = []
    try:
        state.experiment.append(_arm(state, state.experiment_configs[0], ds, None))
    except ValueError as exc:  # ServerBusy: the queue is full
        state.start_error = str(exc)


def _advance(state: TrainerState, ds: ImageDataset) -> None:
    """Start the next arm when every arm so far finished (a stopped or failed arm ends the experiment)."""
    runs = state.experiment
    if not runs or len(runs) >= len(state.experiment_configs):
        return
    if all(r.snapshot().status == "finished" for r in runs):
        try:
            runs.append(_arm(state, state.experiment_configs[len(runs)], ds, runs[0].job))
        except ValueError as exc:
            state.start_error = str(exc)
            state.experiment_configs = state.experiment_configs[:len(runs)]


def panel(state: TrainerState, ds: ImageDataset) -> None:
    """Progress of the five runs, validation loss and accuracy overlaid, and one sentence per regulariser."""
    _advance(state, ds)
    runs, names, total = state.experiment, list(ex.ARMS), len(state.experiment_configs)
    snaps = [r.snapshot() for r in runs]
    st.markdown("**Guided experiment: what each regulariser does to the overfit preset**")
    done = sum(s.done for s in snaps)
    waiting = any(s.status == "queued" for s in snaps)
    st.progress(done / max(total, 1), text=f"{done} of {total} runs finished, one after another"
                + (" (waiting for a free training slot)" if waiting else ""))
    series = [(n, s.epochs) for n, s in zip(names, snaps)]
    a, b = st.columns(2)
    a.plotly_chart(ft.compare_runs_figure(series, "val_loss"), key="trainer_exp_val_loss")
    b.plotly_chart(ft.compare_runs_figure(series, "val_acc"), key="trainer_exp_val_acc")
    if done == total == len(names):
        base = snaps[0].epochs
        st.markdown("\n".join(f"- {ex.verdict(n, s.epochs, base)}" for n, s in zip(names, snaps)))
    elif done < total:
        st.button("Stop the experiment", key="trainer_exp_stop", icon=":material/stop:",
                  on_click=lambda: [r.stop() for r in runs])


def section(state: TrainerState, config: TrainConfig, ds: ImageDataset) -> None:
    """The experiment's invitation and button, and its panel once started."""
    with st.container(border=True):
        st.markdown("Train the overfit preset five times: with no regularisation, then with L2 weight decay, "
                    "dropout, augmentation and early stopping, one at a time, and see each against **none**.")
        st.button("Run the regularisation experiment", key="trainer_exp_go", icon=":material/science:",
                  disabled=state.experiment_active, on_click=start, args=(state, config, ds),
                  help="Five small runs (an MLP on 500 images, 15 epochs) on this dataset, through the same "
                       "queue as every run.")
        if state.experiment:
            st.fragment(panel, run_every=1.0 if state.experiment_active else None)(state, ds)
