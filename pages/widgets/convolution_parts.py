"""Panels of the Convolution page, each an ``st.fragment``: a Conv2d setting reruns and redraws the results
only (not the picture and kernel pickers), and a picked output pixel reruns its arithmetic panel only.

Pictures are encoded once per setting (cached by their parameters): the page's sliders then cost a copy,
an outline and a JPEG/PNG encode, not a figure build.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explainers import convolution as cv
from explainers import snippets
from explainers.figures import convolution as figs
from explainers.figures import style
from explainers.images import to_grey
from explainers.kernels import KERNELS
from explainers.kernels import kernel as named_kernel
from pages.widgets.image_input import ImageChoice
from pages.widgets.lesson_tabs import lesson_tabs
from pages.widgets.slider_panel import RangeControl, slider_panel
from pages.widgets.ui import ShareableState, pytorch_snippet, run_safely

PADDINGS = ["0", "1", "2", "3", "4", "5", "6", "same"]
BANK = ["Sobel x", "Sobel y", "Laplacian", "Gaussian blur 5×5"]
TABS = ["Histogram", "Animate the kernel", "Filter bank"]


# Results shared read-only by every session (cache_resource: no pickled copy per run, which for a 512×512
# photo costs more than the lookup). Arrays are frozen so nobody can change a cached result in place.
@st.cache_resource(max_entries=16, show_spinner=False)
def _demo(key: str, _image: np.ndarray, kernel: tuple, colour: str, bias: float, relu: bool, stride: int,
          padding, dilation: int, mode: str) -> cv.KernelDemo:
    demo = cv.apply_kernel(_image, np.array(kernel), colour=colour, bias=bias, relu=relu, stride=stride,
                           padding=padding, dilation=dilation, padding_mode=mode)
    for a in (demo.x, demo.weight, demo.per_channel, demo.pre_activation, demo.output):
        a.flags.writeable = False
    return demo


@st.cache_resource(max_entries=8, show_spinner=False)
def _input_base(key: str, _image: np.ndarray, colour: str) -> tuple[np.ndarray, int]:
    """The input as shown (grey or colour), enlarged to 256 px: (uint8 picture, scale factor)."""
    shown = to_grey(_image) if colour == "grey" else _image
    return figs.upscale(figs.to_uint8(shown), 256)


# Encoded once per picture: a picked pixel lays its frames over them (style.frames_svg), so the browser keeps the
# pictures on screen and Python encodes nothing when the row or column moves.
@st.cache_resource(max_entries=8, show_spinner=False)
def _input_bytes(key: str, _image: np.ndarray, colour: str) -> bytes:
    pic, f = _input_base(key, _image, colour)
    return figs.picture_bytes(pic, photo=f == 1)


@st.cache_resource(max_entries=8, show_spinner=False)
def _output_base(run_key: str, _output: np.ndarray) -> tuple[np.ndarray, int]:
    """The feature map(s) as a picture: diverging/grey for one map, R, G, B for depthwise (0 mid-grey if signed)."""
    if _output.shape[0] == 3:
        return figs.upscale(figs.depthwise_picture(_output), 256)
    return figs.upscale(figs.colourise(_output[0]), 256)


@st.cache_resource(max_entries=8, show_spinner=False)
def _output_bytes(run_key: str, _output: np.ndarray) -> bytes:
    pic, f = _output_base(run_key, _output)
    return figs.picture_bytes(pic, photo=f == 1)


def _frame(picture: tuple[np.ndarray, int], box: style.Box) -> str:
    """An overlay of one orange frame for a (picture, scale) of _input_base or _output_base."""
    pic, _ = picture
    return style.frames_svg([box], (pic.shape[1], pic.shape[0]))


@st.cache_data(max_entries=16, show_spinner=False)
def _histogram(run_key: str, _output: np.ndarray) -> str:
    return figs.histogram_svg(_output)


@st.cache_data(max_entries=16, show_spinner=False)
def _previews(run_key: str, _maps: np.ndarray) -> list[bytes]:
    return [figs.png_bytes(p) for p in figs.map_previews(_maps)]


@st.cache_data(max_entries=8, show_spinner=False)
def _bank(key: str, _image: np.ndarray, names: tuple, stride: int, padding, dilation: int, mode: str) -> list[bytes]:
    maps = cv.filter_bank(to_grey(_image), [named_kernel(n) for n in names], stride=stride, padding=padding,
                          dilation=dilation, padding_mode=mode)
    return [figs.png_bytes(p) for p in figs.map_previews(maps)]


def _switches(url: ShareableState) -> None:
    """The section's heading, the padding mode and the ReLU switch (Streamlit widgets: ``results`` draws them, out
    of the panel's own fragment)."""
    st.markdown("**3. Conv2d settings**")
    mode_col, relu_col = st.columns(2, gap="medium", vertical_alignment="bottom")
    mode_col.selectbox("Padding mode", cv.PADDING_MODES,
                       key=url.bind("conv_padding_mode", "zeros", options=cv.PADDING_MODES),
                       help="zeros: black border; reflect: mirror; replicate: repeat the edge; circular: "
                            "wrap around.")
    relu_col.toggle("ReLU after the convolution", key=url.bind("conv_relu", False),
                    help="Negative outputs become 0.")


