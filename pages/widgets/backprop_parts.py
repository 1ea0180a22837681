"""The Backprop page's panels: each one is cached by its settings and reruns in its own fragment.

Usage on the page (after ``url = ShareableState("bp")`` and the network's settings)::

    params = weight_sliders(url, hidden, params)          # the learner's own weights (sliders mode)
    step_through(url, net, hidden)                         # section 1, a fragment: the step controls
    check = gradient_panel(setup)                          # section 2: engine, PyTorch, finite differences
    learn(url, setup, check, net_loss)                     # sections 3 to 5, a fragment: η and training

A slider change costs the server only the script itself: training runs, figures and pictures are
cached by their parameters (the runs in explainers.backprop, the finished figures here, shared and
read-only), so moving back to a setting seen before is almost free, and a new one trains once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitAPIException

from explainers import autograd as ag
from explainers import backprop as bp
from explainers import snippets
from explainers.backprop_equation import step_html
from explainers.figures import backprop as fb
from explainers.figures import style
from explainers.training.oracle import mlp_gradients
from pages.widgets.lesson_tabs import lesson_tabs
from pages.widgets.slider_panel import RangeControl, slider_panel
from pages.widgets.ui import ShareableState, pytorch_snippet, run_safely

LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
LR_PANEL, TRAIN_PANEL = "bp_lr_panel", "bp_train_panel"
LEARNING_RATE = RangeControl.choices("bp_lr", "Learning rate η", LRS,
                                     help="How far each step moves the weights along minus the gradient.")
STEPS = RangeControl("bp_steps", "Training steps", 10, 3000, 10, help="How many gradient steps the run takes.")
LESSONS = ("Learning rate", "Vanishing gradients", "Mini-batches")
URL_WEIGHT_LIMIT = 10_000.0  # a step can take a weight past the sliders' usual ±5; a link keeps it


@dataclass(frozen=True)
class Setup:
    """What the top of the page chose: the network's weights, its activation and loss, the data, one example."""

    params: bp.MLPParams
    activation: str
    loss: str
    dataset: str
    x: np.ndarray  # (2,) the training example stepped through
    y: float

    @property
    def hidden(self) -> int:
        return self.params.hidden

    @property
    def key(self) -> tuple:
        """The plain, hashable arguments every training run starts from."""
        return tuple(float(v) for v in self.params.vector()), self.hidden, self.dataset, self.activation, self.loss


def wkey(name: str) -> str:
    """The widget (and URL) key of a weight's slider: W1[1,2] -> bp_w_W1_1_2_."""
    return "bp_w_" + name.translate(str.maketrans("[,]", "___"))


def weight_sliders(url: ShareableState, params: bp.MLPParams) -> bp.MLPParams:
    """One slider per weight and bias (four columns), seeded from `params`; -> the parameters they show."""
    names = bp.param_names(params.hidden)
    with st.expander("Weights and biases", expanded=True, icon=":material/tune:"):
        cols = st.columns(4)
        for k, (name, v0) in enumerate(zip(names, params.vector())):
            url.bind(wkey(name), float(v0), lo=-URL_WEIGHT_LIMIT, hi=URL_WEIGHT_LIMIT)
            # The usual range is ±5; a step that goes further widens this slider rather than clipping the weight.
            edge = max(bp.WEIGHT_LIMIT, float(np.ceil(abs(st.session_state[wkey(name)]))))
            cols[k % 4].slider(name, -edge, edge, step=0.001, format="%.3f", key=wkey(name))
        values = np.array([st.session_state[wkey(n)] for n in names])
        wide = [n for n, v in zip(names, values) if abs(v) > bp.WEIGHT_LIMIT]
        if wide:
            st.caption(f"{', '.join(wide)} left the usual range ±{bp.WEIGHT_LIMIT:g}: "
                       f"{'its slider was' if len(wide) == 1 else 'their sliders were'} widened to show the value.")
    return bp.params_from_vector(values, params.hidden)


# --- 1. the step-through ---------------------------------------------------------------------------


STEP_PANEL = "bp_step_panel"  # browser-drawn (pages/widgets/slider_panel.py): the step's range, beside the buttons
GRAPH_PANEL = "bp_graph_panel"  # the graph, patched in place by the same component (no controls of its own)


