"""Perceptron: one neuron, its learning rule, and why layers need a non-linearity."""

import numpy as np
import streamlit as st

from explainers import perceptron as pc
from explainers import snippets
from explainers.figures import perceptron as fig
from pages.widgets.lesson_tabs import lesson_tabs
from pages.widgets.perceptron_parts import any_curve, learning_rule, linear_collapse
from pages.widgets.slider_panel import RangeControl, slider_panel
from pages.widgets.ui import ShareableState, pytorch_snippet, try_this

url = ShareableState("perc")
st.title("Perceptron")
st.markdown(
    "A neuron multiplies each input by a weight, adds them up with a bias, and passes the sum "
    "through an activation function. Everything a deep network does is built from this."
)
st.latex(r"z = w_1x_1 + w_2x_2 + \dots + w_nx_n + b \qquad a = f(z)")

TABS = ("One neuron", "The learning rule", "Why layers need a non-linearity", "Enough units: any curve")
# The open tab is in the URL, so a shared link opens on the same lesson.
part = lesson_tabs(url, "perc_tab", TABS)


# Each tab is a fragment: moving a slider reruns (and redraws) only its own tab. The other three
# tabs live in pages/widgets/perceptron_parts.py.
@st.fragment
def one_neuron() -> None:
    settings, activation_box = st.columns([2, 3], gap="large")
    settings.slider("Number of inputs", 2, 5, key=url.bind("perc_n", 3, lo=2, hi=5))
    activation_box.selectbox("Activation f", pc.ACTIVATIONS, format_func=pc.ACTIVATION_LABELS.get,
                             key=url.bind("perc_act", "sigmoid", options=pc.ACTIVATIONS))
    neuron_panel()


# A fragment inside the tab's: a key press in the panel reruns the panel and its snippet alone, so the browser
# does not redraw the two Streamlit widgets above it (the number of inputs and the activation rerun both).
@st.fragment
def neuron_panel() -> None:
    n, activation = st.session_state["perc_n"], st.session_state["perc_act"]
    # The inputs, weights and bias are the lesson's most moved controls: drawn by the browser, beside the
    # neuron and its activation as Python computed them (pages/widgets/slider_panel.py). All five pairs are
    # bound, so inputs hidden by a smaller n keep their values in the URL.
    defaults = {"x": [0.7, 0.6, 1.4, -0.5, 0.3], "w": [0.5, -1.0, 0.8, 0.4, -0.2]}
    pairs = [(RangeControl(f"perc_{v}{i + 1}", f"{name} {v}{i + 1}", -2.0, 2.0, 0.1), defaults[v][i])
             for i in range(5) for v, name in (("x", "Input"), ("w", "Weight"))]
    pairs.append((RangeControl("perc_b", "Bias b", -3.0, 3.0, 0.1, wide=True), 0.1))
    for control, default in pairs:
        url.bind(control.key, default, lo=control.lo, hi=control.hi, step=control.step)
    xs = np.array([st.session_state[f"perc_x{i + 1}"] for i in range(n)])
    ws = np.array([st.session_state[f"perc_w{i + 1}"] for i in range(n)])
    bias = st.session_state["perc_b"]
    out = pc.neuron_forward(xs, ws, bias, activation)
    controls = [control for control, _ in pairs[:2 * n]] + [pairs[-1][0]]
    slider_panel("perc_neuron", controls, fig.neuron_panel_html(out),
                 announce=f"z = {pc.fixed(out.z, 2)}, a = {pc.fixed(out.a, 4)}")
    pytorch_snippet(lambda: snippets.perceptron_neuron_snippet(xs, ws, bias, activation, out.z, out.a))
    url.publish()


# Only the open tab is computed and drawn, as on the other lesson pages: the browser then re-renders one
# tab's elements per slider change, not four tabs'. Opening a tab reruns the page; the settings of the
# closed tabs stay in the URL and in the session (ShareableState), so nothing is lost on the way.
if part == TABS[0]:
    one_neuron()
    # Static, so outside the fragment: a key press in the panel never sends it again.
    try_this("Make w1 negative and watch its edge turn red and the sum drop. With the step activation, "
             "find the bias at which the output flips from 0 to 1.")
elif part == TABS[1]:
    learning_rule(url)
elif part == TABS[2]:
    linear_collapse(url)
else:
    any_curve(url)
