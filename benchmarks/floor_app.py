"""Synthetic panels for benchmarks/fragment_floor.py: what one fragment rerun costs with nothing of ours in it.

`?panel=` picks one of fragment_floor.PANELS (default "baseline", the same app as benchmarks/baseline_app.py). Every other panel
sits below 40 static paragraphs, like a lesson page's text, and reruns as one `st.fragment` when its
"Value" slider moves, the way the lesson pages' panels do. The "component" panel draws its sliders and
a neuron picture in the browser (a `st.components.v2` component computing w·x + b in JavaScript) and
sends each change to Python, whose fragment then holds only the component and a code block.
"""

import numpy as np
import streamlit as st

panel = st.query_params.get("panel", "baseline")

# ---------------------------------------------------------------- a panel computed in the browser
# The case for a custom component: six inputs and weights, a bias and the neuron picture, drawn and
# computed by the browser on every key press; Python hears each change (setStateValue) and reruns the
# fragment, which holds only the component and the code a learner would copy.
_NEURON_JS = """
export default function ({ parentElement, data, setStateValue }) {
  let root = parentElement.querySelector(".neuron");
  if (!root) {
    root = document.createElement("div");
    root.className = "neuron";
    const rows = ["Value", ...Array.from({ length: data.n }, (_, i) => `Input x${i}`),
                  ...Array.from({ length: data.n }, (_, i) => `Weight w${i}`)];
    root.innerHTML = rows.map((label, i) => `<label>${label} <input type="range" aria-label="${label}"
        min="${i ? -2 : 0}" max="${i ? 2 : 100}" step="${i ? 0.1 : 1}" value="${i ? 0.5 : 50}"></label>`).join("")
      + `<svg role="img" viewBox="0 0 330 220" width="330" height="220"></svg><p class="sum"></p>`;
    parentElement.appendChild(root);
    const inputs = [...root.querySelectorAll("input")];
    const draw = () => {
      const v = inputs.map((el) => Number(el.value));
      const x = v.slice(1, 1 + data.n), w = v.slice(1 + data.n);
      const z = x.reduce((s, xi, i) => s + xi * w[i], v[0] / 50 - 1);
      const a = 1 / (1 + Math.exp(-z));
      root.querySelector("svg").innerHTML = x.map((xi, i) => {
        const y = 20 + i * 36;
        return `<line x1="40" y1="${y}" x2="200" y2="110" stroke="${w[i] >= 0 ? "#1f77b4" : "#d62728"}"
                 stroke-width="${1 + 3 * Math.abs(w[i])}"/><circle cx="30" cy="${y}" r="14" fill="#eee"/>
                <text x="30" y="${y + 4}" text-anchor="middle" font-size="11">${xi.toFixed(1)}</text>`;
      }).join("") + `<circle cx="220" cy="110" r="30" fill="#fff" stroke="#333"/>
        <text x="220" y="114" text-anchor="middle" font-size="12">a=${a.toFixed(3)}</text>`;
      root.querySelector(".sum").textContent = `z = w·x + b = ${z.toFixed(3)}`;
      return v;
    };
    inputs.forEach((el) => el.addEventListener("input", () => setStateValue("settings", draw())));
    draw();
  }
}
"""
_NEURON_CSS = """
.neuron { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 16px; font: 14px sans-serif; }
.neuron label { display: flex; flex-direction: column; }
.neuron svg, .neuron .sum { grid-column: 1 / 3; }
"""
_NEURON = st.components.v2.component("floor_neuron", js=_NEURON_JS, css=_NEURON_CSS)


@st.cache_resource(max_entries=256)
def _noise(seed: int, side: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((side, side, 3)) * 255).astype("uint8")


if panel == "baseline":
    st.title("Baseline")
    value = st.slider("Value", 0, 100, 50)
    st.write(f"The slider is at {value}.")
else:
    st.title(f"Panel: {panel}")
    for i in range(40):
        st.markdown(f"Static paragraph **{i}** of the page's text, with a formula $x_{{{i}}}$.")

    @st.fragment
    def fragment() -> None:
        if panel == "component":  # its own "Value" range input, in the browser
            state = _NEURON(key="floor_neuron", data={"n": 6}, on_settings_change=lambda: None)
            values = state.settings or [50] + [0.5] * 12
            st.code(f"x = torch.tensor({values[1:7]})\nw = torch.tensor({values[7:]})\n"
                    f"b = {values[0] / 50 - 1:.2f}\nz = w @ x + b", language="python")
            return
        value = st.slider("Value", 0, 100, 50)
        if panel == "text":  # the baseline's content, inside a fragment
            st.write(f"The slider is at {value}.")
        elif panel == "image":  # one cached picture per value
            st.image(_noise(value, 200), width=300)
        elif panel == "sliders":  # a Perceptron-like control panel: 12 more sliders in pairs
            for i in range(6):
                x, w = st.columns(2)
                x.slider(f"Input x{i}", -2.0, 2.0, 0.5, step=0.1)
                w.slider(f"Weight w{i}", -2.0, 2.0, 0.5, step=0.1)
            st.write(f"The slider is at {value}.")
        elif panel == "formulas":  # ten lines of KaTeX markdown
            for i in range(10):
                st.markdown(f"**Weighted sum:** $z = {value * i}$ and $a = f(z)$")
        elif panel == "panel":  # three columns of metric, picture and caption
            for i, column in enumerate(st.columns(3)):
                with column:
                    st.metric(f"Map {i}", value * i)
                    st.image(_noise(value + i, 200), width=150)
                    st.caption(f"Picture {i} at {value}")

    fragment()
