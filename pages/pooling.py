"""Pooling: max and average pooling with every MaxPool2d knob, and the conv -> ReLU -> pool block."""

import streamlit as st

from explainers.kernels import KERNELS
from pages.widgets.image_input import image_input
from pages.widgets.pooling_parts import detector, layer
from pages.widgets.ui import ShareableState

STAGES = ["The picture itself", "Conv → ReLU feature map"]
SIZES = [16, 24, 32, 48, 64]

url = ShareableState("pool")
st.title("Pooling")
st.markdown(
    "A pooling layer slides a small window over each feature map and keeps one number per window: "
    "the **largest** (max pooling) or the **mean** (average pooling). It shrinks the map, has no "
    "weights to learn, and makes the network care less about exactly where a feature sits."
)
max_col, avg_col = st.columns(2)  # one formula each: side by side on one line they overflow at 1024 px
max_col.latex(r"\text{max: } y_{ij} = \max_{(a,b)\in W_{ij}} x_{ab}\;")
avg_col.latex(r"\text{average: } y_{ij} = \frac{1}{|W_{ij}|}\sum_{(a,b)\in W_{ij}} x_{ab}\;")

# Two columns, not three: at 1024 px a narrower first one cut "Camera" off the image source buttons.
c1, c2 = st.columns(2, gap="medium")
with c1:
    picked = image_input("pool", url, mode="L")
    size = st.selectbox("Working size (pixels)", SIZES, key=url.bind("pool_size", 32, options=SIZES),
                        help="The picture is resized to this square before it is pooled.")
stage = c2.radio("What gets pooled", STAGES, key=url.bind("pool_stage", STAGES[1], options=STAGES))
kname = c2.selectbox("Convolution kernel", list(KERNELS), disabled=stage == STAGES[0],
                     key=url.bind("pool_kernel", "Sobel x", options=list(KERNELS)))

# The pooling layer's knobs and everything they change: one fragment, so a slider reruns only this part.
layer(url, detector(picked, size, kname if stage == STAGES[1] else None), kname)
url.publish()
