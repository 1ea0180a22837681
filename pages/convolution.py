"""Convolution: slide a kernel over your own picture with every Conv2d knob; numbers checked against PyTorch."""

import streamlit as st

from explainers import convolution as cv
from explainers.kernels import KERNELS
from pages.widgets.convolution_parts import BANK, results
from pages.widgets.image_input import image_input
from pages.widgets.kernel_input import kernel_input
from pages.widgets.ui import ShareableState, try_this

COLOUR_LABELS = {"grey": "Greyscale: Conv2d(1, 1)", "rgb": "RGB: Conv2d(3, 1)",
                 "depthwise": "Depthwise: Conv2d(3, 3, groups=3)"}

st.title("Convolution")
st.markdown(
    "A convolution slides a small grid of weights, the **kernel**, over a picture. At every stop it "
    "multiplies the pixels under the kernel by the weights and adds them up: one number of the "
    "output, the **feature map**. Blur, sharpen and edge detectors are all just different weights, "
    "and a CNN *learns* its weights. Try it on a sample, your own photo or your camera."
)
# Static, so outside the results fragment: a slider never re-renders it.
st.markdown("**Each output value** (no flipping of the kernel: this is what PyTorch calls convolution):")
st.latex(r"y_{i,j} = b + \sum_{c}\sum_{m}\sum_{n} x_{c,\, s i + d m - p,\, s j + d n - p} \cdot w_{c,m,n}\;\;")

url = ShareableState("conv")
url.bind("conv_normalise", False)
url.bind("conv_colour", "grey", options=cv.COLOUR_MODES)
url.bind("conv_row", 150, lo=0)
url.bind("conv_col", 50, lo=0)
url.bind("conv_bank", BANK, options=list(KERNELS))

# Two columns, not three: at 1024 px (a projector) three would cut the toggles' labels.
picture_col, kernel_col = st.columns(2, gap="medium")
with picture_col:
    st.markdown("**1. Picture**")
    picked = image_input("conv", url)
with kernel_col:
    st.markdown("**2. Kernel**")
    kernel, kernel_name = kernel_input(url)
    if st.toggle("Normalise the weights", key="conv_normalise",
                 help="Divide the weights by their sum, or by the sum of their sizes |w| when the sum is 0."):
        norm = cv.normalise(kernel)
        kernel = norm.kernel
        st.caption({"sum": f"Divided by the sum of the weights, {cv.fmt(norm.divisor, 4)}: a flat area keeps its "
                           "brightness.",
                    "abs": f"The weights add up to 0, so dividing by their sum is impossible: divided by the sum "
                           f"of |w|, {cv.fmt(norm.divisor, 4)}, instead (outputs stay between −1 and 1).",
                    "none": "Every weight is 0: nothing to divide."}[norm.by])
    colour = st.radio("Colour", cv.COLOUR_MODES, key="conv_colour", format_func=COLOUR_LABELS.get)

# Settings, feature map, arithmetic, sizes and tabs: one fragment, so a Conv2d slider reruns only this part.
results(url, picked, kernel, kernel_name, colour)

try_this("Pick **Sobel x** on *Stripes at four angles*: which stripes light up? Click a bright pixel of the "
         "feature map and read its sum. Then set stride 2 and watch the output shrink by half.")
url.publish()
