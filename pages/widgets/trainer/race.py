"""Trainer page, cats vs dogs: the race between the tutorial CNN from scratch and ResNet-18 transfer learning.

Two TrainRuns on the same pictures and settings, side by side in a fragment; when both finish they
join the session's finished runs, so the results tabs and "Compare runs" show them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from explainers.figures import training as ft
from explainers.training import TrainConfig, actions
from pages.widgets import sessions
from pages.widgets.trainer.run import stop_when_gone
from pages.widgets.trainer.state import TrainerState

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset


def start_race(state: TrainerState, config: TrainConfig, ds: ImageDataset) -> None:
    """Two runs on the same data and settings: the tutorial CNN from scratch, ResNet-18 from ImageNet.

    WeightsUnavailable (a ValueError) when the ImageNet weights cannot be had: run_safely explains it.
    """
    sid = sessions.session_id()
    state.race = actions.start_race(config, ds, owner=state.token, session=sid)
    state.race_archived = False
    stop_when_gone("trainer-race", state.race, sid)


def _name(config: TrainConfig, long: bool) -> str:
    if config.model == actions.SCRATCH:
        return "From scratch (tutorial CNN)" if long else "from scratch"
    return "Transfer (ResNet-18)" if long else "transfer"


def race_panel(state: TrainerState) -> None:
    """Both runs' progress and their validation accuracy and training loss, epoch by epoch."""
    runs = state.race
    snaps = [r.snapshot() for r in runs]
    if all(s.done for s in snaps) and not state.race_archived:
        state.race_archived = True
        for r in runs:
            state.archive(r)
        st.rerun()  # the whole page: both runs appear under "Inside the trained network"
    queued = all(s.status == "queued" for s in snaps)
    if state.race_polling_queued and not queued:
        state.race_polling_queued = False
        st.rerun()  # the whole page: the fragment polls at the training pace from now on
    state.race_polling_queued = queued
    st.markdown("**Race: from scratch vs transfer learning**")
    cols = st.columns(len(runs))
    for col, run, snap in zip(cols, runs, snaps):
        last = snap.epochs[-1] if snap.epochs else {}
        acc = f" · validation accuracy {last['val_acc']:.0%}" if last.get("val_acc") is not None else ""
        col.progress(snap.progress, text=f"{_name(run.config, True)}: {snap.status}, "
                                         f"epoch {max(snap.epoch, 1)}/{snap.total_epochs}{acc}")
        if snap.status == "failed":
            col.error(snap.message, icon=":material/error:")
    series = [(_name(r.config, False), s.epochs) for r, s in zip(runs, snaps)]
    a, b = st.columns(2)
    a.plotly_chart(ft.compare_runs_figure(series, "val_acc"), key="trainer_cd_race_acc")
    b.plotly_chart(ft.compare_runs_figure(series, "train_loss"), key="trainer_cd_race_loss")
    if state.race_active:
        st.button("Stop the race", key="trainer_cd_race_stop", icon=":material/stop:",
                  on_click=lambda: [r.stop() for r in runs])
