"""Scaling out page: a Run / Stop panel for a job of worker processes, polled by a fragment; the Pipelining tab.

The job belongs to the learner's session (``st.session_state``), never to a global cache. Its
monitor thread owns the processes; this script thread only reads ``job.snapshot()``. A token
kept in the session is the job's owner: when the session ends and the token is collected,
the job kills its workers.
"""

from __future__ import annotations

import streamlit as st

from explainers import scaling as sc
from explainers.figures import scaling as fig
from explainers.scaling import snippets
from pages.widgets.slider_panel import RangeControl, ShownOutside, slider_panel
from pages.widgets.ui import ShareableState, pytorch_snippet, snippet_open, try_this


class SessionToken:
    """Kept in st.session_state; its garbage collection tells running jobs the session has ended."""


# Figures that depend only on slider values, built once per server (plotly's validation costs ~15 ms each).
# Read-only: st.plotly_chart serialises a copy and never changes the figure, so sessions may share one.
@st.cache_resource(max_entries=64, show_spinner=False)
def computed_gantt(stages: int, micro: int):
    """GPipe's computed timeline for S stages and M micro-batches (an SVG in a div)."""
    return fig.gantt_figure(sc.gpipe_schedule(stages, micro), f"Computed: GPipe, S = {stages}, M = {micro} "
                            "(backward = 2 × forward)", unit="time units",
                            note=f"computed · bubble {sc.bubble_fraction(stages, micro):.0%}")


@st.cache_resource(max_entries=64, show_spinner=False)
def bubble_curve(stages: int, measured: tuple[tuple[int, float], ...] = ()):
    """The bubble (S-1)/(M+S-1) against M up to 32, with the measured idle shares (a plotly Figure)."""
    return fig.bubble_figure(stages, 32, list(measured))


def result_figure(name: str, result: object, *key, build):
    """``build()``, kept per session while ``result`` (a finished run) is the one on screen.

    A finished run does not change when N, B or the steps move for the next run, so its figures are
    built once per (run, layer) instead of on every slider move of the data-parallel tab.
    """
    store = st.session_state.setdefault("scale_figures", {})
    hit = store.get((name, *key))
    if hit is not None and hit[0] is result:
        return hit[1]
    figure = build()
    store[(name, *key)] = (result, figure)
    return figure


def report_table(rows: list[dict]) -> None:
    """A run's summary (explainers.scaling.report): a few rows whose first column is a sentence. A static table
    wraps it; a data grid kept it on one line and hid the values behind a sideways scroll at 1024 px."""
    st.table(rows, border="horizontal")


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


PIPELINE_TAB = "scale_pp_tab"  # the Pipelining tab's fragment, by key: S, or M in an open snippet, rerun it
PIPELINE_SNIPPET = "PyTorch equivalent"  # the tab's snippet (its title)


@st.fragment(key=PIPELINE_TAB)
def pipelining(url: ShareableState, micro_options: list[int]) -> None:
    """The Pipelining tab's M and S, the computed timeline, the measured run and the bubble curve (one fragment)."""
    pipeline_run(url, micro_options)
    micro, stages = int(st.session_state.scale_micro), int(st.session_state.scale_stages)
    pp = results().get("pp")
    measured = tuple((r.micro_batches, r.bubble) for r in pp.sweep) if pp is not None and stages == 2 else ()
    st.plotly_chart(bubble_curve(stages, measured), key="scale_bubble")
    try_this("Move M from 1 to 16: the computed bubble falls from (S-1)/S towards zero. Then add stages.")
    pytorch_snippet(lambda: snippets.pipeline_script(micro, 256, 512), title=PIPELINE_SNIPPET)
    url.publish()  # a fragment rerun must update the link too
    PIPELINE_OUTSIDE.drawn()


def _pipeline_shown() -> tuple:
    """What the tab shows of M and S outside their fragment: S (the bubble curve), and M while the snippet is open."""
    state = st.session_state
    return int(state.scale_stages), int(state.scale_micro) if snippet_open(PIPELINE_SNIPPET) else None


# M reruns its panel and the Measure button alone; S, or M in an open snippet, the whole tab.
PIPELINE_OUTSIDE = ShownOutside(PIPELINE_TAB, _pipeline_shown)


# A fragment inside the tab's: M reruns the panel (the computed timeline) and the Measure button that names it,
# not the bubble curve (a plotly chart that depends on S and the measured run only), the tip and the snippet.
@st.fragment
def pipeline_run(url: ShareableState, micro_options: list[int]) -> None:
    """M and S with the computed timeline, the Measure button, and the measured run."""
    url.bind("scale_micro", 4, options=micro_options)
    url.bind("scale_stages", 2, lo=2, hi=8)
    micro, stages = int(st.session_state.scale_micro), int(st.session_state.scale_stages)
    # M, S and the computed timeline (an SVG) in one browser-drawn panel: a key press moves M at once.
    slider_panel("scale_pipeline", [RangeControl.choices("scale_micro", "Micro-batches M", micro_options),
                                    RangeControl("scale_stages", "Stages S (computed timeline)", 2, 8, 1)],
                 computed_gantt(stages, micro), layout="stack", rerun=PIPELINE_OUTSIDE,
                 announce=f"S = {stages}, M = {micro}: bubble {sc.bubble_fraction(stages, micro):.0%}")
    pp = job_panel("pp", sc.PipelinePlan(micro_batches=micro), f"Measure it: 2 stages on 2 processes, M = {micro}")
    if pp is not None:
        st.markdown(result_figure("gantt", pp, build=lambda: fig.gantt_figure(
            pp.run.slots, f"Measured: 2 stages, M = {pp.run.micro_batches}, batch {pp.plan.batch}", unit="ms",
            note=f"measured · idle {pp.run.bubble:.0%}")), unsafe_allow_html=True)
        st.caption(f"Each micro-batch's activation is {pp.activation_bytes / 1e3:.0f} kB. Gradients accumulated over the "
                   f"micro-batches equal the whole batch's to {pp.grad_max_diff:.1e}: pipelining changes the timing, "
                   "not the maths. Measured idle time includes waiting for messages, so it sits above the formula.")
    url.publish()  # a rerun of this part alone must update the link too
