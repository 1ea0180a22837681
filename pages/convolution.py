"""Convolution: slide a kernel over your own picture with every Conv2d knob; numbers checked against PyTorch."""

import numpy as np
import streamlit as st

from explainers import convolution as cv
from explainers import snippets
from explainers.figures import convolution as figs
from explainers.images import to_grey
from explainers.kernels import KERNELS
from explainers.kernels import kernel as named_kernel
from pages.widgets.image_input import image_input
from pages.widgets.kernel_input import kernel_input
from pages.widgets.ui import ShareableState, pytorch_snippet, run_safely, try_this

PADDINGS = ["0", "1", "2", "3", "4", "5", "6", "same"]
COLOUR_LABELS = {"grey": "Greyscale: Conv2d(1, 1)", "rgb": "RGB: Conv2d(3, 1)",
                 "depthwise": "Depthwise: Conv2d(3, 3, groups=3)"}
BANK = ["Sobel x", "Sobel y", "Laplacian", "Gaussian blur 5×5"]

st.title("Convolution")
st.markdown(
    "A convolution slides a small grid of weights, the **kernel**, over a picture. At every stop it "
    "multiplies the pixels under the kernel by the weights and adds them up: one number of the "
    "output, the **feature map**. Blur, sharpen and edge detectors are all just different weights, "
    "and a CNN *learns* its weights. Try it on a sample, your own photo or your camera."
)

url = ShareableState("conv")
url.bind("conv_normalise", False)
url.bind("conv_colour", "grey", options=cv.COLOUR_MODES)
url.bind("conv_stride", 1, lo=1, hi=4)
url.bind("conv_padding", "1", options=PADDINGS)
url.bind("conv_padding_mode", "zeros", options=cv.PADDING_MODES)
url.bind("conv_dilation", 1, lo=1, hi=4)
url.bind("conv_bias", 0.0, lo=-1.0, hi=1.0)
url.bind("conv_relu", False)
url.bind("conv_row", 150, lo=0)
url.bind("conv_col", 50, lo=0)
url.bind("conv_bank", BANK, options=list(KERNELS))
state = st.session_state


picture_col, kernel_col, settings_col = st.columns([1, 1, 1], gap="large")
with picture_col:
    st.markdown("**1. Picture**")
    picked = image_input("conv", url)
with settings_col:
    st.markdown("**3. Conv2d settings**")
    stride = st.slider("Stride", 1, 4, key="conv_stride", help="How many pixels the kernel jumps each step.")
    padding = st.select_slider("Padding", PADDINGS, key="conv_padding",
                               help="Pixels added around the picture; 0 is 'valid', 'same' keeps the size.")
    mode = st.selectbox("Padding mode", cv.PADDING_MODES, key="conv_padding_mode",
                        help="zeros: black border; reflect: mirror; replicate: repeat the edge; circular: wrap around.")
    dilation = st.slider("Dilation", 1, 4, key="conv_dilation", help="Gaps between the kernel's taps.")
    bias = st.slider("Bias", -1.0, 1.0, step=0.05, key="conv_bias", help="Added to every output value.")
    relu = st.toggle("ReLU after the convolution", key="conv_relu")
with kernel_col:
    st.markdown("**2. Kernel**")
    kernel, kernel_name = kernel_input(url)
    if st.toggle("Normalise (divide by the sum)", key="conv_normalise"):
        kernel = cv.normalise_kernel(kernel)
    colour = st.radio("Colour", cv.COLOUR_MODES, key="conv_colour", format_func=COLOUR_LABELS.get)

pad_arg = padding if padding == "same" else int(padding)
demo = run_safely(lambda: cv.apply_kernel(picked.image, kernel, colour=colour, bias=bias, relu=relu, stride=stride,
                                       padding=pad_arg, dilation=dilation, padding_mode=mode),
                  what="apply these settings")
if demo is None:  # keep the picture on screen while the learner fixes the settings
    st.image(picked.image, caption=f"Input: {picked.label}. Change the settings above to see its feature map.",
             width=360, clamp=True)
    url.publish()
    st.stop()
g = cv.geometry(demo.x.shape, demo.weight.shape, stride, pad_arg, dilation, demo.groups)
ho, wo = g.out_size
for key, top in (("conv_row", ho - 1), ("conv_col", wo - 1)):
    state[key] = min(state[key], top)  # keep the chosen pixel inside a smaller output

st.subheader("The picture and its feature map")
st.markdown(
    f"Shapes: input `(1, {g.c_in}, {g.in_size[0]}, {g.in_size[1]})` → `nn.Conv2d({g.c_in}, {g.c_out}, "
    f"kernel_size={g.kernel}, stride={stride}, padding={pad_arg!r}, dilation={dilation}, groups={g.groups})` → "
    f"output `(1, {g.c_out}, {ho}, {wo})`."
)
seen = demo.weight[:, 0] if colour == "depthwise" else demo.weight[0]  # (C_in, kH, kW): what one pixel sees
step = cv.conv_step(demo.x, seen, state.conv_row, state.conv_col, bias=bias, stride=stride, padding=pad_arg,
                    dilation=dilation, padding_mode=mode)  # the sliders below set conv_row / conv_col
left, right = st.columns(2)
shown_input = picked.image if colour != "grey" else to_grey(picked.image)
left.plotly_chart(figs.picture_figure(shown_input, title=f"Input: {picked.label}", window=step),
                  key="conv_fig_input")
