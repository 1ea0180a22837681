"""Figures for the Convolution page (no streamlit).

Pictures travel to the browser as PNG or JPEG bytes (st.image or the click-to-pick component), the
kernel walk as a plotly animation, the histogram as a small SVG: never as JSON arrays of numbers.
Signed maps use a diverging scale centred on zero: red below zero, white at zero, blue above (explainers.figures.style, the same colours on every page).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainers.convolution import ConvStep, KernelWalk
from explainers.figures import style
from explainers.figures.style import DIVERGING, GREYS

WINDOW = style.HIGHLIGHT  # the receptive window / current pixel
PAD = style.PAD
_SQUARE_X = np.array([-0.42, 0.42, 0.42, -0.42, -0.42, np.nan])  # a closed square, then a line break
_SQUARE_Y = np.array([-0.42, -0.42, 0.42, 0.42, -0.42, np.nan])
_NEG, _MID, _POS = style.rgb(style.NEGATIVE), style.rgb(style.WHITE), style.rgb(style.POSITIVE)


# ----------------------------------------------------------------------------- encoding


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W[, 3]) floats in [0, 1] -> uint8 RGB (H, W, 3)."""
    a = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return (a * 255.0 + 0.5).astype(np.uint8)


def is_signed(values: np.ndarray) -> bool:
    """True when a map has values below zero (then it needs the diverging scale)."""
    return bool(np.asarray(values).min(initial=0.0) < 0.0)


def colour_limits(values: np.ndarray) -> tuple[float, float]:
    """The colour range: symmetric around 0 for signed maps, 0..max for non-negative ones."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return (0.0, 1.0)
    if is_signed(v):
        m = max(float(np.abs(v).max()), 1e-9)
        return (-m, m)
    return (0.0, max(float(v.max()), 1e-9))


def _diverging_lut() -> np.ndarray:
    """(511, 3) uint8: the red-white-blue colour of t = (i - 255) / 255 for i in 0..510 (white at i = 255)."""
    t = (np.arange(511, dtype=np.float64) - 255.0) / 255.0
    t = t[:, None]
    rgb = np.where(t < 0, _MID + (_NEG - _MID) * (-t), _MID + (_POS - _MID) * t)
    return (rgb + 0.5).astype(np.uint8)


_DIVERGING_LUT = _diverging_lut()


def colourise(values: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8: diverging red-white-blue if the range crosses 0, else grey.

    Through a 511-colour table (one step per 1/255 of the range, the resolution of a uint8 channel):
    indexing is ~10x faster than blending three float channels for a 512×512 map."""
    v = np.asarray(values, dtype=np.float32)
    lo, hi = limits if limits is not None else colour_limits(v)
    if lo < 0:
        idx = np.rint(np.clip(v * np.float32(255.0 / hi), -255.0, 255.0)).astype(np.intp) + 255
        return _DIVERGING_LUT[idx]
    g = (np.clip((v - np.float32(lo)) * np.float32(255.0 / (hi - lo)), 0.0, 255.0) + 0.5).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def shrink(values: np.ndarray, max_side: int) -> np.ndarray:
    """(H, W[, C]) -> every k-th pixel so max(H, W) <= max_side (for small preview panels)."""
    k = int(np.ceil(max(values.shape[0], values.shape[1]) / max_side))
    return values[::k, ::k] if k > 1 else values


# ----------------------------------------------------------------------------- helpers


_AXIS = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "constrain": "domain"}


def _unit(v: float) -> float:
    return min(1.0, max(0.0, round(v, 6)))