def _settings(url: ShareableState) -> tuple[int, str, str, int, float, bool]:
    """Bind the panel's Conv2d knobs to the URL -> (stride, padding, padding mode, dilation, bias, relu); stride,
    padding, dilation and bias are drawn by the panel (``SETTINGS``), the mode and ReLU by ``_switches``."""
    # Bound here, in the fragment that draws the panel, not at the top of the page: each rerun of the fragment
    # then sends these controls with their values. Bound only by the full run, a fragment rerun sent them
    # without, and a browser that had dropped its copy drew them at their minimum (padding 0, bias -1.00 under
    # a link that said 1 and 0: the rare CI failure of the shared-link test).
    for control in SETTINGS:
        control.bind(url, DEFAULTS[control.key])
    state = st.session_state
    return (int(state.conv_stride), state.conv_padding, state.conv_padding_mode, int(state.conv_dilation),
            float(state.conv_bias), bool(state.conv_relu))


SETTINGS = [  # the sliders of nn.Conv2d, in one browser-drawn panel with the shapes they give
    RangeControl("conv_stride", "Stride", 1, 4, 1, help="How many pixels the kernel jumps each step."),
    RangeControl.choices("conv_padding", "Padding", PADDINGS,
                         help="Pixels added around the picture; 0 is 'valid', 'same' keeps the size."),
    RangeControl("conv_dilation", "Dilation", 1, 4, 1, help="Gaps between the kernel's taps."),
    RangeControl("conv_bias", "Bias", -1.0, 1.0, 0.05, help="Added to every output value."),
]
DEFAULTS = {"conv_stride": 1, "conv_padding": "1", "conv_dilation": 1, "conv_bias": 0.0}


def _shapes_html(g: cv.ConvGeometry | None, stride: int, pad_arg) -> str:
    """The call these settings make, its input and output shapes, and the output size's formula with these numbers
    (HTML: it changes with every key press in the panel, which patches it in place), or why there is none."""
    if g is None:
        return "<p>No output: PyTorch refuses these settings (the message below says why).</p>"
    (ho, wo), dilation = g.out_size, g.dilation[0]
    sizes = [cv.size_formula(axis, g.in_size[i], g.kernel[i], g.stride[i], g.padding[2 * i:2 * i + 2], g.dilation[i])
             for i, axis in enumerate("HW")]
    return (f"<p>Shapes: input <code>(1, {g.c_in}, {g.in_size[0]}, {g.in_size[1]})</code> → <code>nn.Conv2d({g.c_in}, "
            f"{g.c_out}, kernel_size={g.kernel}, stride={stride}, padding={pad_arg!r}, dilation={dilation}, "
            f"groups={g.groups})</code> → output <code>(1, {g.c_out}, {ho}, {wo})</code>. Sizes read height × "
            "width.</p><p><b>Output size</b>, per axis (p = padding, k = kernel size, d = dilation, s = stride):</p>"
            + "".join(sizes))


