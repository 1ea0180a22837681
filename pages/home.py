"""Home: what Neural Lens is, the map of lessons, and how to use it in a class."""

import streamlit as st

from pages.widgets.catalog import LESSONS

st.title("Neural Lens")
st.markdown(
    "Neural Lens explains convolutional neural networks by letting you **touch** them: every "
    "slider changes a real computation and the picture follows. "
    "Each lesson builds one idea, from a single neuron to a network that learns to read "
    "handwriting while you watch. "
    "Every number on screen comes from code that is checked against PyTorch, so what you see "
    "is what `torch.nn` does."
)

st.subheader("The map")
st.caption("Take the lessons in this order; each one uses the ideas before it.")
# Plain text, not a graph: it wraps on a narrow projector instead of shrinking to unreadable type.
st.markdown("  →  ".join(f"**{i}.&nbsp;{info.title.replace(' ', '&nbsp;')}**" for i, info in enumerate(LESSONS, start=1)))

for i, info in enumerate(LESSONS, start=1):
    with st.container(border=True):
        st.page_link(info.path, label=f"{i}. {info.title}", icon=info.icon)
        st.caption(info.blurb)

st.subheader("Using it in a class")
st.markdown(
    "- **Share an exact demo.** The settings that make a picture live in the page's address: "
    "set the sliders, copy the URL from the browser, and everyone who opens it sees the same thing.\n"
    "- **Works offline.** Everything runs on your own computer. The lessons need no internet; "
    "datasets for the trainer can be fetched once beforehand (see the README).\n"
    "- **Projector friendly.** Use the browser's zoom (Ctrl/Cmd +) to make everything bigger; "
    "the pictures rescale."
)
