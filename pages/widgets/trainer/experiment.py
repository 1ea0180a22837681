"""Trainer page: the guided regularisation experiment (five runs of the overfit preset, curves overlaid).

The runs start through the ordinary runner (the server's run cap and queue apply); a fragment polls them
and, when all are done, says in one sentence per regulariser what it did against "none".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from explainers.figures import training as ft
from explainers.training import TrainConfig
from explainers.training import experiment as ex
from explainers.training.runners import RunnerUnavailable, get_runner
from pages.widgets.trainer.state import TrainerState

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset


def start(state: TrainerState, config: TrainConfig, ds: ImageDataset) -> None:
    """Button callback: one run per arm of the experiment (queued behind other learners' runs if need be)."""
    state.start_error = None
    if state.experiment_active:
        return
    runner = get_runner()
    runs = []
    try:
        for cfg in ex.experiment_configs(config).values():
            runs.append(runner.start(cfg, ds, owner=state.token))
    except (ValueError, RunnerUnavailable) as exc:
        for r in runs:
            r.stop()
        state.start_error = str(exc)
        return
    state.experiment = runs


def panel(state: TrainerState) -> None:
    """Progress of the five runs, validation loss and accuracy overlaid, and one sentence per regulariser."""
    runs, names = state.experiment, list(ex.ARMS)
    snaps = [r.snapshot() for r in runs]
    st.markdown("**Guided experiment: what each regulariser does to the overfit preset**")
    done = sum(s.done for s in snaps)
    st.progress(done / len(snaps) if snaps else 0.0,
                text=f"{done} of {len(snaps)} runs finished" + ("" if done == len(snaps) else
                                                                 " (runs beyond the server's limit wait in the queue)"))
    series = [(n, s.epochs) for n, s in zip(names, snaps)]
    a, b = st.columns(2)
    a.plotly_chart(ft.compare_runs_figure(series, "val_loss"), key="trainer_exp_val_loss")
    b.plotly_chart(ft.compare_runs_figure(series, "val_acc"), key="trainer_exp_val_acc")
    if done == len(snaps):
        base = snaps[0].epochs
        st.markdown("\n".join(f"- {ex.verdict(n, s.epochs, base)}" for n, s in zip(names, snaps)))
    else:
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
            st.fragment(panel, run_every=1.0 if state.experiment_active else None)(state)