@st.fragment
def step_through(url: ShareableState, graph: ag.Graph, steps: tuple[ag.BackwardStep, ...], loss_now: float,
                 hidden: int) -> None:
    """The step controls, the current equation and the graph; only this part reruns while stepping.

    The step's range and the graph are drawn by the browser component of the slider panels: the range moves at
    once under a key press or a drag, and the graph's SVG is patched in place. A Streamlit slider here
    re-measured the whole page on every step, and the SVG went through the markdown parser each time.
    """
    st.session_state.bp_step = min(st.session_state.bp_step, len(steps))
    url.publish()  # here, not at the end: a fragment rerun must update the link too

    def move(delta: int) -> None:
        st.session_state.bp_step = int(np.clip(st.session_state.bp_step + delta, 0, len(steps)))

    cols = st.columns([6, 4, 3], vertical_alignment="bottom")
    bar = cols[0].container(horizontal=True)
    for label, icon, delta in [("Start", "first_page", -999), ("Back", "chevron_left", -1),
                               ("Next", "chevron_right", 1), ("All", "last_page", 999)]:
        bar.button(label, icon=f":material/{icon}:", on_click=move, args=(delta,),
                   type="primary" if label == "Next" else "secondary")
    k = st.session_state.bp_step
    step = steps[k - 1] if k else None
    with cols[1]:
        slider_panel(STEP_PANEL, [RangeControl("bp_step", "Backward step", 0, len(steps), 1,
                                               help="How many nodes the backward pass has processed.")],
                     "", layout="stack", announce=_step_words(graph, step, k, len(steps)))
    view = cols[2].radio("Graph detail", ("ops", "neurons"), horizontal=True, key="bp_view",
                         format_func={"ops": "Every operation", "neurons": "One node per neuron"}.get)
    grads, reached = (step.grads, step.reached) if step else ag.seed_state(graph)
    current, updated = (step.node, [t.child for t in step.terms]) if step else (graph.root, [])
    # The equation of this step sits right under the buttons and above the graph, so it stays in view; the
    # graph's panel draws both (HTML patched in place), not Streamlit markdown typeset by KaTeX on every step.
    if step is None:
        head = (f"<p><b>Step 0 of {len(steps)}.</b> The forward pass gave the loss L = {loss_now:.4f}. Backprop "
                "starts at the loss with ∂L/∂L = 1. Press <b>Next</b>.</p>")
    else:
        head = (f"<p><b>Step {k} of {len(steps)}.</b> Local derivative × upstream gradient, added into each input "
                "(numbers rounded to 4 significant digits):</p>" + "".join(step_html(graph, step)))
    too_big = view == "ops" and hidden > 2
    draw = fb.compact_svg if view == "neurons" or too_big else fb.graph_svg
    caption = ("With 3+ hidden units every-operation is too big to read: one node per neuron instead. "
               if too_big else "")
    caption += ("Each node shows its value (forward pass) and its gradient ∂L/∂node (backward pass). Orange: "
                "being processed; pale orange: receives gradient now; green/blue: gradient known; 'grad ?': not "
                "reached yet.")
    slider_panel(GRAPH_PANEL, [], head + draw(graph, grads, reached, current=current, updated=updated)
                 + f'<p class="nl-caption">{caption}</p>', layout="stack")
    if k == len(steps):
        st.success("Every weight has its gradient. One sweep backwards gave all of them.", icon=":material/check:")


def _step_words(graph: ag.Graph, step: ag.BackwardStep | None, k: int, n: int) -> str:
    """What a screen reader says after a step: where the gradient went (the graph itself is a picture)."""
    if step is None:
        return f"Step 0 of {n}: the loss, with gradient 1"

    def name(i: int) -> str:
        node = graph.nodes[i]
        return node.label or f"the {node.op} node"

    gets = "; ".join(f"{name(t.child)} now has gradient {t.grad_after:.4g}" for t in step.terms)
    return f"Step {k} of {n}, {name(step.node)}: {gets}"


# --- 2. three ways to the same gradient --------------------------------------------------------------


