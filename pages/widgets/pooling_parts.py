"""Panels of the Pooling page, each an ``st.fragment``: a pooling-layer slider reruns and redraws the layer's
results only (not the picture pickers and formulas above), and a picked output cell reruns its panel only.

Pictures are encoded once per setting (cached by their parameters); the tabs that keep plotly are the ones
whose hover teaches (indices, gradients, changes, the pyramid's values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explainers import pooling as pl
from explainers import snippets
from explainers.figures import convolution as cfig
from explainers.figures import pooling as fig
from explainers.figures import style
from explainers.kernels import KERNELS
from pages.widgets.image_input import ImageChoice
from pages.widgets.lesson_tabs import lesson_tabs
from pages.widgets.slider_panel import RangeControl, slider_panel
from pages.widgets.ui import ShareableState, pytorch_snippet, run_safely, try_this

TABS = ["Pick an output cell", "Indices (return_indices)", "Gradient routing", "Shift the picture",
        "Pyramid 28 → 14 → 7"]


@dataclass(frozen=True)
class Detector:
    """What gets pooled: the picture at the working size and its conv -> ReLU block (or the picture itself)."""

    picked: ImageChoice
    size: int
    kname: str | None  # the convolution kernel's name; None pools the picture itself
    grey: np.ndarray  # (size, size)
    block: pl.DetectorBlock

    @property
    def kernel(self) -> np.ndarray | None:
        return KERNELS[self.kname].weights if self.kname else None


# Shared read-only by every session (no pickled copy per run); arrays are frozen against edits in place.
@st.cache_resource(max_entries=16, show_spinner=False)
def _detector(key: str, _picked: ImageChoice, size: int, kname: str | None) -> Detector:
    grey = pl.to_working(_picked.image, size)
    block = pl.detector_block(grey, KERNELS[kname].weights if kname else None)
    for a in (grey, block.image, block.conv, block.relu):
        if a is not None:
            a.flags.writeable = False
    return Detector(_picked, size, kname, grey, block)


def detector(picked: ImageChoice, size: int, kname: str | None) -> Detector:
    """The picture at the working size and its conv -> ReLU block (cached by the picture's key, not its pixels)."""
    return _detector(picked.key, picked, size, kname)


@st.cache_data(max_entries=32, show_spinner=False)
def _pool(key: str, _feature: np.ndarray, k: int, s: int, p: int, d: int, ceil_mode: bool, cip: bool
          ) -> tuple[pl.PoolResult, pl.PoolResult]:
    return pl.pool_both(_feature, k, s, p, d, ceil_mode, cip)


@st.cache_data(max_entries=32, show_spinner=False)
def _block_png(key: str, _panels: list) -> tuple[bytes, list[tuple[float, float]]]:
    pictures = fig.panel_pictures(_panels)
    return cfig.png_bytes(fig.block_strip([pic for pic, _ in pictures])), [lim for _, lim in pictures]


# Encoded once per setting: a picked cell lays its frame over it (style.frames_svg), so the browser keeps the map
# on screen and Python encodes nothing when the row or column moves.
@st.cache_resource(max_entries=16, show_spinner=False)
def _pooled_map(key: str, _pooled: np.ndarray) -> tuple[bytes, int, tuple[int, int]]:
    """The max-pooled map as a picture: (PNG, scale factor, its (width, height) in pixels)."""
    pic, f = cfig.map_picture(_pooled, limits=cfig.colour_limits(_pooled), min_side=256)
    return cfig.png_bytes(pic), f, (pic.shape[1], pic.shape[0])


@st.cache_data(max_entries=128, show_spinner=False)
def _window_png(key: str, kind: str, cell: tuple[int, int], _feature: np.ndarray, _cw: pl.CellWindow, p: int
                ) -> bytes:
    return cfig.png_bytes(fig.window_picture(_feature, _cw, (p, p)))


@st.cache_data(max_entries=16, show_spinner=False)
def _tally(key: str, _grey: np.ndarray, kname: str | None, _mx: pl.PoolSettings, _av: pl.PoolSettings) -> pl.ShiftTally:
    return pl.shift_tally(_grey, KERNELS[kname].weights if kname else None, _mx, _av)


SETTINGS = [  # the sliders of nn.MaxPool2d, in one browser-drawn panel with what they make
    RangeControl("pool_k", "Kernel size k", 1, 6, 1, help="The window's side, in pixels."),
    RangeControl("pool_s", "Stride s", 1, 6, 1, help="How far the window jumps between outputs."),
    RangeControl("pool_p", "Padding p", 0, 3, 1, help="Added around the map: −∞ for max, 0 for average."),
    RangeControl("pool_d", "Dilation d (max only)", 1, 3, 1, help="Gaps between the window's pixels."),
]
DEFAULTS = {"pool_k": 2, "pool_s": 2, "pool_p": 0, "pool_d": 1}


def _switches(url: ShareableState) -> None:
    """The section's heading and the layer's two switches (Streamlit widgets: ``layer`` draws them, out of the
    panel's own fragment)."""
    st.markdown("**The pooling layer**")
    t1, t2 = st.columns(2, gap="medium")
    t1.toggle("ceil_mode", key=url.bind("pool_ceil", False),
              help="Round the output size up: a last, partial window is kept.")
    t2.toggle("count_include_pad", key=url.bind("pool_cip", True),
              help="Average pooling: divide by the whole window, padding included, or only by the real pixels.")


def _settings(url: ShareableState) -> tuple[int, int, int, int, bool, bool]:
    """Bind the pooling layer's knobs -> (k, s, p, d, ceil_mode, count_include_pad); k, s, p and d are drawn by
    the panel (``SETTINGS``), the switches by ``_switches``."""
    for control in SETTINGS:
        control.bind(url, DEFAULTS[control.key])
    k, s, p, d = (int(st.session_state[c.key]) for c in SETTINGS)
    return k, s, p, d, bool(st.session_state.pool_ceil), bool(st.session_state.pool_cip)


def _layer_html(png: bytes, panels: list, limits: list, pooled: tuple | None) -> str:
    """The conv -> ReLU -> pool strip with one colour key per scale and, when PyTorch accepts the settings, the
    output sizes as big numbers."""
    caption = "  ·  ".join(t for t, _, _ in panels)
    keys = {kind: lim for (_, _, kind), lim in zip(panels, limits) if kind != "image"}  # one key per scale
    key_html = "<div class='nl-columns' style='gap:24px'>" + "".join(
        f"<div>{cfig.colour_key_html(lim, 'conv (signed)' if kind == 'signed' else 'ReLU and pooled maps')}</div>"
        for kind, lim in keys.items()) + "</div>"
    html = style.figure_html(png, caption, alt="The picture, its convolution, ReLU and both poolings, side by side",
                             after=key_html)
    if pooled is None:
        return html
    mx, av = pooled
    return html + style.metrics_html([
        ("Max pooling output", f"{mx.output.shape[1]}×{mx.output.shape[2]}", ""),
        ("Average pooling output", f"{av.output.shape[1]}×{av.output.shape[2]}",
         "Average pooling has no dilation, so with d > 1 its output can be larger."),
        ("Parameters to learn", "0", "")])


@st.fragment
def layer(url: ShareableState, det: Detector, kernel_name: str) -> None:
    """The pooling layer's knobs, the conv -> ReLU -> pool strip, the sizes and the tabs (reruns alone)."""
    _switches(url)
    pooled_layer(url, det, kernel_name)


# A fragment inside ``layer``: a key press in the panel of k, s, p and d reruns this alone, so the browser does
# not redraw the two switches above it; flipping one reruns ``layer``, and this with it.
@st.fragment
def pooled_layer(url: ShareableState, det: Detector, kernel_name: str) -> None:
    """The panel of k, s, p and d with the conv -> ReLU -> pool strip, the sizes, the tabs and the snippet."""
    k, s, p, d, ceil_mode, cip = _settings(url)
    block, size, kname = det.block, det.size, det.kname
    key = f"{det.picked.key}|{size}|{kname or ''}"
    panel_slot = st.container()  # the panel, drawn once the strip is known; a refusal's message goes under it
    pooled = run_safely(lambda: _pool(key, block.feature, k, s, p, d, ceil_mode, cip), what="pool with these settings")
    panels = [(f"picture, grey 1×{size}×{size}", block.image[0], "image")]
    if block.conv is not None:
        panels += [(f"→ conv ({kname}) 1×{size}×{size}", block.conv[0], "signed"),
                   (f"→ ReLU 1×{size}×{size}", block.relu[0], "map")]
    if pooled:
        mx, av = pooled
        panels += [(f"→ max pool 1×{mx.output.shape[1]}×{mx.output.shape[2]}", mx.output[0], "map"),
                   (f"or avg pool 1×{av.output.shape[1]}×{av.output.shape[2]}", av.output[0], "map")]
    settings_key = f"{key}|{k},{s},{p},{d},{ceil_mode},{cip}"
    png, limits = _block_png(settings_key, panels)
    # k, s, p and d with the strip and the output sizes in one browser-drawn panel: a key press answers at once
    # (each Streamlit slider re-measures the page on every rerun, and this page had four).
    # The size formula with these numbers sits in the panel too: patched in place with the strip, not typeset again
    # by KaTeX as an element of its own on every key press.
    sizes = "" if not pooled else pl.size_formula(size, k, s, p, d, ceil_mode) + (
        "<p class='nl-caption'>The − 1: rounding up would add a window that starts in the right padding, and PyTorch "
        "drops it (every window must start inside the image or the left padding).</p>"
        if ceil_mode and pl.ceil_drops_last_window(size, k, s, p, d) else "")
    with panel_slot:
        slider_panel("pool_settings", SETTINGS, _layer_html(png, panels, limits, pooled) + sizes, layout="stack",
                     announce=f"Max pooling output {mx.output.shape[1]} by {mx.output.shape[2]}, average "
                              f"{av.output.shape[1]} by {av.output.shape[2]}" if pooled else "No output")
    if not pooled:
        st.info("PyTorch refuses these settings too. Lower the padding or the kernel size to carry on.",
                icon=":material/tune:")
        url.publish()
        return
    tabs(url, det, mx, av, settings_key, p)
    pytorch_snippet(lambda: snippets.pooling_snippet(size, det.kernel, kernel_name, k, s, p, d, ceil_mode, cip))
    url.publish()


@st.fragment
def cell_panel(url: ShareableState, feature: np.ndarray, mx: pl.PoolResult, av: pl.PoolResult, key: str, p: int,
               size: int) -> None:
    """Click (or slide to) an output cell: its window and arithmetic beside the map (reruns alone).

    One browser panel (pages/widgets/slider_panel.py): the row and column move as the key is pressed, a click
    on the map picks its cell, and the pictures and sums are the ones computed here.
    """
    _, ho, wo = mx.settings.out_shape
    oh, ow = int(st.session_state.pool_row), int(st.session_state.pool_col)  # inside the map: tabs() clamps them
    cells = {"max": pl.cell_window(feature[None], mx, 0, oh, ow)}
    cells["avg"] = pl.cell_window(feature[None], av, 0, min(oh, av.output.shape[1] - 1),
                                  min(ow, av.output.shape[2] - 1))
    png, scale, shape = _pooled_map(key, mx.output[0])
    pooled_map = style.figure_html(
        png, f"Max-pooled map ({ho}×{wo}): click a cell to see its window.",
        overlay=style.frames_svg([cfig.pixel_box(scale, (oh, ow))], shape),
        alt=f"Max-pooled map, {ho} by {wo}", pick=("pool_row", "pool_col", ho, wo),
        after=cfig.colour_key_html(cfig.colour_limits(mx.output[0]), "value"))
    sums, windows = [], []  # windows: pictures and tables, not plotly (this panel redraws on every pick)
    for kind, cw in cells.items():
        label = "Max pooling" if kind == "max" else "Average pooling"
        sums.append(f"<p><b>{label}</b>, output ({oh}, {ow}):<br>{style.bold_html(pl.describe_cell(cw, size))}</p>")
        windows.append("<div>" + style.figure_html(
            _window_png(key, kind, (oh, ow), feature, cw, p), alt=f"{label}: the window of output ({oh}, {ow})",
            caption=f"{label}: the window of output ({oh}, {ow}) on the map (grey ring: padding"
                    f"{'; red: the winner' if kind == 'max' else ''})",
            after=fig.window_values_html(cw)) + "</div>")
    picture = (f"<div class='nl-columns'><div>{pooled_map}</div><div style='--nl-grow:2'>{''.join(sums)}</div></div>"
               f"<div class='nl-columns' style='gap:3rem'>{''.join(windows)}</div>")
    slider_panel("pool_cell", [RangeControl("pool_row", "Output row", 0, ho - 1, 1),
                               RangeControl("pool_col", "Output column", 0, wo - 1, 1)], picture,
                 layout="stack",
                 announce=f"Output ({oh}, {ow}): max {pl.fmt(cells['max'].output)}, "
                          f"average {pl.fmt(cells['avg'].output)}")
    url.publish()


def tabs(url: ShareableState, det: Detector, mx: pl.PoolResult, av: pl.PoolResult, settings_key: str, p: int) -> None:
    """Five lazy tabs: only the open one runs and is drawn, so a slider move redraws one tab, not five."""
    part = lesson_tabs(url, "pool_tab", TABS)
    feature = det.block.feature[0]
    _, ho, wo = mx.settings.out_shape
    for key, hi, start in zip(("pool_row", "pool_col"), (ho - 1, wo - 1), pl.strongest_cell(mx)):
        url.bind(key, start, lo=0, hi=63)
        st.session_state[key] = min(int(st.session_state[key]), hi)  # the output may have shrunk
    if part == TABS[0]:
        cell_panel(url, feature, mx, av, settings_key, p, det.size)
        try_this("Turn padding up to 1 and pick cell (0, 0): the max ignores the −∞ padding, while the average "
                 "counts the zeros unless you switch count_include_pad off.")
    elif part == TABS[1]:
        st.markdown("`F.max_pool2d(x, ..., return_indices=True)` also says **where** each maximum came from: "
                    "the position in the flattened H×W map, row·W + column. `MaxUnpool2d` uses it to undo pooling.")
        st.plotly_chart(fig.indices_figure(mx, pl.winner_offsets(mx), pl.win_counts(mx)[0], feature),
                        key="pool_indices")
        st.caption("Where a window is flat (all zeros), every value ties and PyTorch keeps the first one it "
                   "scans: the top-left pixel of the window.")
        try_this("Set stride 1 with kernel 3: windows overlap, so one strong pixel can win many windows.")
    elif part == TABS[2]:
        gradients(url, feature, mx, av)
    elif part == TABS[3]:
        shift(url, det, mx, av, settings_key)
    else:
        pyramid(det)


def gradients(url: ShareableState, feature: np.ndarray, mx: pl.PoolResult, av: pl.PoolResult) -> None:
    """Where the gradient goes back through max and average pooling."""
    oh, ow = st.session_state["pool_row"], st.session_state["pool_col"]
    st.markdown("Backpropagation through pooling has nothing to learn; it only routes the gradient. "
                "Max sends each output's gradient to the one pixel that won; average spreads it evenly.")
    st.latex(r"\frac{\partial L}{\partial x_{ab}} = \sum_{ij:\,(a,b)\text{ won } W_{ij}} \frac{\partial L}{\partial y_{ij}}"
             r"\qquad \frac{\partial L}{\partial x_{ab}} = \sum_{ij:\,(a,b)\in W_{ij}} \frac{1}{|W_{ij}|}\frac{\partial L}{\partial y_{ij}}")
    only_cell = st.toggle(f"Upstream gradient 1 only at output ({oh}, {ow}), the cell picked in the first tab "
                          "(off: 1 at every output)", key=url.bind("pool_gradcell", True))
    grads = []
    for res in (mx, av):
        g = np.zeros(res.output.shape) if only_cell else np.ones(res.output.shape)
        if only_cell:
            g[0, min(oh, g.shape[1] - 1), min(ow, g.shape[2] - 1)] = 1.0
        grads.append(pl.pool2d_backward(g, res)[0])
    st.plotly_chart(fig.gradient_figure(feature, [("∂L/∂x through max pooling", grads[0]),
                                                  ("∂L/∂x through average pooling", grads[1])]), key="pool_grads")
    st.caption(f"Max: {int((grads[0] > 0).sum())} of {feature.size} input pixels get any gradient. "
               f"Average: {int((grads[1] > 0).sum())} of {feature.size}.")


def shift(url: ShareableState, det: Detector, mx: pl.PoolResult, av: pl.PoolResult, settings_key: str) -> None:
    """Shift the picture: how much the map changes before and after each pooling."""
    st.markdown("Move the picture a few pixels. The detector map moves with it, so almost every value changes. "
                "Max pooling reports only the strongest value in each window, so a feature that moves but stays "
                "inside its window gives the same output: the pooled map changes less.")
    a1, a2 = st.columns(2)
    dx = a1.slider("Shift right (pixels)", 0, 4, key=url.bind("pool_dx", 1, lo=0, hi=4))
    dy = a2.slider("Shift down (pixels)", 0, 4, key=url.bind("pool_dy", 0, lo=0, hi=4))
    tests = {kind: pl.shift_test(det.grey, det.kernel, dy, dx, res.settings) for kind, res in (("max", mx), ("avg", av))}
    n1, n2, n3 = st.columns(3)
    n1.metric("Change before pooling", f"{tests['max'].change_feature:.0%}")
    n2.metric("Change after max pooling", f"{tests['max'].change_pooled:.0%}")
    n3.metric("Change after average pooling", f"{tests['avg'].change_pooled:.0%}")
    st.caption("Change = ‖map(shifted) − map(original)‖ / ‖map(original)‖, compared at the same positions. "
               "The pictures below share one colour scale.")
    tally = _tally(settings_key, det.grey, det.kname, mx.settings, av.settings)
    n = len(tally.shifts)
    both = int(((tally.change_max < tally.change_feature) & (tally.change_avg < tally.change_feature)).sum())
    verdict = (f"Over all {n} shifts of up to 4 pixels, max pooling changed less than average pooling in "
               f"**{tally.max_wins} of {n}**, and both changed less than the unpooled map in {both}.")
    if tally.max_wins * 2 <= n:  # say so honestly when this picture does not show the textbook claim
        verdict += (" **Here average pooling is as steady or steadier**: max pooling's edge comes from strong, "
                    "isolated features (edges, strokes); on smooth pictures like a gradient every window is "
                    "much alike and averaging smooths the shift away. Try *Scene with edges* or *Text*.")
    st.markdown(verdict)
    mt, at = tests["max"], tests["avg"]
    st.plotly_chart(fig.maps_row([("|Δ| before pooling", np.abs(mt.feature_shifted - mt.feature)[0], "change"),
                                  ("|Δ| after max pooling", np.abs(mt.pooled_shifted - mt.pooled)[0], "change"),
                                  ("|Δ| after average pooling", np.abs(at.pooled_shifted - at.pooled)[0], "change")]),
                    key="pool_shift")


def pyramid(det: Detector) -> None:
    """28 -> 14 -> 7 with max and with average pooling: what survives two poolings."""
    st.markdown("MNIST networks pool twice: 28×28 → 14×14 → 7×7. Each step keeps a quarter of the numbers. "
                "What survives is *whether* a feature was in each 4×4 block; *where* inside the block is lost. "
                "Max keeps the strongest responses bright; average dilutes a thin stroke with its dark neighbours.")
    small = pl.detector_block(pl.to_working(det.picked.image, 28), det.kernel).feature
    levels = {kind: [m[0] for m in pl.pyramid(small, kind, 2)] for kind in ("max", "avg")}
    st.plotly_chart(fig.pyramid_figure(levels), key="pool_pyramid")
    st.caption(f"Kept: max pooling keeps the single strongest response ({levels['max'][0].max():.3f} at 28×28, "
               f"{levels['max'][-1].max():.3f} at 7×7); average pooling keeps the overall mean "
               f"({levels['avg'][0].mean():.3f} and {levels['avg'][-1].mean():.3f}). Lost: the position inside each block.")
