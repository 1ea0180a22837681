"""Backprop: a tiny network whose every value and gradient you can see, checked three ways."""

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from explainers import autograd as ag
from explainers import backprop as bp
from explainers import snippets
from explainers.backprop_tex import step_tex
from explainers.figures import backprop as fb
from explainers.perceptron import fixed
from explainers.training.oracle import mlp_gradients
from pages.widgets.ui import ShareableState, pytorch_snippet, run_safely, try_this

st.title("Backpropagation")
st.markdown(
    "A network learns by making its **loss** smaller: one number that says how wrong its output is on the "
    "training examples. It nudges every weight against its gradient: how much the loss would change if that "
    "weight moved a little. **Backpropagation** finds all those gradients in one sweep backwards through the "
    "computation, applying the chain rule at each node. Here the network is tiny, so you can watch every value "
    "and every gradient, and check them against PyTorch."
)

LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
LESSONS = ("Learning rate", "Vanishing gradients", "Mini-batches")
URL_WEIGHT_LIMIT = 10_000.0  # a step can take a weight past the sliders' usual ±5; a link keeps it
url = ShareableState("bp")
url.bind("bp_hidden", 2, lo=1, hi=bp.MAX_HIDDEN)
url.bind("bp_activation", "tanh", options=ag.ACTIVATIONS)
url.bind("bp_loss", "bce", options=bp.LOSSES)
url.bind("bp_dataset", "XOR", options=bp.PROBLEMS)
url.bind("bp_example", 1, lo=0, hi=99)
url.bind("bp_weights", "seed", options=("seed", "sliders"))
url.bind("bp_seed", 0, lo=0, hi=9999)
url.bind("bp_view", "ops", options=("ops", "neurons"))
url.bind("bp_step", 0, lo=0, hi=999)



@st.cache_data(max_entries=128, show_spinner=False)
def gradient_check(params: bp.MLPParams, x: np.ndarray, y: float, activation: str, loss: str) -> bp.GradCheck:
    """Engine, PyTorch and finite differences, cached by the settings (they are pure)."""
    return bp.gradient_check(params, x, y, activation, loss, reference=mlp_gradients)

fit = st.cache_data(max_entries=64, show_spinner=False)(bp.fit_problem)

c1, c2, c3, c4 = st.columns([1, 1, 1.4, 1])  # room for "Binary cross-entropy" at 1024 px
hidden = c1.slider("Hidden units", 1, bp.MAX_HIDDEN, key="bp_hidden")
activation = c2.selectbox("Hidden activation", ag.ACTIVATIONS, format_func=ag.ACTIVATION_LABELS.get,
                          key="bp_activation")
loss = c3.selectbox("Loss", bp.LOSSES, format_func=bp.LOSS_LABELS.get, key="bp_loss",
                    help="How wrong the output p is for the target y. Squared error: (p − y)². Binary "
                         "cross-entropy: −[y log p + (1 − y) log(1 − p)], the usual loss for yes/no answers.")
dataset = c4.selectbox("Toy dataset", bp.PROBLEMS, key="bp_dataset")
c3.caption("Cross-entropy grows without bound as the network grows sure of the wrong answer."
           if loss == "bce" else "Squared error: the distance to the target, squared.")
X, Y = bp.make_problem(dataset)
st.session_state.bp_example = min(st.session_state.bp_example, len(Y) - 1)
c1, c2, c3 = st.columns(3)
example = c1.number_input(f"Training example (0 to {len(Y) - 1})", 0, len(Y) - 1, key="bp_example")
mode = c2.radio("Weights", ("seed", "sliders"), horizontal=True, key="bp_weights",
                format_func={"seed": "Random from a seed", "sliders": "My own (sliders)"}.get)
seed = c3.number_input("Seed", 0, 9999, key="bp_seed", disabled=mode == "sliders")
x, y = X[example], float(Y[example])
c1.caption(f"x = ({fixed(x[0], 2)}, {fixed(x[1], 2)}), target y = {y:g}")

names, params = bp.param_names(hidden), bp.init_params(hidden, seed)


def wkey(name: str) -> str:
    return "bp_w_" + name.translate(str.maketrans("[,]", "___"))


if mode == "sliders":
    with st.expander("Weights and biases", expanded=True, icon=":material/tune:"):
        cols = st.columns(4)
        for k, (name, v0) in enumerate(zip(names, params.vector())):
            url.bind(wkey(name), float(v0), lo=-URL_WEIGHT_LIMIT, hi=URL_WEIGHT_LIMIT)
            # The usual range is ±5; a step that goes further widens this slider rather than clipping the weight.
            edge = max(bp.WEIGHT_LIMIT, float(np.ceil(abs(st.session_state[wkey(name)]))))
            cols[k % 4].slider(name, -edge, edge, step=0.001, format="%.3f", key=wkey(name))
        params = bp.params_from_vector(np.array([st.session_state[wkey(n)] for n in names]), hidden)
        wide = [n for n in names if abs(st.session_state[wkey(n)]) > bp.WEIGHT_LIMIT]
        if wide:
            st.caption(f"{', '.join(wide)} left the usual range ±{bp.WEIGHT_LIMIT:g}: "
                       f"{'its slider was' if len(wide) == 1 else 'their sliders were'} widened to show the value.")