if colour == "depthwise":
    right.plotly_chart(figs.colour_output_figure(demo.output, title="Output: 3 maps shown as R, G, B"),
                       key="conv_fig_output")
else:
    right.plotly_chart(figs.feature_map_figure(demo.output[0], title=f"Output: {kernel_name} ({ho}×{wo})",
                                               pixel=(state.conv_row, state.conv_col)), key="conv_fig_output")
if colour == "depthwise":
    right.caption("Each output channel drives one colour; for signed maps mid-grey is 0.")
elif figs.is_signed(demo.output):
    right.caption("Negative values are **red**, zero is **white**, positive values are **blue**; "
                  "the colour range is symmetric around 0. Turn on ReLU to clip the negatives to 0.")
else:
    right.caption("No negative values: black is 0, white is the largest value.")
hist_col, formula_col = st.columns(2)
hist_col.plotly_chart(figs.histogram_figure(demo.output), key="conv_fig_hist")
with formula_col:
    st.markdown("**Output size**, per axis (p = padding, k = kernel size, d = dilation, s = stride):")
    st.latex(cv.size_formula("H", g.in_size[0], g.kernel[0], g.stride[0], g.padding[:2], g.dilation[0]))
    st.latex(cv.size_formula("W", g.in_size[1], g.kernel[1], g.stride[1], g.padding[2:], g.dilation[1]))
    st.markdown("**Each output value** (no flipping of the kernel: this is what PyTorch calls convolution):")
    st.latex(r"y_{i,j} = b + \sum_{c}\sum_{m}\sum_{n} x_{c,\; s i + d m - p,\; s j + d n - p}\; w_{c,m,n}")

if colour != "grey":
    st.subheader("Three colour channels, one feature map" if colour == "rgb" else "Three channels, three maps")
    names = ["R ∗ kernel", "G ∗ kernel", "B ∗ kernel"]
    if colour == "rgb":
        st.markdown("With `in_channels=3` the filter has one kernel slice per colour; the three results are "
                    "**added** (plus the bias) into one feature map.")
        maps, titles = np.concatenate([demo.per_channel, demo.pre_activation]), [*names, "= sum + bias"]
    else:
        st.markdown("With `groups=3` (depthwise) each colour keeps its own output channel: nothing is added.")
        maps, titles = demo.output, names
    st.plotly_chart(figs.maps_grid_figure(maps, titles), key="conv_fig_channels")

st.subheader("One output pixel, step by step")
row_col, col_col = st.columns(2)
if ho > 1:
    row_col.slider("Output row", 0, ho - 1, key="conv_row")
if wo > 1:
    col_col.slider("Output column", 0, wo - 1, key="conv_col")
st.plotly_chart(figs.step_figure(step, channel_names=None if colour == "grey" else ["R", "G", "B"]),
                key="conv_fig_step")
r, c = step.out_row, step.out_col
if colour == "depthwise":
    sums = ", ".join(f"{n} {step.products[i].sum() + bias:.4f}" for i, n in enumerate("RGB"))
    held = ", ".join(f"{demo.output[i, r, c]:.4f}" for i in range(3))
    st.markdown(f"Depthwise: each channel keeps its own sum, plus bias {bias:+.2f}: {sums}"
                f"{' before ReLU' if relu else ''}. The three maps hold **{held}** at row {r}, column {c}.")
else:
    after = f", then ReLU gives {max(step.total, 0.0):.4f}" if relu else ""
    st.markdown(
        f"Sum of the {step.products.size} products = **{step.products.sum():.4f}**, plus bias {bias:+.2f} = "
        f"**{step.total:.4f}**{after}. The feature map holds **{demo.output[0, r, c]:.4f}** at row {r}, "
        f"column {c}. Dotted cells read padding, not the picture."
    )
walk = cv.kernel_walk(np.moveaxis(demo.x if colour != "depthwise" else demo.x[:1], 0, -1), demo.output[0], (r, c),
                      kernel_size=g.kernel, stride=stride, padding=pad_arg, dilation=dilation, padding_mode=mode)
st.markdown("**Animate**: press ▶ to watch the kernel walk over a small block around this pixel"
            f"{' (red channel)' if colour == 'depthwise' else ''}.")
st.plotly_chart(figs.animation_figure(walk), key="conv_fig_walk")

st.subheader("A filter bank: several kernels, several feature maps")
bank = st.multiselect("Kernels in the bank", list(KERNELS), key="conv_bank", max_selections=8)
if bank:
    maps = run_safely(lambda: cv.filter_bank(to_grey(picked.image), [named_kernel(n) for n in bank], stride=stride,
                                          padding=pad_arg, dilation=dilation, padding_mode=mode),
                      what="run the filter bank")
    if maps is not None:
        st.caption(f"One `nn.Conv2d(1, {len(bank)})` layer on the greyscale picture: {len(bank)} filters give "
                   f"{len(bank)} feature maps. Smaller kernels are centred in zeros to the largest size.")
        st.plotly_chart(figs.maps_grid_figure(maps, bank), key="conv_fig_bank")
else:
    st.caption("Pick at least one kernel.")

try_this("Pick **Sobel x** on *Stripes at four angles*: which stripes light up? Then set stride 2 and watch "
         "the output shrink by half, or dilation 3 and see the same kernel look further away.")
pytorch_snippet(snippets.convolution_snippet(kernel, colour=colour, stride=stride, padding=pad_arg, dilation=dilation,
                                             padding_mode=mode, bias=bias, relu=relu))
url.publish()