# Short headers, the full name on hover: with all seven columns at full name the table is wider than the page at
# 1024 px (a projector) and "agree" hides behind the grid's sideways scroll.
GRADIENT_COLUMNS = {
    "our engine": st.column_config.NumberColumn("engine", help="Our engine's backward pass (explainers/backprop.py)"),
    "PyTorch autograd": st.column_config.NumberColumn("autograd", help="PyTorch autograd: loss.backward()"),
    "finite differences": st.column_config.NumberColumn("finite diff.", help="(L(w + ε) − L(w − ε)) / 2ε"),
    "largest difference": st.column_config.NumberColumn("max diff.", format="%.1e",
                                                        help="The largest difference between the three"),
}


@st.cache_data(max_entries=128, show_spinner=False)
def _gradient_check(vec: tuple[float, ...], hidden: int, x: tuple[float, float], y: float, activation: str,
                    loss: str) -> tuple[bp.GradCheck, pd.DataFrame]:
    """Engine, PyTorch and finite differences, and the table that shows them, cached by the settings (pure)."""
    check = bp.gradient_check(bp.params_from_vector(np.array(vec), hidden), np.array(x), y, activation, loss,
                              reference=mlp_gradients)
    return check, pd.DataFrame(bp.gradient_table(check))


def gradient_panel(setup: Setup) -> bp.GradCheck | None:
    """Section 2's table and its verdict; -> the check (None with a message when it cannot be computed)."""
    vec, hidden = setup.key[:2]
    found = run_safely(lambda: _gradient_check(vec, hidden, tuple(map(float, setup.x)), setup.y, setup.activation,
                                               setup.loss), what="check the gradients")
    if found is None:
        return None
    check, table = found
    st.dataframe(table, hide_index=True, column_config=GRADIENT_COLUMNS)
    st.caption(f"Finite differences: (L(w + ε) − L(w − ε)) / 2ε with ε = 1e-6; they agree when the "
               f"largest difference of the three is below {bp.NUMERIC_TOL:g}. {(table['agree'] == '✓').sum()} of "
               f"{len(table)} agree.")
    return check


# --- 3 to 5. learning --------------------------------------------------------------------------------


def _rates(lr: float) -> tuple[float, float, float]:
    """The learning-rate lesson's three runs: η ÷ 100, η, η × 10 (η itself is section 4's run too)."""
    return lr / 100, lr, lr * 10


@dataclass(frozen=True)
class TrainingView:
    """Section 4, finished: the run's numbers, its loss curve and its decision boundaries (an SVG picture)."""

    first_loss: float
    final_loss: float
    accuracy: float
    curve: str  # SVG pictures: no hover needed, and an <img> redraws far faster than a plotly chart
    boundary: str

    @cached_property  # a view is cached and shared: its pictures are encoded once, not on every rerun
    def html(self) -> str:
        """The run as the training panel's picture: its two numbers, then the curve and the boundaries."""
        change = self.final_loss - self.first_loss
        numbers = style.metrics_html(
            [("Final loss", f"{self.final_loss:.4f}", f"The mean loss on the whole dataset after the last step "
                                                     f"(before the first: {self.first_loss:.4f})."),
             ("Accuracy", f"{self.accuracy:.0%}", "The share of the dataset on the right side of the boundary.")],
            deltas=[(change, bp.signed(change)), None])
        return (numbers + style.svg_figure_html(self.curve, alt="Loss on the whole dataset, step by step")
                + style.svg_figure_html(self.boundary, alt="The probability of class 1 over the plane, as the "
                                                           "network learns, with the data"))


# Finished pictures and figures are cached as objects (st.cache_resource: shared and read-only), not pickled:
# a plotly figure that st.cache_data unpickles is validated again on every hit, costing what building it did.
@st.cache_resource(max_entries=48, show_spinner=False)
def _training_view(key: tuple, lr: float, n_steps: int, batch: int) -> TrainingView:
    vec, hidden, dataset, activation, loss = key
    run = (bp.fit_rates(*key, _rates(lr), n_steps)[1] if batch == 0  # the lesson's middle run, trained once
           else bp.fit_problem(*key, lr, n_steps, batch))
    X, Y = bp.make_problem(dataset)
    grids = [(f"after {s} steps", *bp.probability_grid(p, activation, bp.data_extent(X))) for s, p in run.snapshots]
    return TrainingView(float(run.losses[0]), float(run.losses[-1]), run.accuracy,
                        fb.loss_curve_svg({f"η = {lr:g}": run.losses}), fb.boundary_svg(grids, X, Y))


