"""Scaling out page: a Run / Stop panel for a job of worker processes, polled by a fragment.

The job belongs to the learner's session (``st.session_state``), never to a global cache. Its
monitor thread owns the processes; this script thread only reads ``job.snapshot()``. A token
kept in the session is the job's owner: when the session ends and the token is collected,
the job kills its workers.
"""

from __future__ import annotations

import streamlit as st

from explainers import scaling as sc
from explainers.figures import scaling as fig


class SessionToken:
    """Kept in st.session_state; its garbage collection tells running jobs the session has ended."""


# Figures that depend only on slider values, built once per server (plotly's validation costs ~15 ms each).
# Read-only: st.plotly_chart serialises a copy and never changes the figure, so sessions may share one.
@st.cache_resource(max_entries=64, show_spinner=False)
def computed_gantt(stages: int, micro: int):
    """GPipe's computed timeline for S stages and M micro-batches (a plotly Figure)."""
    return fig.gantt_figure(sc.gpipe_schedule(stages, micro), f"Computed: GPipe, S = {stages}, M = {micro} "
                            "(backward = 2 × forward)", unit="time units",
                            note=f"computed · bubble {sc.bubble_fraction(stages, micro):.0%}")


@st.cache_resource(max_entries=64, show_spinner=False)
def bubble_curve(stages: int, measured: tuple[tuple[int, float], ...] = ()):
    """The bubble (S-1)/(M+S-1) against M up to 32, with the measured idle shares (a plotly Figure)."""
    return fig.bubble_figure(stages, 32, list(measured))


def _jobs() -> dict:
    return st.session_state.setdefault("scale_jobs", {})


def results() -> dict:
    """The latest finished result of each part in this session: key -> Result (even if its tab is closed)."""
    out = st.session_state.setdefault("scale_results", {})
    for key, job in _jobs().items():
        snap = job.snapshot()
        if snap.status == "finished" and snap.result is not None:
            out[key] = snap.result
    return out


def job_panel(key: str, plan: sc.Plan, label: str, *, port: int | None = None) -> sc.Result | None:
    """A Run button for ``plan``, live progress and Stop while it runs; returns the part's latest result."""
    token = st.session_state.setdefault("scale_owner", SessionToken())
    job = _jobs().get(key)
    running = job is not None and not job.snapshot().done
    problems = plan.problems()
    if st.button(label, key=f"{key}_run", type="primary", disabled=running or bool(problems),
                 icon=":material/play_arrow:"):
        try:
            job = _jobs()[key] = sc.start(plan, owner=token, port=port)
            running = True
        except (ValueError, sc.ScalingError) as exc:
            st.error(str(exc), icon=":material/error:")
    for p in problems:
        st.warning(p, icon=":material/tune:")
    if job is not None:
        _status(key, job, running)
    return results().get(key)


def _status(key: str, job: sc.Job, was_running: bool) -> None:
    @st.fragment(run_every=1.0 if was_running else None)
    def poll() -> None:
        snap = job.snapshot()
        if not snap.done:
            st.progress(snap.progress, text=f"{snap.message} ({snap.elapsed_s:.0f} s, {snap.world_size} "
                                            f"process{'es' * (snap.world_size > 1)}, {snap.backend})")
            if st.button("Stop", key=f"{key}_stop", icon=":material/stop:"):
                job.stop()
            return
        if was_running:
            st.rerun(scope="app")  # it ended while this fragment polled: draw the result outside it
        if snap.status == "finished":
            st.caption(f"Ran in {snap.elapsed_s:.1f} s on {snap.world_size} process{'es' * (snap.world_size > 1)} "
                       f"({snap.backend}, rendezvous port {snap.port}); all worker processes have exited.")
        elif snap.status == "stopped":
            st.info(snap.message, icon=":material/stop_circle:")
        else:
            st.error(snap.message, icon=":material/error:")

    poll()