def _grid(rows: int, cols: int, titles: list[str], *, hgap: float = 0.03, vgap: float = 0.08) -> dict:
    """Layout dict for a rows x cols grid of square-pixel panels (cheaper than make_subplots)."""
    layout: dict = {"annotations": []}
    w = (1 - hgap * (cols - 1)) / cols
    h = (1 - vgap * (rows - 1)) / rows
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        n = "" if i == 0 else str(i + 1)
        x0, y1 = c * (w + hgap), 1 - r * (h + vgap)
        layout[f"xaxis{n}"] = {**_AXIS, "domain": [_unit(x0), _unit(x0 + w)], "anchor": f"y{n}"}
        layout[f"yaxis{n}"] = {**_AXIS, "domain": [_unit(y1 - h), _unit(y1)], "anchor": f"x{n}", "scaleanchor": f"x{n}",
                               "autorange": "reversed"}
        if i < len(titles):
            layout["annotations"].append({"text": titles[i], "x": x0 + w / 2, "y": y1, "xref": "paper",
                                          "yref": "paper", "xanchor": "center", "yanchor": "bottom",
                                          "showarrow": False, "font": {"size": 12}})
    return layout


def _refs(i: int) -> dict:
    """xaxis/yaxis references of panel i (0-based) for a trace."""
    n = "" if i == 0 else str(i + 1)
    return {"xaxis": f"x{n}", "yaxis": f"y{n}"}


# ----------------------------------------------------------------------------- figures


def map_previews(maps: np.ndarray, *, max_side: int = 256, min_side: int = 160) -> list[np.ndarray]:
    """(n, H, W) maps -> n uint8 RGB pictures, each on its own scale (diverging if signed), shrunk to max_side
    (every k-th pixel) or enlarged with square pixels to min_side: shown as one row of images, no hover needed."""
    out = []
    for m in maps:
        m = np.asarray(m)
        pic = colourise(shrink(m, max_side), colour_limits(m))
        f = max(1, min(-(-min_side // max(pic.shape[:2])), max_side // max(pic.shape[:2])))  # never past max_side
        out.append(np.repeat(np.repeat(pic, f, axis=0), f, axis=1) if f > 1 else pic)
    return out


def depthwise_picture(maps: np.ndarray) -> np.ndarray:
    """(3, H_out, W_out) depthwise maps -> (H_out, W_out, 3) uint8: the maps as R, G, B (signed maps shifted so
    0 is mid-grey)."""
    lo, hi = colour_limits(maps)
    rgb = 0.5 + maps / (2 * hi) if lo < 0 else maps / hi
    return to_uint8(np.moveaxis(rgb, 0, -1))


def histogram_svg(values: np.ndarray, *, bins: int = 60, width: int = 640, height: int = 220) -> str:
    """Any array -> an SVG histogram of its values in a div (log count axis; each bar's tooltip reads its count).

    Sixty rectangles in one small SVG: the browser draws it in a frame, where a plotly bar chart costs
    a layout pass of its own on every slider change."""
    v = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    left, right, top, bottom = 58, 14, 26, 42  # room for the axis labels (13 px: 11.5 px on a 1024 px projector)
    pw, ph = width - left - right, height - top - bottom
    ymax = np.log10(max(int(counts.max()), 1)) + 0.3
    x = lambda e: left + (e - lo) / (hi - lo) * pw  # noqa: E731
    y = lambda c: top + ph * (1 - np.log10(c) / ymax) if c > 0 else top + ph  # noqa: E731
    parts = ['<div class="conv-hist">', f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px;font:13px sans-serif" role="img" aria-label="Histogram of the output">',
             f'<text x="{left + pw / 2}" y="15" text-anchor="middle" font-size="15">Histogram of the output</text>']
    for n in range(int(np.floor(ymax)) + 1):  # log grid lines at 1, 10, 100, ...
        yy = y(10 ** n) if n else top + ph
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{style.GRID}"/>'
                     f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{10 ** n}</text>')
    for c, e0, e1 in zip(counts, edges[:-1], edges[1:]):
        if c == 0:
            continue
        colour = style.NEGATIVE if (e0 + e1) / 2 < 0 else style.POSITIVE
        x0, x1, y0 = x(e0), x(e1), y(c) if c > 1 else top + ph - 2  # one pixel still shows as a sliver
        parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0, 0.5):.1f}" height="{top + ph - y0:.1f}" '
                     f'fill="{colour}"><title>around {(e0 + e1) / 2:.3g}: {int(c)} pixels</title></rect>')
    if lo < 0 < hi:
        parts.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top}" y2="{top + ph}" stroke="{style.MUTED}" '
                     'stroke-dasharray="3 3"/>')
    for t in np.linspace(lo, hi, 5):
        parts.append(f'<text x="{x(t):.1f}" y="{top + ph + 14}" text-anchor="middle">'
                     f'{f"{t:.3g}".replace("-", "−")}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle">output value</text>'
                 f'<text x="12" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 12 {top + ph / 2})">'
                 "pixels (log)</text></svg></div>")
    return "".join(parts)


