"""The Perceptron page's last three tabs, each its own fragment: the learning rule, the linear collapse, any curve.

Usage on the page (after ``url = ShareableState("perc")``), each inside its tab::

    learning_rule(url)      # Step / epoch buttons, the boundary and the mistakes chart
    linear_collapse(url)    # two linear layers vs. linear -> ReLU -> linear
    any_curve(url)          # a ReLU network's least-squares fit of a wiggly curve
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explainers import perceptron as pc
from explainers import snippets
from explainers.figures import perceptron as fig
from pages.widgets.catalog import LESSONS
from pages.widgets.ui import ShareableState, pytorch_snippet, try_this

MAX_SEEN = 100_000  # examples shown; 2,500 epochs of the largest dataset
replay = st.cache_data(max_entries=64, show_spinner=False)(pc.replay)
curve_fit = st.cache_data(max_entries=64, show_spinner=False)(pc.fit_curve)
two_layer = st.cache_data(max_entries=64, show_spinner=False)(pc.random_two_layer)


# ~35 ms of plotly per figure, the same for every visit with these settings. Read-only: st.plotly_chart
# serialises a copy and never changes the figure, so sessions may share one.
@st.cache_resource(max_entries=64, show_spinner=False)
def regions_figure(hidden: int, seed: int, between: str):
    """The XOR points over the output regions of the (hidden, seed) two-layer net, linear or ReLU between layers."""
    X, y = pc.toy_dataset("XOR")
    net = pc.random_two_layer(hidden, seed)
    title = ("Linear → linear: always a straight line" if between == "linear"
             else "Linear → ReLU → linear: the boundary can bend")
    return fig.output_regions_figure(X, y, lambda P: pc.two_layer_forward(P, net, between), title)


@st.fragment
def learning_rule(url: ShareableState) -> None:
    """Tab 2: the perceptron rule on a toy dataset, replayed from the number of examples shown."""
    st.markdown(
        "The perceptron learns a line that separates two classes. Show it one example at a time: "
        "if it gets the example wrong, nudge the weights towards the right answer."
    )
    st.latex(r"\hat y = \mathrm{step}(w \cdot x + b) \qquad w \leftarrow w + \eta\,(y - \hat y)\,x"
             r"\qquad b \leftarrow b + \eta\,(y - \hat y)")
    c1, c2 = st.columns(2)
    dataset = c1.selectbox("Dataset", pc.DATASETS, key=url.bind("perc_data", "AND", options=pc.DATASETS))
    lr = c2.slider("Learning rate η", 0.05, 1.0, step=0.05, key=url.bind("perc_lr", 0.25, lo=0.05, hi=1.0))
    X, y = pc.toy_dataset(dataset, seed=0)
    # The training is replayed from the number of examples shown (in the URL): a shared link
    # brings back the same weights, the same mistakes chart and the same message.
    url.bind("perc_seen", 0, lo=0, hi=MAX_SEEN)
    run_key = (dataset, lr)
    if st.session_state.get("perc_rule_key", run_key) != run_key:  # a new problem starts from zero weights
        st.session_state.perc_seen = 0
    st.session_state.perc_rule_key = run_key
    state = replay(X, y, lr, st.session_state.perc_seen)
    b1, b2, b3, b4 = st.columns(4)
    note = None
    if b1.button("Step", icon=":material/skip_next:", width="stretch"):
        state = pc.perceptron_step(state, X, y, lr)
    if b2.button("Run one epoch", icon=":material/fast_forward:", width="stretch"):
        state = pc.perceptron_epoch(state, X, y, lr)
    if b3.button("Run 10 epochs", icon=":material/double_arrow:", width="stretch"):
        before = state.epoch
        state = pc.run_epochs(state, X, y, lr, 10)
        if state.epoch - before < 10:
            note = f"Stopped after {state.epoch - before} of the 10 epochs: an epoch without a mistake changes nothing."
    if b4.button("Reset", icon=":material/restart_alt:", width="stretch"):
        state = pc.initial_state()
    st.session_state.perc_seen = min(state.epoch * len(X) + state.index, MAX_SEEN)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.plotly_chart(fig.boundary_figure(X, y, state.w, state.b, highlight=state.last_index,
                                            highlight_wrong=state.last_was_mistake,
                                            title=f"{dataset}: the line w·x + b = 0"), key="perc_boundary")
    with right:
        st.metric("Epochs finished", state.epoch)
        st.markdown(f"w = ({state.w[0]:.2f}, {state.w[1]:.2f}), b = {state.b:.2f}")
        if state.last_index is not None:
            verdict = "was **wrong**: the weights moved" if state.last_was_mistake else "was right: no change"
            st.markdown(f"Last example x = ({X[state.last_index, 0]:.2f}, {X[state.last_index, 1]:.2f}), "
                        f"y = {y[state.last_index]}: the perceptron {verdict}.")
        if state.mistakes_per_epoch:
            st.plotly_chart(fig.mistakes_figure(state.mistakes_per_epoch), key="perc_mistakes")
        if state.converged_epoch is not None:
            k = state.converged_epoch
            since = ("the starting weights were already right" if k == 1
                     else f"the weights last changed in epoch {k - 1}")
            st.success(f"Converged in epoch {k}: a whole epoch without a mistake ({since}).")
        if note:
            st.caption(note)
        elif dataset == "XOR" and state.epoch >= 5:
            st.warning("XOR never converges: no single straight line puts (0,1) and (1,0) on one side and "
                       "(0,0) and (1,1) on the other, so there is always a point on the wrong side.")
            if any(p.url_path == "backprop" for p in LESSONS):
                st.page_link("pages/backprop.py", label="A hidden layer fixes it: see Backprop", icon=":material/arrow_forward:")
    try_this("Press Run one epoch on AND until it converges, then switch to XOR and press it ten times.")
    url.publish()


@st.fragment
def linear_collapse(url: ShareableState) -> None:
    """Tab 3: two linear layers collapse into one; a ReLU between them lets the boundary bend."""
    st.markdown(
        "Stack two linear layers with nothing between them and you get… one linear layer. "
        "The boundary stays a straight line however many you stack. Put a ReLU between them and it can bend."
    )
    st.latex(r"W_2(W_1x + b_1) + b_2 = \underbrace{(W_2W_1)}_{W}\,x + \underbrace{(W_2b_1 + b_2)}_{b}")
    c1, c2 = st.columns(2)
    hidden = c1.slider("Hidden units", 2, 8, key=url.bind("perc_hidden", 4, lo=2, hi=8))
    seed = c2.number_input("Random weights (seed)", 0, 999, step=1, key=url.bind("perc_seed", 3, lo=0, hi=999))
    net = two_layer(hidden, int(seed))
    W, b = pc.collapse(net)
    X, y = pc.toy_dataset("XOR")
    grid_check = np.random.default_rng(0).uniform(-1, 2, size=(200, 2))
    gap = np.abs(pc.two_layer_forward(grid_check, net, "linear") - (grid_check @ W.T + b)[:, 0]).max()
    left, right = st.columns(2, gap="large")
    with left:
        st.plotly_chart(regions_figure(hidden, int(seed), "linear"), key="perc_linear")
        st.markdown(f"Collapsed: $W = W_2W_1$ = [{W[0, 0]:.3f}, {W[0, 1]:.3f}], "
                    f"$b = W_2b_1 + b_2$ = {b[0]:.3f}. Largest difference from the two-layer net over "
                    f"200 random points: {gap:.1e}.")
    with right:
        st.plotly_chart(regions_figure(hidden, int(seed), "relu"), key="perc_relu")
        st.markdown(f"The same {hidden} hidden units with a ReLU between the layers: each unit can add a kink "
                    "where it switches on. (Each seed's weights are redrawn until a kink bends the boundary "
                    "inside the picture, so the bend is always there to see.)")
    try_this("Change the seed a few times: the left boundary is always straight, the right one always bends.")
    pytorch_snippet(lambda: snippets.perceptron_layers_snippet(hidden), title="PyTorch equivalent (two layers)")
    url.publish()


@st.fragment
def any_curve(url: ShareableState) -> None:
    """Tab 4: one hidden layer of ReLU units fits a wiggly curve, better with more units."""
    st.markdown(
        "One hidden layer is already enough to draw any reasonable curve, given enough units (the universal "
        "approximation theorem). Each ReLU unit is a ramp that switches on at its kink; the output layer adds "
        "the ramps up with weights, so the curve is a chain of straight pieces, one more per unit."
    )
    st.latex(r"\hat f(x) = b_2 + \sum_{j=1}^{H} w_{2,j}\,\mathrm{relu}(w_{1,j}\,x + b_{1,j})")
    units = st.slider("ReLU units H", 1, pc.MAX_CURVE_UNITS, key=url.bind("perc_units", 4, lo=1, hi=pc.MAX_CURVE_UNITS))
    result = curve_fit(units)
    st.markdown(fig.curve_figure(result), unsafe_allow_html=True)  # an SVG we built from numbers
    st.markdown(f"Mean squared error with {units} unit{'s' if units > 1 else ''}: **{result.mse:.4f}**. The kinks "
                "(orange ticks) are drawn at random and the output weights are the best possible for them "
                "(least squares), so adding units never makes the fit worse. A trained network moves the kinks too.")
    try_this("Start at 1 unit and double it: 2, 4, 8, 16, 32. Where does the curve first follow the small wiggles?")
    pytorch_snippet(lambda: snippets.perceptron_curve_snippet(units), title="PyTorch equivalent (the same fit)")
    url.publish()
