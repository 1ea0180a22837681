"""The "A whole CNN" page's widgets: the digit picker (test digit, drawing, upload), the unit picker, the unit's sums.

Usage on the page (after ``url = ShareableState("cnn")``)::

    source = digit_source(url)                      # "Test digit", "Draw" or "Upload"
    picked = digit_input(url, trained, source)      # DigitChoice: a (28, 28) image in [0, 1]
    layers, base = digit_network(dataset, seed, picked.image, trained)  # cached per digit
    pick = layer_control(url, layers)               # (layer, channel or unit, row, col), kept in its layer
    unit_panel(layers, pick, windows, base, fig.pick_frames(layers, base, pick, windows))  # network + arithmetic
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from html import escape

import numpy as np
import streamlit as st

from explainers import cnn
from explainers import formula_html as fh
from explainers.drawing import preprocess_drawing
from explainers.figures import cnn as fig
from explainers.figures import style
from explainers.images import ImageError, load_image
from explainers.training.cnn import run_layers
from pages.widgets.slider_panel import RangeControl, slider_panel
from pages.widgets.ui import ShareableState

SOURCES = ("Test digit", "Draw", "Upload")
INDEX_PANEL = "cnn_index_panel"  # the test image's range
NAMES = list(cnn.LAYER_NAMES)
KIND_HELP = {
    "input": "the digit itself: 28×28 pixels, ink 1, paper 0",
    "conv": "a convolution: each map slides its own small kernel over all the maps before it",
    "relu": "ReLU: negative numbers become 0, the rest pass unchanged",
    "maxpool": "max pooling: keeps the largest number of each 2×2 block",
    "flatten": "flatten: the 8 maps of 5×5 laid end to end, 200 numbers",
    "linear": "fully connected: each of the 10 outputs weighs all 200 numbers (one score per digit)",
    "softmax": "softmax: turns the 10 scores into probabilities that add up to 1",
}


@dataclass(frozen=True)
class DigitChoice:
    image: np.ndarray  # (28, 28) float32 in [0, 1], ink 1: what the network reads
    label: int | None  # the true class, for a test digit
    what: str  # for captions


@st.cache_data(max_entries=8, show_spinner=False)
def _decode(data: bytes) -> np.ndarray:
    return load_image(data, max_side=512, mode="L", background="contrast")  # white ink on a clear sheet shows


def _canvas() -> np.ndarray | None:
    """The drawable canvas -> RGBA array, or None when the component is unavailable."""
    try:
        from streamlit_drawable_canvas import st_canvas

        res = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=224,
                        width=224, return_image_data=True, key="cnn_canvas")
        return res.image_data
    except Exception as exc:  # noqa: BLE001 - a broken component must not break the page
        st.caption(f"The drawing canvas is unavailable here ({type(exc).__name__}); upload a picture instead.")
        return None


def digit_source(url: ShareableState) -> str:
    """Where the digit comes from: the test set, a drawing or an upload (one of ``SOURCES``)."""
    return st.segmented_control("Digit", SOURCES, key=url.bind("cnn_source", SOURCES[0], options=SOURCES),
                                required=True) or SOURCES[0]


def digit_input(url: ShareableState, trained, source: str) -> DigitChoice:
    """Test digit / drawing / upload -> DigitChoice (falls back to the test digit, with a one-line reason)."""
    n = len(trained.test_labels)
    key = url.bind("cnn_index", 0, lo=0, hi=n - 1)
    st.session_state[key] = min(int(st.session_state[key]), n - 1)  # another network's test set may be smaller
    if source == SOURCES[0]:  # a drawing or an upload replaces the test digit: no range to confuse
        # A browser-drawn range (pages/widgets/slider_panel.py): it moves at once under the key.
        slider_panel(INDEX_PANEL, [RangeControl(key, "Test image", 0, n - 1, 1, help="A digit from the test set: "
                                                "the network never saw it while training.")], "", layout="stack")
    index = int(st.session_state[key])
    label = int(trained.test_labels[index])
    fallback = DigitChoice(trained.test_images[index], label, f"test digit #{index} (a {trained.classes[label]})")
    if source == "Test digit":
        return fallback
    if source == "Draw":
        st.caption("Draw one digit, large, in the middle of the box. It is prepared like MNIST's digits: "
                   "cropped, fitted into 20×20 and centred in 28×28.")
        raw = _canvas()
    else:
        file = st.file_uploader("A picture of one digit (PNG, JPEG, …)", key="cnn_upload",
                                help="Dark ink on light paper or light on dark both work. It stays on this computer.")
        raw = None
        if file is not None:
            try:
                raw = _decode(file.getvalue())
            except ImageError as exc:
                st.error(f"{exc} Showing the test digit instead.", icon=":material/broken_image:")
                return fallback
    if raw is None:
        st.caption("Showing the test digit until there is something to read.")
        return fallback
    try:
        steps = preprocess_drawing(raw)
    except ValueError as exc:
        st.caption(f"Nothing to read yet ({exc}); showing the test digit.")
        return fallback
    return DigitChoice(steps.final, None, "your drawing" if source == "Draw" else "your picture")


# 24 digits × ~1.7 MB (the picture's pixels and the layers): ~40 MB at most for the whole server.
@st.cache_resource(show_spinner=False, max_entries=24)
def digit_network(dataset: str, seed: int, image: np.ndarray, _trained) -> tuple[tuple, fig.NetworkBase]:
    """(layers, the network picture without picks) for one digit through the (dataset, seed) network.

    Cached per digit for the whole server: moving Row or Column, or coming back to a test digit, then draws only
    the orange frames. Read-only (the picture's pixels are not writeable; nothing writes to the layers).
    ``_trained`` is the network of (dataset, seed), which are the cache key.
    """
    layers = run_layers(_trained.model, image)
    return layers, fig.network_base(layers, _trained.classes)


# ----------------------------------------------------------------------------- picking a unit


def _clamp(layers) -> tuple[int, int, int, int]:
    """Clamp the unit in session state to the chosen layer's shape (the layer may have just changed)."""
    s = st.session_state
    li = NAMES.index(s.cnn_layer)
    shape = layers[li].shape
    if len(shape) == 3:
        s.cnn_ch = min(int(s.cnn_ch), shape[0] - 1)
        s.cnn_row = min(int(s.cnn_row), shape[1] - 1)
        s.cnn_col = min(int(s.cnn_col), shape[2] - 1)
    else:
        s.cnn_unit = min(int(s.cnn_unit), shape[0] - 1)
    return _current()


def _current() -> tuple[int, int, int, int]:
    """(layer, channel or unit, row, col) from session state."""
    s = st.session_state
    li = NAMES.index(s.cnn_layer)
    if cnn.ARCH[li].spatial:
        return li, int(s.cnn_ch), int(s.cnn_row), int(s.cnn_col)
    return li, int(s.cnn_unit), 0, 0


def _clicked(picture: fig.NetworkPicture, target: str, x: float, y: float) -> None:
    """A click on the network picture (x, y: fractions of its size) picks the unit under it, layer included."""
    if target != "network":
        return
    w, h = picture.size
    hit = picture.unit_at(x * w, y * h)
    if hit is None:
        return
    li, ch, r, q = hit
    st.session_state.cnn_layer = NAMES[li]
    if cnn.ARCH[li].spatial:
        st.session_state.cnn_ch, st.session_state.cnn_row, st.session_state.cnn_col = ch, r, q
    else:
        st.session_state.cnn_unit = ch


def layer_control(url: ShareableState, layers) -> tuple[int, int, int, int]:
    """Bind the picked unit to the URL and keep it inside its layer -> (layer, channel or unit, row, col). The
    layer, channel, row and column (or unit) are ranges of the unit panel (``unit_controls``)."""
    url.bind("cnn_layer", "conv1", options=NAMES)
    url.bind("cnn_ch", 0, lo=0, hi=63)
    url.bind("cnn_row", 12, lo=0, hi=63)
    url.bind("cnn_col", 12, lo=0, hi=63)
    url.bind("cnn_unit", 0, lo=0, hi=999)
    return _clamp(layers)


LAYER = RangeControl.choices("cnn_layer", "Layer", NAMES,
                             help="Which layer the picked unit is in: the digit, conv → ReLU → max pool twice, "
                                  "flatten, the fully connected layer and softmax.")


def unit_controls(layers, li: int) -> list[RangeControl]:
    """The layer, then the picked layer's channel, row and column (a map) or unit (a vector): the panel's ranges."""
    shape = layers[li].shape
    if len(shape) == 3:
        return [LAYER, RangeControl("cnn_ch", "Channel", 0, shape[0] - 1, 1,
                                    help="Which map of this layer (each is one kernel's answer)."),
                RangeControl("cnn_row", "Row", 0, shape[1] - 1, 1), RangeControl("cnn_col", "Column", 0, shape[2] - 1, 1)]
    what = "Which number of this vector." if layers[li].kind == "flatten" else "Which digit's output."
    return [LAYER, RangeControl("cnn_unit", "Unit", 0, shape[0] - 1, 1, help=what)]


# ----------------------------------------------------------------------------- the network and the unit's sums


def _explain(layers, pick: tuple[int, int, int, int], windows) -> tuple[object | None, str, str]:
    """(SVG, plotly figure or None; formula as HTML; caption) for the picked unit, from the numbers on screen."""
    li, ch, r, q = pick
    layer, prev = layers[li], layers[li - 1] if li else None
    kind = layer.kind
    if kind == "input":
        return None, fh.formula(f"{fh.sub(fh.var('x'), f'{r},{q}')} = {float(layer.activation[0, r, q]):.3f}"), (
            "A pixel of the digit (0 is paper, 1 is ink). Every unit whose orange window covers it reads this number.")
    if kind == "conv":
        ws = cnn.conv_unit(prev.activation, layer.weight, layer.bias, ch, r, q)
        return fig.conv_sum_figure(ws, prev.name), cnn.conv_formula(ws, layer.name, ch, r, q), (
            f"{ws.terms} multiplications: a 3×3 window in each of the {ws.inputs.shape[0]} map(s) of {prev.name}, "
            f"times map {ch}'s kernel, plus its bias. The same kernel is used at every position of the map: "
            "parameter sharing.")
    if kind == "relu":
        return None, cnn.relu_formula(layer.name, prev.name, (ch, r, q), float(prev.activation[ch, r, q])), (
            "ReLU has no weights. It keeps what a kernel found (positive) and silences the rest.")
    if kind == "maxpool":
        window = cnn.maxpool_unit(prev.activation, ch, r, q)
        winner = np.unravel_index(int(np.argmax(window)), window.shape)
        return fig.window_figure(window, f"the 2×2 block of {prev.name}", winner), cnn.pool_formula(
            layer.name, (ch, r, q), window), (
            "No weights: pooling keeps the strongest answer of each block, so a feature that moves by a pixel "
            "inside its block gives the same output.")
    if kind == "flatten":
        c, rr, qq = cnn.flatten_index(ch, prev.shape)
        hw, w = prev.shape[1] * prev.shape[2], prev.shape[2]
        return None, fh.formula(f"flatten[{ch}] = {fh.text(prev.name)}[{c},{rr},{qq}]",
                                f"({ch} = {c} · {hw} + {rr} · {w} + {qq})"), (
            "Nothing is computed: the maps are read channel by channel, row by row, into one vector, so the "
            "fully connected layer can weigh every number.")
    if kind == "linear":
        ws = cnn.linear_unit(prev.activation, layer.weight, layer.bias, ch)
        top = cnn.top_terms(ws, 10)
        labels = [f"x{i} = pool2{list(cnn.flatten_index(int(i), layers[li - 2].shape))}" for i in range(ws.terms)]
        zeros = int((ws.inputs == 0).sum())
        return fig.linear_sum_figure(ws, top, labels), cnn.linear_formula(ws, ch, top), (
            f"{zeros} of the {ws.terms} inputs are exactly 0 (ReLU switched them off), so their terms add nothing. "
            f"This score is the logit of digit {ch}; softmax compares it with the other nine.")
    return None, cnn.softmax_formula(prev.activation, ch), (
        "Softmax makes every score positive (e to the power) and divides by the total, so the ten probabilities "
        "add up to 1. A bigger score gets exponentially more of the share.")


def unit_panel(layers, pick: tuple[int, int, int, int], windows, base: fig.NetworkBase,
               frames: list[style.Box]) -> None:
    """The clickable whole-network picture, then what the picked unit computes, with its real numbers.

    One browser panel (pages/widgets/slider_panel.py) holds the unit's controls, the network (a click picks the
    unit under it), the unit's value, its window on the input, its sum drawn as an SVG and its formula (HTML, patched
    in place with the rest); a plotly chart (the fully connected layer's terms) follows it.
    """
    li, ch, r, q = pick
    layer = layers[li]
    spatial = len(layer.shape) == 3
    what = f"{layer.name}[{ch}, {r}, {q}]" if spatial else f"{layer.name}[{ch}]"
    value = float(layer.activation[ch, r, q] if spatial else layer.activation[ch])
    figure, formula, caption = _explain(layers, pick, windows)
    first = windows[0]
    seen = "every input pixel a pool2 map can reach" if layer.kind in ("linear", "softmax") else "its window"
    # The digit's picture is encoded once (~55 kB, cached with it); a pick sends only its orange frames, an SVG laid
    # over it, so the browser keeps the picture on screen instead of decoding a new one (and Python draws no pixels).
    picture = base.picture
    network = style.figure_html(
        base.png, overlay=style.frames_svg(frames, picture.size), click="network",
        alt="The whole network, every layer's numbers as squares",
        caption=f"{cnn.shape_flow()}. Blue: positive, red: negative, white: 0 (one colour scale per conv → ReLU → "
                "pool block). Orange: the picked unit, and everything it depends on in the layers before it.")
    zoomed = fig.zoom_image(layers[0].activation[0], first, scale=8, signed=False)
    zoom = style.figure_html(fig.png_bytes(zoomed), f"On the input, {seen}: {first.size[0]}×{first.size[1]} pixels",
                             alt=f"The input digit, {seen} outlined", width=zoomed.shape[1])
    plotly = figure is not None and not isinstance(figure, str)  # the fully connected layer's terms: hover reads each
    beside = ("" if plotly or figure is None else figure) + ("" if plotly else f"<p class='nl-caption'>{escape(caption)}</p>")
    html = (f"{network}<p><b>{escape(what)} = {value:.3f}</b>: {escape(KIND_HELP[layer.kind])}.</p>"
            # The sum's SVG (up to ~490 px) goes under the input when the two do not fit side by side: shrunk
            # into what is left beside it, its numbers would be smaller than a projector shows (under 10 px).
            f"<div class='nl-columns nl-wrap'><div style='flex:0 0 auto'>{zoom}</div>"
            f"<div style='flex:1 1 31rem'>{beside}</div></div>{formula}")
    slider_panel("cnn_unit_panel", unit_controls(layers, li), html, layout="stack",
                 on_click=partial(_clicked, picture), announce=f"{what} = {value:.3f}")
    if plotly:
        st.plotly_chart(figure, key="cnn_unit_figure")
        st.caption(caption)