@st.fragment
def results(url: ShareableState, picked: ImageChoice, kernel: np.ndarray, kernel_name: str, colour: str) -> None:
    """Conv2d settings, the feature map with its arithmetic, sizes, channels and the tabs (reruns alone)."""
    # Padding mode and ReLU are a menu and a switch; stride, padding, dilation and bias move in the panel under
    # them, which answers a key press at once (each Streamlit slider re-measures the page on every rerun).
    _switches(url)
    computed(url, picked, kernel, kernel_name, colour)


# A fragment inside ``results``: a key press in the settings panel reruns this alone, so the browser does not
# redraw the menu and the switch above it; changing either reruns ``results``, and this with it.
@st.fragment
def computed(url: ShareableState, picked: ImageChoice, kernel: np.ndarray, kernel_name: str, colour: str) -> None:
    """The settings panel, the feature map with its arithmetic, sizes, channels and the tabs."""
    state = st.session_state
    stride, padding, mode, dilation, bias, relu = _settings(url)
    settings_slot = st.container()  # the panel, drawn once the shapes are known; a refusal's message goes under it
    pad_arg = padding if padding == "same" else int(padding)
    demo = run_safely(lambda: _demo(picked.key, picked.image, tuple(map(tuple, np.asarray(kernel, float))), colour,
                                    bias, relu, stride, pad_arg, dilation, mode), what="apply these settings")
    g = None if demo is None else cv.geometry(demo.x.shape, demo.weight.shape, stride, pad_arg, dilation, demo.groups)
    with settings_slot:
        slider_panel("conv_settings", SETTINGS, _shapes_html(g, stride, pad_arg), layout="stack",
                     announce=f"Output {g.out_size[0]} by {g.out_size[1]}" if g else "No output for these settings")
    if demo is None:  # keep the picture on screen while the learner fixes the settings
        st.image(picked.image, caption=f"Input: {picked.label}. Change the settings above to see its feature map.",
                 width=360, clamp=True)
        url.publish()
        return
    ho, wo = g.out_size
    for key, top in (("conv_row", ho - 1), ("conv_col", wo - 1)):
        state[key] = min(state[key], top)  # keep the chosen pixel inside a smaller output
    run_key = f"{picked.key}|{kernel.tobytes().hex()}|{colour}|{bias}|{relu}|{stride}|{pad_arg}|{dilation}|{mode}"
    st.subheader("Point at the feature map to see its arithmetic")
    settings = {"colour": colour, "stride": stride, "padding": pad_arg, "dilation": dilation, "padding_mode": mode,
                "bias": bias, "relu": relu}
    pixel_panel(url, picked, demo, g, run_key, kernel, kernel_name, settings)
    if colour != "grey":
        channels(demo, colour, run_key)
    tabs(url, picked, demo, g, settings, run_key)
    url.publish()


