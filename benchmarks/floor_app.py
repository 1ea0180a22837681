"""Synthetic panels for benchmarks/fragment_floor.py: what one fragment rerun costs with nothing of ours in it.

`?panel=` picks one of fragment_floor.PANELS (default "baseline", the same app as benchmarks/baseline_app.py). Every other panel
sits below 40 static paragraphs, like a lesson page's text, and reruns as one `st.fragment` when its
"Value" slider moves, the way the lesson pages' panels do.
"""

import numpy as np
import streamlit as st

panel = st.query_params.get("panel", "baseline")


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
        st.markdown(f"Static paragraph **{i}** of the page's text, with a formula $x_{i}$.")

    @st.fragment
    def fragment() -> None:
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