net = run_safely(lambda: bp.build_mlp(params, x, y, activation, loss), what="run the network")
if net is None:
    url.publish()
    st.stop()

st.subheader("1. Forward, then backward, one node at a time")


@st.fragment
def step_through(graph: ag.Graph, steps: tuple[ag.BackwardStep, ...], loss_now: float) -> None:
    """The step controls, the current equation and the graph; only this part reruns while stepping."""
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
    k = cols[1].slider("Backward step", 0, len(steps), key="bp_step")
    view = cols[2].radio("Graph detail", ("ops", "neurons"), horizontal=True, key="bp_view",
                         format_func={"ops": "Every operation", "neurons": "One node per neuron"}.get)
    step = steps[k - 1] if k else None
    grads, reached = (step.grads, step.reached) if step else ag.seed_state(graph)
    current, updated = (step.node, [t.child for t in step.terms]) if step else (graph.root, [])
    # The equation of this step sits right under the buttons and above the graph, so it stays in view.
    if step is None:
        st.markdown(f"**Step 0 of {len(steps)}.** The forward pass gave the loss L = {loss_now:.4f}. "
                    "Backprop starts at the loss with ∂L/∂L = 1. Press **Next**.")
    else:
        st.markdown(f"**Step {k} of {len(steps)}.** Local derivative × upstream gradient, added into each input "
                    "(numbers rounded to 4 significant digits):")
        for line in step_tex(graph, step):
            st.latex(line)
    too_big = view == "ops" and hidden > 2
    if too_big:
        st.caption("With 3+ hidden units every-operation is too big to read: one node per neuron instead.")
    draw = fb.compact_svg if view == "neurons" or too_big else fb.graph_svg
    # Markdown, not st.html: st.html sanitises SVG away. The string is ours, built from numbers.
    st.markdown(draw(graph, grads, reached, current=current, updated=updated), unsafe_allow_html=True)
    st.caption("Each node shows its value (forward pass) and its gradient ∂L/∂node (backward pass). "
               "Orange: being processed; pale orange: receives gradient now; green/blue: gradient known; "
               "'grad ?': not reached yet.")
    if k == len(steps):
        st.success("Every weight has its gradient. One sweep backwards gave all of them.", icon=":material/check:")


step_through(*ag.backward_steps(net.loss), net.loss.data)
st.latex(r"\frac{\partial L}{\partial w} = \frac{\partial L}{\partial \text{node}} \cdot "
         r"\frac{\partial\, \text{node}}{\partial w}\quad\text{(the chain rule, summed over every path)}")

st.subheader("2. Three ways to the same gradient")
check = run_safely(lambda: gradient_check(params, x, y, activation, loss),
                   what="check the gradients")
if check is not None:
    table = bp.gradient_table(check)
    st.dataframe(table, hide_index=True, column_config={"largest difference": st.column_config.NumberColumn(format="%.1e")})
    st.caption(f"Finite differences: (L(w + ε) − L(w − ε)) / 2ε with ε = 1e-6; they agree when the "
               f"largest difference is below {bp.NUMERIC_TOL:g}. {table['agree'].count('✓')} of {len(names)} agree.")


def take_step(engine_grads: np.ndarray, lr: float) -> None:
    record = bp.take_step(params, engine_grads, lr, x, y, activation, loss, data=(X, Y))
    st.session_state.bp_last_step = record
    for name, v in zip(names, record.after):
        st.session_state[wkey(name)] = float(v)
    st.session_state.bp_weights = "sliders"
    st.session_state.bp_rerun_app = True  # new weights change the whole page, not just this part