def _arithmetic_html(step: cv.ConvStep, demo: cv.KernelDemo, colour: str, bias: float, relu: bool) -> str:
    """The picked pixel's tables and its sum in words (HTML): what the panel shows beside the pictures."""
    r, c = step.out_row, step.out_col
    tables = figs.step_html(step, channel_names=None if colour == "grey" else ["R", "G", "B"])
    if colour == "depthwise":
        sums = ", ".join(f"{n} {cv.fmt(step.products[i].sum() + bias)}" for i, n in enumerate("RGB"))
        held = ", ".join(cv.fmt(demo.output[i, r, c]) for i in range(3))
        text = (f"Depthwise: each channel keeps its own sum, plus bias {bias:+.2f}: {sums}"
                f"{' before ReLU' if relu else ''}. The three maps hold <b>{held}</b> at row {r}, column {c}.")
    else:
        after = f", then ReLU gives {cv.fmt(max(step.total, 0.0))}" if relu else ""
        text = (f"Sum of the {step.products.size} products = <b>{cv.fmt(step.products.sum())}</b>, plus bias "
                f"{bias:+.2f} = <b>{cv.fmt(step.total)}</b>{after}. The feature map holds "
                f"<b>{cv.fmt(demo.output[0, r, c])}</b> at row {r}, column {c}.")
    return (f"{tables}<p>{text}</p><p class='nl-caption'>Tables show 2 decimals; each product is rounded up or "
            "down so the shown products add up to the shown sum. Dotted cells read padding, not the picture.</p>")


@st.fragment
def pixel_panel(url: ShareableState, picked: ImageChoice, demo: cv.KernelDemo, g: cv.ConvGeometry, run_key: str,
                kernel: np.ndarray, kernel_name: str, settings: dict) -> None:
    """Input, clickable feature map and the picked pixel's multiply-and-sum, side by side (reruns alone).

    One browser panel (pages/widgets/slider_panel.py): the row and column move as the key is pressed, a click
    on the map picks its pixel, and the pictures and sums are the ones computed here.
    """
    state = st.session_state
    colour, bias, relu = settings["colour"], settings["bias"], settings["relu"]
    (ho, wo), pad_arg = g.out_size, settings["padding"]
    seen = demo.weight[:, 0] if colour == "depthwise" else demo.weight[0]  # (C_in, kH, kW): what one pixel sees
    step = cv.conv_step(demo.x, seen, int(state.conv_row), int(state.conv_col), bias=bias, stride=settings["stride"],
                        padding=pad_arg, dilation=settings["dilation"], padding_mode=settings["padding_mode"])
    r, c = step.out_row, step.out_col
    pick = ("conv_row", "conv_col", ho, wo)  # a click on the feature map moves both ranges to its pixel
    label = picked.label
    shown = _input_base(picked.key, picked.image, colour)
    shown_in = style.figure_html(
        _input_bytes(picked.key, picked.image, colour), alt=f"Input: {label}",
        caption=f"Input: {label} ({g.in_size[0]}×{g.in_size[1]}); orange: the kernel's window",
        overlay=_frame(shown, figs.window_box(shown[1], figs.window_of(step))))
    if colour == "depthwise":  # three maps in one picture: no pixel frame (its tables say which pixel)
        output = style.figure_html(
            _output_bytes(run_key, demo.output), pick=pick, alt="The three output maps",
            caption=f"Output: 3 maps ({ho}×{wo}) shown as R, G, B; for signed maps mid-grey is 0. Click a pixel.")
    else:
        maps = _output_base(run_key, demo.output)
        signed = ("<p class='nl-caption'>Negative <b>red</b>, zero <b>white</b>, positive <b>blue</b>; turn on ReLU "
                  "to clip negatives to 0.</p>") if figs.is_signed(demo.output) else ""
        output = style.figure_html(
            _output_bytes(run_key, demo.output), overlay=_frame(maps, figs.pixel_box(maps[1], (r, c))), pick=pick,
            alt=f"Output feature map: {kernel_name}",
            caption=f"Output: {kernel_name} ({ho}×{wo}). Click a pixel to see its sum.",
            after=figs.colour_key_html(figs.colour_limits(demo.output), "output value") + signed)
    arithmetic = _arithmetic_html(step, demo, colour, bias, relu)
    picture = (f"<div class='nl-columns'><div>{shown_in}</div><div>{output}</div>"
               f"<div style='--nl-grow:1.3'>{arithmetic}</div></div>")
    slider_panel("conv_pixel", [RangeControl("conv_row", "Output row", 0, ho - 1, 1),
                                RangeControl("conv_col", "Output column", 0, wo - 1, 1)], picture,
                 layout="stack", announce=f"Row {r}, column {c}: "
                 + ("the three maps hold " if colour == "depthwise" else "the feature map holds ")
                 + ", ".join(cv.fmt(v) for v in demo.output[:, r, c]))
    pytorch_snippet(lambda: snippets.convolution_snippet(kernel, pixel=(r, c), **settings,
                                                         photo=picked.file_name or "your_photo.png"))
    if not picked.file_name:
        st.caption("The snippet reads a photo: upload the same file here and both print the same numbers.")
    url.publish()