def histogram_counts(svg: str) -> list[int]:
    """The bar counts an SVG from histogram_svg shows (for tests and for reading it back)."""
    import re

    return [int(n) for n in re.findall(r": (\d+) pixels</title>", svg)]


def _tap_outline(walk: KernelWalk, r: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed squares around every tap of block position (r, c), as one line trace's x and y (NaN-separated)."""
    rows, cols = walk.taps(r, c)
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    xs = (xx.reshape(-1, 1) + _SQUARE_X).ravel()
    ys = (yy.reshape(-1, 1) + _SQUARE_Y).ravel()
    return np.round(xs, 3), np.round(ys, 3)  # short JSON


def animation_figure(walk: KernelWalk, *, height: int = 400) -> go.Figure:
    """KernelWalk -> the kernel stepping over a small crop while the output fills in (plotly frames, no reruns)."""
    n_r, n_c = walk.output.shape
    lo, hi = colour_limits(walk.output)
    (r0, c0), (o0, p0) = walk.origin, walk.out_origin
    heat = {"colorscale": DIVERGING if lo < 0 else GREYS, "zmin": lo, "zmax": hi, "showscale": False,
            "x0": p0, "y0": o0, "xgap": 1, "ygap": 1, "hovertemplate": "row %{y}, col %{x}: %{z:.3f}<extra></extra>"}

    def state(k: int) -> list[dict]:
        """What changes at step k: the revealed output, the taps, the current output cell."""
        r, c = divmod(k, n_c)
        shown = np.full((n_r, n_c), np.nan)
        shown.ravel()[: k + 1] = walk.output.ravel()[: k + 1]
        xs, ys = _tap_outline(walk, r, c)
        return [{"type": "heatmap", "z": shown}, {"type": "scatter", "x": xs, "y": ys},
                {"type": "scatter", "x": p0 + c + 1.2 * _SQUARE_X[:5], "y": o0 + r + 1.2 * _SQUARE_Y[:5]}]

    crop = walk.crop if walk.crop.shape[2] == 3 else walk.crop[..., 0]
    base = [
        go.Image(z=to_uint8(crop), x0=c0, y0=r0, dx=1, dy=1, hovertemplate="row %{y}, col %{x}<extra></extra>",
                 **_refs(0)),
        go.Heatmap(z=np.zeros((n_r, n_c)), x0=p0, y0=o0, colorscale=[[0, style.PALE_GREY], [1, style.PALE_GREY]],
                   showscale=False, xgap=1, ygap=1, hoverinfo="skip", **_refs(1)),
    ]
    first = state(0)
    base += [
        go.Heatmap(first[0], **heat, **_refs(1)),
        go.Scatter(first[1], mode="lines", line={"color": WINDOW, "width": 2}, hoverinfo="skip", **_refs(0)),
        go.Scatter(first[2], mode="lines", line={"color": WINDOW, "width": 3}, hoverinfo="skip", **_refs(1)),
    ]
    frames = [{"name": str(k), "data": state(k), "traces": [2, 3, 4]} for k in range(n_r * n_c)]
    play = {"label": "▶ Animate", "method": "animate",
            "args": [None, {"frame": {"duration": 400, "redraw": True}, "fromcurrent": True,
                            "transition": {"duration": 0}, "mode": "immediate"}]}
    pause = {"label": "❚❚ Pause", "method": "animate",
             "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}
    steps = [{"label": "", "method": "animate",
              "args": [[str(k)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}]}
             for k in range(n_r * n_c)]
    h, w = walk.crop.shape[:2]
    layout = _grid(1, 2, ["input crop (padding included); orange = the kernel's taps",
                          "output block, filled in as the kernel moves"], hgap=0.08)
    layout["xaxis"]["range"] = [c0 - 0.5, c0 + w - 0.5]
    layout["yaxis"].update(range=[r0 + h - 0.5, r0 - 0.5], autorange=False)
    layout["xaxis2"]["range"] = [p0 - 0.5, p0 + n_c - 0.5]
    layout["yaxis2"].update(range=[o0 + n_r - 0.5, o0 - 0.5], autorange=False)
    layout["updatemenus"] = [{"type": "buttons", "direction": "left", "buttons": [play, pause], "x": 0.0,
                              "y": -0.02, "xanchor": "left", "yanchor": "top", "showactive": False}]
    layout["sliders"] = [{"active": 0, "x": 0.28, "len": 0.72, "y": -0.02, "yanchor": "top",
                          "currentvalue": {"visible": False}, "steps": steps}]
    fig = go.Figure(base, layout=layout, frames=frames)
    style.styled(fig, height)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 80})
    return fig


