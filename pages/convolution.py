"""Convolution: slide a kernel over your own picture with every Conv2d knob; numbers checked against PyTorch."""

from functools import partial

import numpy as np
import streamlit as st

from explainers import convolution as cv
from explainers import snippets
from explainers.figures import convolution as figs
from explainers.images import to_grey
from explainers.kernels import KERNELS
from explainers.kernels import kernel as named_kernel
from pages.widgets.image_input import clickable_picture, clicked_cell, image_input
from pages.widgets.kernel_input import kernel_input
from pages.widgets.ui import ShareableState, pytorch_snippet, run_safely, try_this

PADDINGS = ["0", "1", "2", "3", "4", "5", "6", "same"]
COLOUR_LABELS = {"grey": "Greyscale: Conv2d(1, 1)", "rgb": "RGB: Conv2d(3, 1)",
                 "depthwise": "Depthwise: Conv2d(3, 3, groups=3)"}
BANK = ["Sobel x", "Sobel y", "Laplacian", "Gaussian blur 5×5"]
TABS = ["Histogram", "Animate the kernel", "Filter bank"]


# Pure results keyed by their parameters (the picture by its key: hashing megabytes on every run costs more).
@st.cache_data(max_entries=16, show_spinner=False)
def _demo(key: str, _image: np.ndarray, kernel: tuple, colour: str, bias: float, relu: bool, stride: int,
          padding, dilation: int, mode: str) -> cv.KernelDemo:
    return cv.apply_kernel(_image, np.array(kernel), colour=colour, bias=bias, relu=relu, stride=stride,
                           padding=padding, dilation=dilation, padding_mode=mode)


@st.cache_data(max_entries=64, show_spinner=False)
def _input_png(key: str, _image: np.ndarray, colour: str, window: tuple) -> bytes:
    shown = to_grey(_image) if colour == "grey" else _image
    return figs.png_bytes(figs.window_picture(shown, window, min_side=256))


@st.cache_data(max_entries=64, show_spinner=False)
def _output_png(key: str, _output: np.ndarray, pixel: tuple[int, int]) -> bytes:
    if _output.shape[0] == 3:  # depthwise: three maps as R, G, B, 0 at mid-grey when signed
        lo, hi = figs.colour_limits(_output)
        rgb = 0.5 + _output / (2 * hi) if lo < 0 else _output / hi
        return figs.png_bytes(figs.upscale(figs.to_uint8(np.moveaxis(rgb, 0, -1)), 256)[0])
    return figs.png_bytes(figs.map_picture(_output[0], pixel=pixel, min_side=256)[0])


@st.cache_data(max_entries=8, show_spinner=False)
def _bank(key: str, _image: np.ndarray, names: tuple, stride: int, padding, dilation: int, mode: str) -> np.ndarray:
    return cv.filter_bank(to_grey(_image), [named_kernel(n) for n in names], stride=stride, padding=padding,
                          dilation=dilation, padding_mode=mode)


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

# Two columns, not three: at 1024 px (a projector) three would cut the toggles' labels.
picture_col, settings_col = st.columns(2, gap="medium")
kernel_col = picture_col
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
    relu = st.toggle("ReLU after the convolution", key="conv_relu", help="Negative outputs become 0.")
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

pad_arg = padding if padding == "same" else int(padding)
demo = run_safely(lambda: _demo(picked.key, picked.image, tuple(map(tuple, np.asarray(kernel, float))), colour,
                                bias, relu, stride, pad_arg, dilation, mode), what="apply these settings")
if demo is None:  # keep the picture on screen while the learner fixes the settings
    st.image(picked.image, caption=f"Input: {picked.label}. Change the settings above to see its feature map.",
             width=360, clamp=True)
    url.publish()
    st.stop()
g = cv.geometry(demo.x.shape, demo.weight.shape, stride, pad_arg, dilation, demo.groups)
ho, wo = g.out_size
for key, top in (("conv_row", ho - 1), ("conv_col", wo - 1)):
    state[key] = min(state[key], top)  # keep the chosen pixel inside a smaller output
run_key = f"{picked.key}|{kernel.tobytes().hex()}|{colour}|{bias}|{relu}|{stride}|{pad_arg}|{dilation}|{mode}"

st.subheader("Point at the feature map to see its arithmetic")
st.markdown(
    f"Shapes: input `(1, {g.c_in}, {g.in_size[0]}, {g.in_size[1]})` → `nn.Conv2d({g.c_in}, {g.c_out}, "
    f"kernel_size={g.kernel}, stride={stride}, padding={pad_arg!r}, dilation={dilation}, groups={g.groups})` → "
    f"output `(1, {g.c_out}, {ho}, {wo})`. Sizes read height × width."
)


def _pick(ho: int, wo: int) -> None:
    """A click on the feature map moves the row and column sliders to the clicked pixel."""
    cell = clicked_cell(state.get("conv_click"), ho, wo)
    if cell is not None:
        state.conv_row, state.conv_col = cell