@st.cache_resource(max_entries=48, show_spinner=False)
def _rates_picture(key: tuple, lr: float, n_steps: int) -> str:
    runs = bp.fit_rates(*key, _rates(lr), n_steps)
    return fb.side_by_side_svg([(f"η = {r:g}: final loss {run.losses[-1]:.3g}", run.losses)
                                   for r, run in zip(_rates(lr), runs)], log_y=True)


def _batch_sizes(n: int) -> tuple[int, ...]:
    return tuple(sorted({n, 1, min(8, n // 2)}, reverse=True))


@st.cache_resource(max_entries=32, show_spinner=False)
def _minibatch_picture(key: tuple, lr: float, n_steps: int) -> str:
    n = len(bp.make_problem(key[2])[1])
    full = f"batch size {n} (the whole dataset)"
    runs = {s: bp.fit_problem(*key, lr, n_steps, s) for s in _batch_sizes(n)}
    return fb.minibatch_svg({full if s == n else f"batch size {s}": r.batch_losses for s, r in runs.items()}, full)


@st.cache_resource(max_entries=20, show_spinner=False)
def _vanishing_view(depth: int) -> tuple[go.Figure, float, float]:
    chain = {ag.ACTIVATION_LABELS[a]: bp.chain_gradients(depth, a) for a in ag.ACTIVATIONS}
    return fb.vanishing_figure(chain), float(chain["Sigmoid"][0]), float(chain["Sigmoid"][-1])


def take_step(setup: Setup, engine_grads: np.ndarray, lr: float) -> None:
    """Button callback: one gradient step on this example; the sliders take the new weights."""
    record = bp.take_step(setup.params, engine_grads, lr, setup.x, setup.y, setup.activation, setup.loss,
                          data=bp.make_problem(setup.dataset))
    st.session_state.bp_last_step = record
    for name, v in zip(bp.param_names(setup.hidden), record.after):
        st.session_state[wkey(name)] = float(v)
    st.session_state.bp_weights = "sliders"
    st.session_state.bp_rerun_app = True  # new weights change the whole page, not just this part


def _last_step(setup: Setup) -> None:
    """The table of the step just taken, while the sliders still show its result."""
    last = st.session_state.get("bp_last_step")
    vec = setup.params.vector()
    if last is None or last.after.shape != vec.shape or not np.allclose(last.after, vec):
        return
    names = bp.param_names(setup.hidden)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Loss before (this example)", f"{last.loss_before:.4f}")
    m2.metric("Loss after (this example)", f"{last.loss_after:.4f}",
              delta=bp.signed(last.loss_after - last.loss_before), delta_color="inverse")
    if last.dataset_loss_before is not None:
        m3.metric("Before (whole dataset)", f"{last.dataset_loss_before:.4f}")
        m4.metric("After (whole dataset)", f"{last.dataset_loss_after:.4f}",
                  delta=bp.signed(last.dataset_loss_after - last.dataset_loss_before), delta_color="inverse")
    st.dataframe(last.table(names), hide_index=True)
    st.caption(f"Every weight moved by exactly −η × gradient with η = {last.lr:g}, rounded to the sliders' "
               "0.001 (nothing is clipped: a weight past ±5 gets a wider slider). This example's loss "
               "falls for a small enough η; with a huge η the step overshoots the other examples, so watch "
               "the loss on the whole dataset rise.")
    if len(last.outside()):
        st.caption(f"{', '.join(names[i] for i in last.outside())} now lie outside the sliders' usual ±5.")


def _batch(n: int) -> RangeControl:
    """Section 4's batch size, up to the whole dataset of n examples."""
    return RangeControl("bp_batch", "Batch size (0 = the whole dataset)", 0, n, 1,
                        help="How many examples each step averages its gradient over.")


def _training(setup: Setup, lr: float) -> int:
    """Section 4: its ranges (steps, and the batch size on a dataset larger than 4) over the run they pick, as
    one browser panel -> the number of steps."""
    n = len(bp.make_problem(setup.dataset)[1])
    controls, batch = [STEPS], 0
    if n > 4:
        controls.append(_batch(n))
        batch = st.session_state.bp_batch = min(int(st.session_state.bp_batch), n)  # a smaller dataset than the last
    n_steps = int(st.session_state.bp_steps)
    view = _training_view(setup.key, lr, n_steps, batch)
    slider_panel(TRAIN_PANEL, controls, view.html, layout="stack",
                 announce=f"final loss {view.final_loss:.4f}, accuracy {view.accuracy:.0%}")
    if setup.dataset == "XOR":
        bend = (f"With a hidden layer ({setup.hidden} units here) the network can bend the boundary." if setup.hidden > 1
                else "One hidden unit is still one line, squashed: XOR needs at least two. Move **Hidden units** up.")
        st.markdown(f"A single neuron draws one straight line, so it **cannot** separate XOR. {bend}")
        try:
            st.page_link("pages/perceptron.py", label="Back to the Perceptron, where XOR failed", icon=":material/neurology:")
        except StreamlitAPIException:
            st.markdown("See the **Perceptron** lesson, where XOR failed.")
    return n_steps


@st.fragment
def _vanishing_lesson(url: ShareableState) -> None:
    """Lesson 2 depends on its depth slider only: that slider reruns this tab alone."""
    depth = st.slider("Depth of the chain (layers of one neuron)", 2, 20, key="bp_depth")
    fig, first, last = _vanishing_view(depth)
    st.plotly_chart(fig, width="stretch")
    st.markdown(f"σ′(z) ≤ 0.25, so every sigmoid layer multiplies the gradient by at most a quarter: after "
                f"{depth} layers the first weight gets {first:.2e}, against {last:.2e} for the last. ReLU passes "
                "gradient through unchanged where it is active.")
    url.publish()  # a rerun of this tab alone must update the link too


def _lessons(url: ShareableState, setup: Setup, lr: float, n_steps: int) -> None:
    # The open lesson is in the URL; only the open tab is computed and drawn.
    part = lesson_tabs(url, "bp_lesson", LESSONS)
    if part == LESSONS[0]:
        st.image(_rates_picture(setup.key, lr, n_steps), width="stretch")
        st.markdown(f"Your η ÷ 100, your η = {lr:g}, and your η × 10, from the same start (log scale). Too "
                    "small crawls; too large overshoots, bounces, blows up or saturates the units, where the "
                    "gradient is almost zero and learning stalls.")
    elif part == LESSONS[1]:
        _vanishing_lesson(url)
    else:
        st.image(_minibatch_picture(setup.key, lr, n_steps), width="stretch")
        st.markdown("The thick dark line is the whole dataset at every step; the faint ones see only their "
                    "batch, so small batches give noisy estimates of the gradient, but many cheap steps. The "
                    "examples of a batch are independent until they are averaged, which is what makes "
                    "training parallel: a GPU computes the whole batch at once.")


@st.fragment
def learn(url: ShareableState, setup: Setup, check: bp.GradCheck | None, net_loss: float) -> None:
    """Sections 3 to 5 and the snippet: the learning rate and training controls rerun only this part."""
    if st.session_state.pop("bp_rerun_app", False):
        st.rerun(scope="app")
    # Bound here, in the fragment: a fragment rerun that leaves a widget undrawn (a closed tab) would
    # otherwise clean its value away; bind() re-assigns it as user state on every run of this part.
    LEARNING_RATE.bind(url, 1.0)
    STEPS.bind(url, 500)
    url.bind("bp_batch", 0, lo=0, hi=100)
    url.bind("bp_depth", 10, lo=2, hi=20)
    # η and the training ranges are browser panels, not Streamlit sliders: each of those re-renders on every
    # run of this part and measures the page's layout as it does (benchmarks/RESULTS.md).
    slider_panel(LR_PANEL, [LEARNING_RATE], "", layout="stack")
    lr = float(st.session_state.bp_lr)
    st.button("Take a step", icon=":material/trending_down:", on_click=take_step,
              args=(setup, check.engine if check is not None else None, lr), disabled=check is None)
    _last_step(setup)

    st.subheader(f"4. Train on the whole {setup.dataset} dataset")
    n_steps = _training(setup, lr)

    st.subheader("5. Lessons from the gradient")
    _lessons(url, setup, lr, n_steps)
    p = setup.params
    pytorch_snippet(lambda: snippets.backprop_snippet(p.w1, p.b1, p.w2, p.b2, setup.x, setup.y, setup.activation,
                                                      setup.loss, lr, net_loss))
    url.publish()
