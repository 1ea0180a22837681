"""Backprop: a tiny network whose every value and gradient you can see, checked three ways."""

import streamlit as st

from explainers import autograd as ag
from explainers import backprop as bp
from explainers.perceptron import fixed
from pages.widgets.backprop_parts import (
    Setup,
    gradient_panel,
    learn,
    step_through,
    weight_sliders,
)
from pages.widgets.ui import ShareableState, run_safely, try_this

st.title("Backpropagation")
st.markdown(
    "A network learns by making its **loss** smaller: one number that says how wrong its output is on the "
    "training examples. It nudges every weight against its gradient: how much the loss would change if that "
    "weight moved a little. **Backpropagation** finds all those gradients in one sweep backwards through the "
    "computation, applying the chain rule at each node. Here the network is tiny, so you can watch every value "
    "and every gradient, and check them against PyTorch."
)

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

c1, c2, c3, c4 = st.columns([1, 1, 1.4, 1])  # room for "Cross-entropy" at 1024 px
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

params = bp.init_params(hidden, seed)
if mode == "sliders":
    params = weight_sliders(url, params)
setup = Setup(params, activation, loss, dataset, x, y)

net = run_safely(lambda: bp.build_mlp(params, x, y, activation, loss), what="run the network")
if net is None:
    url.publish()
    st.stop()

st.subheader("1. Forward, then backward, one node at a time")
step_through(url, *ag.backward_steps(net.loss), net.loss.data, hidden)
st.latex(r"\frac{\partial L}{\partial w} = \frac{\partial L}{\partial \text{node}} \cdot "
         r"\frac{\partial\, \text{node}}{\partial w}\quad\text{(the chain rule, summed over every path)}")

st.subheader("2. Three ways to the same gradient")
check = gradient_panel(setup)

st.subheader("3. Take a step downhill")
st.latex(r"w \leftarrow w - \eta\,\frac{\partial L}{\partial w}")  # outside the fragment: η does not redraw it
learn(url, setup, check, net.loss.data)
try_this("Pick XOR with 1 hidden unit and train: stuck. Give it 2 hidden units and train again. Then step "
         "through the backward pass with ReLU and find a unit whose gradient is exactly 0.")