@st.fragment
def pixel_panel(demo: cv.KernelDemo, run_key: str) -> None:
    """Input, clickable feature map and the picked pixel's multiply-and-sum, side by side (reruns alone)."""
    seen = demo.weight[:, 0] if colour == "depthwise" else demo.weight[0]  # (C_in, kH, kW): what one pixel sees
    step = cv.conv_step(demo.x, seen, state.conv_row, state.conv_col, bias=bias, stride=stride, padding=pad_arg,
                        dilation=dilation, padding_mode=mode)
    r, c = step.out_row, step.out_col
    left, middle, right = st.columns([1, 1, 1.3], gap="medium")
    left.image(_input_png(picked.key, picked.image, colour, figs.window_of(step)), width="stretch", output_format="PNG",
               caption=f"Input: {picked.label} ({g.in_size[0]}×{g.in_size[1]}); orange: the kernel's window")
    with middle:
        clickable_picture(_output_png(f"{run_key}|{r},{c}", demo.output, (r, c)), "conv_click", partial(_pick, ho, wo))
        if colour == "depthwise":
            st.caption(f"Output: 3 maps ({ho}×{wo}) shown as R, G, B; for signed maps mid-grey is 0. Click a pixel.")
        else:
            st.caption(f"Output: {kernel_name} ({ho}×{wo}). Click a pixel to see its sum.")
            st.html(figs.colour_key_html(figs.colour_limits(demo.output), "output value"))
            if figs.is_signed(demo.output):
                st.caption("Negative **red**, zero **white**, positive **blue**; turn on ReLU to clip negatives to 0.")
    with right:
        st.slider("Output row", 0, max(ho - 1, 1), key="conv_row", disabled=ho == 1)
        st.slider("Output column", 0, max(wo - 1, 1), key="conv_col", disabled=wo == 1)
        st.html(figs.step_html(step, channel_names=None if colour == "grey" else ["R", "G", "B"]))
        if colour == "depthwise":
            sums = ", ".join(f"{n} {cv.fmt(step.products[i].sum() + bias)}" for i, n in enumerate("RGB"))
            held = ", ".join(cv.fmt(demo.output[i, r, c]) for i in range(3))
            st.markdown(f"Depthwise: each channel keeps its own sum, plus bias {bias:+.2f}: {sums}"
                        f"{' before ReLU' if relu else ''}. The three maps hold **{held}** at row {r}, column {c}.")
        else:
            after = f", then ReLU gives {cv.fmt(max(step.total, 0.0))}" if relu else ""
            st.markdown(
                f"Sum of the {step.products.size} products = **{cv.fmt(step.products.sum())}**, plus bias "
                f"{bias:+.2f} = **{cv.fmt(step.total)}**{after}. The feature map holds "
                f"**{cv.fmt(demo.output[0, r, c])}** at row {r}, column {c}."
            )
        st.caption("Tables show 2 decimals; each product is rounded up or down so the shown products add up to "
                   "the shown sum. Dotted cells read padding, not the picture.")
        pytorch_snippet(snippets.convolution_snippet(
            kernel, colour=colour, stride=stride, padding=pad_arg, dilation=dilation, padding_mode=mode, bias=bias,
            relu=relu, pixel=(r, c), photo=picked.file_name or "your_photo.png"))
        if not picked.file_name:
            st.caption("The snippet reads a photo: upload the same file here and both print the same numbers.")
    url.publish()


pixel_panel(demo, run_key)

st.markdown("**Output size**, per axis (p = padding, k = kernel size, d = dilation, s = stride), and **each output "
            "value** (no flipping of the kernel: this is what PyTorch calls convolution):")
st.latex(cv.size_formula("H", g.in_size[0], g.kernel[0], g.stride[0], g.padding[:2], g.dilation[0]))
st.latex(cv.size_formula("W", g.in_size[1], g.kernel[1], g.stride[1], g.padding[2:], g.dilation[1]))
st.latex(r"y_{i,j} = b + \sum_{c}\sum_{m}\sum_{n} x_{c,\, s i + d m - p,\, s j + d n - p} \cdot w_{c,m,n}\;\;")

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
    st.caption("Colour key: each map on its own scale, red below 0, white at 0, blue above (grey if never negative).")

tab_hist, tab_walk, tab_bank = st.tabs(TABS, key=url.bind("conv_tab", TABS[0], options=TABS), on_change="rerun")
if tab_hist.open:  # lazy tabs: only the open one runs and is drawn
    with tab_hist:
        st.plotly_chart(figs.histogram_figure(demo.output), key="conv_fig_hist")
if tab_walk.open:
    with tab_walk:
        r, c = state.conv_row, state.conv_col
        walk = cv.kernel_walk(np.moveaxis(demo.x if colour != "depthwise" else demo.x[:1], 0, -1), demo.output[0],
                              (r, c), kernel_size=g.kernel, stride=stride, padding=pad_arg, dilation=dilation,
                              padding_mode=mode)
        st.markdown("**Animate**: press ▶ to watch the kernel walk over a small block around the picked pixel"
                    f"{' (red channel)' if colour == 'depthwise' else ''}.")
        st.plotly_chart(figs.animation_figure(walk), key="conv_fig_walk")
if tab_bank.open:
    with tab_bank:
        st.markdown("**A filter bank: several kernels, several feature maps**")
        bank = st.multiselect("Kernels in the bank", list(KERNELS), key="conv_bank", max_selections=8)
        if bank:
            maps = run_safely(lambda: _bank(picked.key, picked.image, tuple(bank), stride,
                                            pad_arg, dilation, mode), what="run the filter bank")
            if maps is not None:
                st.caption(f"One `nn.Conv2d(1, {len(bank)})` layer on the greyscale picture: {len(bank)} filters "
                           f"give {len(bank)} feature maps. Smaller kernels are centred in zeros to the largest size.")
                st.plotly_chart(figs.maps_grid_figure(maps, bank), key="conv_fig_bank")
                st.caption("Colour key: each map on its own scale, red below 0, white at 0, blue above.")
        else:
            st.caption("Pick at least one kernel.")

try_this("Pick **Sobel x** on *Stripes at four angles*: which stripes light up? Click a bright pixel of the "
         "feature map and read its sum. Then set stride 2 and watch the output shrink by half.")
url.publish()