# ----------------------------------------------------------------------------- compact pictures (no plotly)
# Pictures that need no hover travel as one PNG (st.image or the click-to-pick component): the browser
# draws an <img> instead of laying out a plotly figure, which is most of a slider's round trip.


def upscale(picture: np.ndarray, min_side: int) -> tuple[np.ndarray, int]:
    """(H, W, 3) uint8 -> (H*f, W*f, 3) with square nearest-neighbour pixels, f so that max side >= min_side."""
    f = max(1, int(np.ceil(min_side / max(picture.shape[0], picture.shape[1]))))
    f = min(f, max(1, 2048 // max(picture.shape[:2])))  # never a huge picture
    return (np.repeat(np.repeat(picture, f, axis=0), f, axis=1) if f > 1 else picture), f


def map_picture(values: np.ndarray, *, limits: tuple[float, float] | None = None, min_side: int = 384
                ) -> tuple[np.ndarray, int]:
    """(H, W) map -> (uint8 RGB picture, scale factor): diverging red-white-blue (white = 0) or grey for
    non-negative maps, upscaled with square pixels. A picked pixel's frame is ``pixel_box``."""
    return upscale(colourise(values, limits), min_side)


def pixel_box(f: int, pixel: tuple[int, int]) -> style.Box:
    """The outline of map pixel (row, col) in a picture enlarged f times: a tiny pixel gets a ring around it, a
    big one an outline inside."""
    r, c = pixel
    width = max(2, f // 3)
    pad = width if f < 6 else 0
    return r * f - pad, (r + 1) * f + pad, c * f - pad, (c + 1) * f + pad, width


def window_box(f: int, window: tuple[int, int, int, int]) -> style.Box:
    """The outline of a window (first row, last row, first col, last col) in a picture enlarged f times, just
    outside its pixels."""
    width = max(2, f // 2)
    r0, r1, c0, c1 = window
    return r0 * f - width, (r1 + 1) * f + width, c0 * f - width, (c1 + 1) * f + width, width


def window_of(step: ConvStep) -> tuple[int, int, int, int]:
    """ConvStep -> (first row, last row, first col, last col) of the input it reads (may reach into padding)."""
    return int(step.rows.min()), int(step.rows.max()), int(step.cols.min()), int(step.cols.max())


def colour_key_html(limits: tuple[float, float], label: str = "value") -> str:
    """A colour bar as HTML: the map's scale from its minimum to its maximum, 0 marked on signed maps."""
    lo, hi = limits
    if lo < 0:
        stops, ticks = f"{style.NEGATIVE}, {style.WHITE}, {style.POSITIVE}", (f"{lo:.3g}", "0", f"{hi:.3g}")
    else:
        stops, ticks = f"{style.BLACK}, {style.WHITE}", (f"{lo:.3g}", "", f"{hi:.3g}")
    ticks = tuple(t.replace("-", "−") for t in ticks)
    return (
        f'<div style="font-size:0.8rem;line-height:1.2;margin:2px 0 6px 0">'
        f'<div style="height:10px;border:1px solid {style.GREY};background:linear-gradient(to right, {stops})"></div>'
        f'<div style="display:flex;justify-content:space-between"><span>{ticks[0]}</span>'
        f"<span>{ticks[1]}{' (white)' if ticks[1] else ''}</span><span>{ticks[2]}</span></div>"
        f'<div style="text-align:center;color:{style.SLATE}">colour bar: {label}</div></div>'
    )


def _cell_colour(v: float, lim: float, signed: bool) -> tuple[str, str]:
    """Background and text colour of one table cell on the page's scales."""
    if signed:
        t = max(-1.0, min(1.0, v / lim)) if lim > 0 else 0.0
        end = _NEG if t < 0 else _POS
        rgb = _MID + (end - _MID) * abs(t)
    else:
        g = max(0.0, min(1.0, v)) * 255.0
        rgb = np.array([g, g, g])
    bright = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    r, g, b = (int(round(x)) for x in rgb)
    return f"rgb({r},{g},{b})", (style.BLACK if bright > 140 else style.WHITE)


def _table(values: list[list[str]], numbers: np.ndarray, padding: np.ndarray, *, signed: bool, lim: float,
           title: str) -> str:
    rows = []
    for i, row in enumerate(values):
        cells = []
        for j, text in enumerate(row):
            bg, fg = _cell_colour(float(numbers[i, j]), lim, signed)
            border = f"2px dotted {style.GREY}" if padding[i, j] else f"1px solid {style.PALE_GREY}"
            cells.append(f'<td style="background:{bg};color:{fg};border:{border};padding:1px 3px;'
                         f'text-align:right">{text.replace("-", "−")}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div style="display:inline-block;vertical-align:top;margin:0 6px 6px 0">'
            f'<div style="font-size:0.8rem;color:{style.SLATE}">{title}</div>'
            f'<table style="border-collapse:collapse;font-size:0.8rem;font-variant-numeric:tabular-nums;margin:0">'
            + "".join(rows) + "</table></div>")


def step_html(step: ConvStep, *, channel_names: list[str] | None = None, decimals: int = 2) -> str:
    """ConvStep -> HTML tables per input channel: window values, kernel, products (rounded so they add up).

    Products are rounded with the largest-remainder method (explainers.convolution.rounded_terms), so
    the shown products of each channel add up to that channel's shown sum, and the channel sums to
    the shown total; dotted cells read padding, not the picture.
    """
    from explainers.convolution import fmt, rounded_terms

    C, kh, kw = step.window.shape
    names = channel_names or ([""] if C == 1 else [f"channel {c}" for c in range(C)])
    wlim = max(1e-9, float(np.abs(step.kernel).max()))
    plim = max(1e-9, float(np.abs(step.products).max()))
    none = np.zeros((kh, kw), dtype=bool)
    parts = []
    for c, name in enumerate(names):
        pre = f"{name}: " if name else ""
        shown, total = rounded_terms(step.products[c], decimals)
        grid = [shown[i * kw:(i + 1) * kw] for i in range(kh)]
        window = [[fmt(v, decimals) for v in row] for row in step.window[c]]
        weights = [[fmt(v, decimals) for v in row] for row in step.kernel[c]]
        parts.append(
            "<div>"
            + _table(window, step.window[c], step.is_padding, signed=False, lim=1.0, title=f"{pre}input under the kernel")
            + _table(weights, step.kernel[c], none, signed=True, lim=wlim, title="× kernel")
            + _table(grid, step.products[c], step.is_padding, signed=True, lim=plim,
                     title=f"= products, sum {total.replace('-', '−')}")
            + "</div>"
        )
    return "".join(parts)


def picture_bytes(picture: np.ndarray, *, photo: bool) -> bytes:
    """(H, W, 3) uint8 -> JPEG bytes for photo-like pictures (one picture pixel per screen pixel: PNG of a
    512x512 photo is ~30 ms and ~600 kB, JPEG ~1 ms and ~100 kB), PNG for enlarged maps (sharp, small)."""
    if not photo:
        return png_bytes(picture)
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture, dtype=np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_bytes(picture: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> PNG file bytes (fast zlib level: these pictures are re-made on every change)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