def channels(demo: cv.KernelDemo, colour: str, run_key: str) -> None:
    """RGB: the three per-colour results and their sum; depthwise: the three separate maps (pictures, no hover)."""
    st.subheader("Three colour channels, one feature map" if colour == "rgb" else "Three channels, three maps")
    names = ["R ∗ kernel", "G ∗ kernel", "B ∗ kernel"]
    if colour == "rgb":
        st.markdown("With `in_channels=3` the filter has one kernel slice per colour; the three results are "
                    "**added** (plus the bias) into one feature map.")
        maps, titles = np.concatenate([demo.per_channel, demo.pre_activation]), [*names, "= sum + bias"]
    else:
        st.markdown("With `groups=3` (depthwise) each colour keeps its own output channel: nothing is added.")
        maps, titles = demo.output, names
    st.image(_previews(f"{run_key}|{colour}", maps), caption=titles, width=220)
    st.caption("Colour key: each map on its own scale, red below 0, white at 0, blue above (grey if never negative).")


def tabs(url: ShareableState, picked: ImageChoice, demo: cv.KernelDemo, g: cv.ConvGeometry, settings: dict,
         run_key: str) -> None:
    """Histogram, the kernel-walk animation and a filter bank: lazy tabs, only the open one runs and is drawn."""
    colour, mode, pad_arg = settings["colour"], settings["padding_mode"], settings["padding"]
    stride, dilation = settings["stride"], settings["dilation"]
    part = lesson_tabs(url, "conv_tab", TABS)
    if part == TABS[0]:
        # An SVG we built, with its caption, as the picture of a panel with no ranges: patched in place on a key
        # press above (only the bars that moved), not parsed again as markdown (about 10% of a Stride or Bias change).
        slider_panel("conv_hist", [], _histogram(run_key, demo.output) + "<p class='nl-caption'>Hover a bar to read "
                     "its count. Flat areas pile up at one value: the count axis is logarithmic.</p>", layout="stack")
    elif part == TABS[1]:
        r, c = st.session_state.conv_row, st.session_state.conv_col
        walk = cv.kernel_walk(np.moveaxis(demo.x if colour != "depthwise" else demo.x[:1], 0, -1),
                              demo.output[0], (r, c), kernel_size=g.kernel, stride=stride, padding=pad_arg,
                              dilation=dilation, padding_mode=mode)
        st.markdown("**Animate**: press ▶ to watch the kernel walk over a small block around the picked pixel"
                    f"{' (red channel)' if colour == 'depthwise' else ''}.")
        st.plotly_chart(figs.animation_figure(walk), key="conv_fig_walk")
    else:
        st.markdown("**A filter bank: several kernels, several feature maps**")
        bank = st.multiselect("Kernels in the bank", list(KERNELS), key="conv_bank", max_selections=8)
        if not bank:
            st.caption("Pick at least one kernel.")
            return
        pictures = run_safely(lambda: _bank(picked.key, picked.image, tuple(bank), stride, pad_arg, dilation,
                                            mode), what="run the filter bank")
        if pictures is not None:
            st.caption(f"One `nn.Conv2d(1, {len(bank)})` layer on the greyscale picture: {len(bank)} filters "
                       f"give {len(bank)} feature maps. Smaller kernels are centred in zeros to the largest size.")
            st.image(pictures, caption=bank, width=220)
            st.caption("Colour key: each map on its own scale, red below 0, white at 0, blue above.")