@st.fragment
def learn() -> None:
    """Sections 3 to 5 and the snippet: the learning rate and training controls rerun only this part."""
    if st.session_state.pop("bp_rerun_app", False):
        st.rerun(scope="app")
    # Bound here, in the fragment: a fragment rerun that leaves a widget undrawn (a closed tab) would
    # otherwise clean its value away; bind() re-assigns it as user state on every run of this part.
    url.bind("bp_lr", 1.0, options=LRS)
    url.bind("bp_steps", 500, lo=10, hi=3000)
    url.bind("bp_batch", 0, lo=0, hi=100)
    url.bind("bp_depth", 10, lo=2, hi=20)
    st.subheader("3. Take a step downhill")
    lr = st.select_slider("Learning rate η", LRS, key="bp_lr",
                          help="How far each step moves the weights along minus the gradient.")
    st.latex(r"w \leftarrow w - \eta\,\frac{\partial L}{\partial w}")
    st.button("Take a step", icon=":material/trending_down:", on_click=take_step,
              args=(check.engine if check is not None else None, lr), disabled=check is None)
    last = st.session_state.get("bp_last_step")
    if last is not None and last.after.shape == params.vector().shape and np.allclose(last.after, params.vector()):
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

    st.subheader(f"4. Train on the whole {dataset} dataset")
    c1, c2 = st.columns(2)
    n_steps = c1.slider("Training steps", 10, 3000, step=10, key="bp_steps")
    batch = c2.slider("Batch size (0 = the whole dataset)", 0, len(Y), key="bp_batch",
                      help="How many examples each step averages its gradient over.") if len(Y) > 4 else 0
    setting = (tuple(params.vector()), hidden, dataset, activation, loss)
    result = fit(*setting, lr, n_steps, batch)
    m1, m2 = st.columns(2)
    m1.metric("Final loss", f"{result.losses[-1]:.4f}", delta=bp.signed(result.losses[-1] - result.losses[0]),
              delta_color="inverse")
    m2.metric("Accuracy", f"{result.accuracy:.0%}")
    st.plotly_chart(fb.loss_curve_figure({f"η = {lr:g}": result.losses}), width="stretch")
    grids = [(f"after {s} steps", *bp.probability_grid(p, activation, bp.data_extent(X))) for s, p in result.snapshots]
    st.plotly_chart(fb.boundary_figure(grids, X, Y), width="stretch")
    if dataset == "XOR":
        bend = (f"With a hidden layer ({hidden} units here) the network can bend the boundary." if hidden > 1
                else "One hidden unit is still one line, squashed: XOR needs at least two. Move **Hidden units** up.")
        st.markdown(f"A single neuron draws one straight line, so it **cannot** separate XOR. {bend}")
        try:
            st.page_link("pages/perceptron.py", label="Back to the Perceptron, where XOR failed", icon=":material/neurology:")
        except StreamlitAPIException:
            st.markdown("See the **Perceptron** lesson, where XOR failed.")

    st.subheader("5. Lessons from the gradient")
    # The open lesson is in the URL; only the open tab is computed and drawn.
    t1, t2, t3 = st.tabs(LESSONS, key=url.bind("bp_lesson", LESSONS[0], options=LESSONS), on_change="rerun")
    if t1.open:
        with t1:
            rates = (lr / 100, lr, lr * 10)
            runs = [fit(*setting, r, n_steps, 0) for r in rates]
            st.plotly_chart(fb.side_by_side_figure([(f"η = {r:g}: final loss {run.losses[-1]:.3g}", run.losses)
                                                    for r, run in zip(rates, runs)], log_y=True), width="stretch")
            st.markdown(f"Your η ÷ 100, your η = {lr:g}, and your η × 10, from the same start (log scale). Too "
                        "small crawls; too large overshoots, bounces, blows up or saturates the units, where the "
                        "gradient is almost zero and learning stalls.")
    if t2.open:
        with t2:
            depth = st.slider("Depth of the chain (layers of one neuron)", 2, 20, key="bp_depth")
            chain = {ag.ACTIVATION_LABELS[a]: bp.chain_gradients(depth, a) for a in ag.ACTIVATIONS}
            st.plotly_chart(fb.vanishing_figure(chain), width="stretch")
            st.markdown(f"σ′(z) ≤ 0.25, so every sigmoid layer multiplies the gradient by at most a quarter: after "
                        f"{depth} layers the first weight gets {chain['Sigmoid'][0]:.2e}, against "
                        f"{chain['Sigmoid'][-1]:.2e} for the last. ReLU passes gradient through unchanged where it "
                        "is active.")
    if t3.open:
        with t3:
            sizes = tuple(sorted({len(Y), 1, min(8, len(Y) // 2)}, reverse=True))
            runs = [fit(*setting, lr, n_steps, s) for s in sizes]
            full = f"batch size {len(Y)} (the whole dataset)"
            curves = {full if s == len(Y) else f"batch size {s}": r.batch_losses for s, r in zip(sizes, runs)}
            st.plotly_chart(fb.minibatch_figure(curves, full), width="stretch")
            st.markdown("The thick dark line is the whole dataset at every step; the faint ones see only their "
                        "batch, so small batches give noisy estimates of the gradient, but many cheap steps. The "
                        "examples of a batch are independent until they are averaged, which is what makes "
                        "training parallel: a GPU computes the whole batch at once.")

    try_this("Pick XOR with 1 hidden unit and train: stuck. Give it 2 hidden units and train again. Then step "
             "through the backward pass with ReLU and find a unit whose gradient is exactly 0.")
    pytorch_snippet(snippets.backprop_snippet(params.w1, params.b1, params.w2, params.b2, x, y, activation, loss, lr,
                                              net.loss.data))
    url.publish()


learn()
