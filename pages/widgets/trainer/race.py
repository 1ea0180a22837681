"""Trainer page, cats vs dogs: the race between the tutorial CNN from scratch and ResNet-18 transfer learning.

Two TrainRuns on the same pictures and settings, side by side in a fragment; when both finish they
join the session's finished runs, so the results tabs and "Compare runs" show them too.
"""

from __future__ import annotations

import streamlit as st

from explainers.figures import training as ft
from pages.widgets.trainer import run as rn

RESNETS = ("resnet18_transfer", "resnet18_frozen")


def race_active() -> bool:
    return any(rn.is_active(r) for r in st.session_state.get("trainer_cd_race") or [])


def start_race(kwargs: dict, ds) -> None:
    """Two runs on the same data and settings: the tutorial CNN from scratch, ResNet-18 from ImageNet."""
    from explainers.training import TrainConfig, TrainRun
    from models.catsdogs import fetch_resnet18_weights

    fetch_resnet18_weights()  # WeightsUnavailable is a ValueError: run_safely explains it
    transfer = kwargs["model"] if kwargs["model"] in RESNETS else "resnet18_frozen"
    token = st.session_state.setdefault("trainer_token", rn.SessionToken())
    runs = []
    for model in ("catsdogs_cnn", transfer):
        config = TrainConfig(**{**kwargs, "model": model, "dropout": 0.5 if model == "catsdogs_cnn" else 0.0})
        runs.append(TrainRun(config, ds, owner=token))
    st.session_state.trainer_cd_race = [r.start() for r in runs]
    st.session_state.trainer_cd_race_archived = False


def race_panel() -> None:
    runs = st.session_state.get("trainer_cd_race") or []
    snaps = [r.snapshot() for r in runs]
    if all(s.done for s in snaps) and not st.session_state.get("trainer_cd_race_archived"):
        st.session_state.trainer_cd_race_archived = True
        for r in runs:
            rn.archive(r)
        st.rerun()  # the whole page: both runs appear under "Inside the trained network"
    st.markdown("**Race: from scratch vs transfer learning**")
    cols = st.columns(len(runs))
    for col, run, snap in zip(cols, runs, snaps):
        name = "From scratch (tutorial CNN)" if run.config.model == "catsdogs_cnn" else "Transfer (ResNet-18)"
        last = snap.epochs[-1] if snap.epochs else {}
        acc = f" · validation accuracy {last['val_acc']:.0%}" if last.get("val_acc") is not None else ""
        col.progress(snap.progress, text=f"{name}: {snap.status}, epoch {max(snap.epoch, 1)}/{snap.total_epochs}{acc}")
        if snap.status == "failed":
            col.error(snap.message, icon=":material/error:")
    series = [("from scratch" if r.config.model == "catsdogs_cnn" else "transfer", s.epochs) for r, s in zip(runs, snaps)]
    a, b = st.columns(2)
    a.plotly_chart(ft.compare_runs_figure(series, "val_acc"), key="trainer_cd_race_acc")
    b.plotly_chart(ft.compare_runs_figure(series, "train_loss"), key="trainer_cd_race_loss")
    if race_active():
        st.button("Stop the race", key="trainer_cd_race_stop", icon=":material/stop:",
                  on_click=lambda: [r.stop() for r in runs])
