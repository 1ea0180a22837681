"""Plotly figures for the Pooling page. Builders take arrays and explainer results and return Figures.

Figures are assembled as one dict and validated once (``go.Figure(data, layout)``): plotly's
``make_subplots`` and repeated ``update_*`` calls cost ~20x more, and the page redraws on every slider move.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainers.figures import style
from explainers.figures.style import DIVERGING, GREYS, PAD, layout, outline
from explainers.pooling import CellWindow, PoolResult

WINDOW = style.HIGHLIGHT  # the picked window
WINNER = style.RED  # the max's winner
MAP = GREYS  # non-negative maps: black 0 to white, as on the Convolution page
GRAD = [[0.0, style.BLUE_LIGHT], [1.0, style.BLUE_DARK]]  # light to dark blue; zero gradient is left clear
CHANGE = [[0.0, style.WHITE], [1.0, style.BLUE]]  # white (no change) to blue
_BAR = {"thickness": 10, "len": 0.8, "title": {"text": "value", "font": {"size": 11}}, "tickfont": {"size": 11}}


def _heat(z: np.ndarray, colorscale, *, zmin=None, zmax=None, name: str = "value", text=None, **extra) -> dict:
    """A heatmap trace as a dict (row 0 drawn at the top by the image axes)."""
    trace = {
        "type": "heatmap", "z": np.asarray(z, dtype=float), "colorscale": colorscale, "zmin": zmin, "zmax": zmax,
        "showscale": False, "hovertemplate": f"row %{{y}}, col %{{x}}<br>{name} %{{z:.3f}}<extra></extra>",
    }
    if text is not None:
        trace.update(text=text, texttemplate="%{text}", textfont={"size": 10})
    trace.update(extra)
    return trace


def _grid(cells: list[list[dict]], shapes: list[tuple[int, ...]], titles: list[str], *, cols: int,
          height: int, hspace: float = 0.03, vspace: float = 0.1, title_size: int = 13) -> go.Figure:
    """Image subplots in a rows×cols grid: cells[i] are the traces of panel i, shapes[i] its (H, W)."""
    rows = -(-len(cells) // cols)
    w = (1 - hspace * (cols - 1)) / cols
    h = (1 - vspace * (rows - 1)) / rows
    data, lay, notes = [], layout(height), []
    for i, (traces, shape, title) in enumerate(zip(cells, shapes, titles)):
        r, c = divmod(i, cols)
        s = "" if i == 0 else str(i + 1)
        x0, y1 = c * (w + hspace), 1 - r * (h + vspace)
        for t in traces:
            data.append({**t, "xaxis": f"x{s}", "yaxis": f"y{s}"})
        axis = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "constrain": "domain"}
        lay[f"xaxis{s}"] = {**axis, "domain": [round(x0, 6), round(min(x0 + w, 1.0), 6)], "anchor": f"y{s}", "range": [-0.5, shape[1] - 0.5]}
        lay[f"yaxis{s}"] = {**axis, "domain": [round(max(y1 - h, 0.0), 6), round(y1, 6)], "anchor": f"x{s}", "scaleanchor": f"x{s}",
                               "range": [shape[0] - 0.5, -0.5]}
        notes.append({"text": title, "x": x0 + w / 2, "y": y1, "xref": "paper", "yref": "paper",
                      "showarrow": False, "xanchor": "center", "yanchor": "bottom", "font": {"size": title_size}})
    lay["annotations"] = notes
    return go.Figure(data=data, layout=lay)


def maps_row(panels: list[tuple[str, np.ndarray, str]], height: int | None = None) -> go.Figure:
    """A row of (title, (H, W) map, kind) panels; kind is 'image', 'signed', 'map' or 'change'.

    'map' panels share one colour scale (from 0, or below if a map is negative), and so do 'change'
    panels, so sizes can be compared by eye: an average comes out dimmer than a max."""
    changes = [float(np.max(z)) for _, z, kind in panels if kind == "change"]
    top_change = max([1e-9, *changes])
    maps = [np.asarray(z, dtype=float) for _, z, kind in panels if kind == "map"]
    map_lo = min([0.0, *(float(np.nanmin(z)) for z in maps)])
    map_hi = max([map_lo + 1e-9, *(float(np.nanmax(z)) for z in maps)])
    cells = []
    for _, z, kind in panels:
        if kind == "image":
            trace = _heat(z, GREYS, zmin=0, zmax=1, name="brightness")
        elif kind == "signed":
            m = max(1e-9, float(np.abs(z).max()))
            trace = _heat(z, DIVERGING, zmin=-m, zmax=m)
        elif kind == "change":
            trace = _heat(z, CHANGE, zmin=0, zmax=top_change, name="|change|")
        else:
            trace = _heat(z, MAP, zmin=map_lo, zmax=map_hi)
        cells.append([trace])
    height = height or {1: 520, 2: 460, 3: 360, 4: 300}.get(len(panels), 260)
    return _grid(cells, [np.shape(z) for _, z, _ in panels], [t for t, _, _ in panels],
                 cols=len(panels), height=height)


def gradient_figure(x: np.ndarray, grads: list[tuple[str, np.ndarray]]) -> go.Figure:
    """Each gradient (H, W) drawn over a faint copy of the input (H, W); pixels with no gradient stay clear."""
    top = max(1e-9, max(float(np.abs(g).max()) for _, g in grads))
    lo, hi = float(np.min(x)), float(np.max(x))
    cells = []
    for i, (_, g) in enumerate(grads):
        back = {"type": "heatmap", "z": x, "colorscale": "Greys", "zmin": lo, "zmax": hi if hi > lo else lo + 1,
                "opacity": 0.3, "showscale": False, "hoverinfo": "skip"}
        grad = {"type": "heatmap", "z": np.where(g != 0, g, np.nan), "colorscale": GRAD, "zmin": 0, "zmax": top,
                "showscale": i == len(grads) - 1, "colorbar": {"title": {"text": "∂L/∂x"}, "thickness": 12},
                "hovertemplate": "input (%{y}, %{x})<br>∂L/∂x = %{z:.4f}<extra></extra>"}
        cells.append([back, grad])
    return _grid(cells, [x.shape] * len(grads), [t for t, _ in grads], cols=len(grads), height=460, hspace=0.05)


def window_figure(x: np.ndarray, cw: CellWindow, padding: tuple[int, int], title: str) -> go.Figure:
    """The input map (H, W) with the padding ring, the picked window outlined and the winner starred."""
    h, w = x.shape
    ph, pw = padding
    shapes = []
    if ph or pw:  # the padding ring around the picture
        shapes.append({"type": "rect", "x0": -pw - 0.5, "x1": w - 0.5 + pw, "y0": -ph - 0.5, "y1": h - 0.5 + ph,
                       "line": {"color": PAD, "dash": "dot"}, "fillcolor": style.rgba(PAD, 0.25),
                       "layer": "below"})
    for r, c, inside in zip(cw.rows.ravel(), cw.cols.ravel(), cw.inside.ravel()):
        shapes.append({"type": "rect", "x0": c - 0.5, "x1": c + 0.5, "y0": r - 0.5, "y1": r + 0.5,
                       "line": {"color": WINDOW if inside else PAD, "width": 2, "dash": "solid" if inside else "dot"}})
    data = [_heat(x, MAP, showscale=True, colorbar=_BAR)]
    if cw.winner is not None and cw.inside.any():
        data.append({"type": "scatter", "x": [cw.winner[1]], "y": [cw.winner[0]], "mode": "markers",
                     "marker": {"symbol": "star", "size": 16, "color": WINNER, "line": {"color": style.WHITE, "width": 1}},
                     "hovertemplate": "winner: row %{y}, col %{x}<extra></extra>"})
    lo_r, hi_r = min(-ph, int(cw.rows.min())), max(h - 1 + ph, int(cw.rows.max()))
    lo_c, hi_c = min(-pw, int(cw.cols.min())), max(w - 1 + pw, int(cw.cols.max()))
    axis = {"showgrid": False, "zeroline": False, "constrain": "domain"}
    return go.Figure(data=data, layout=layout(
        380, title, shapes=shapes,
        xaxis={**axis, "range": [lo_c - 0.6, hi_c + 0.6]},
        yaxis={**axis, "range": [hi_r + 0.6, lo_r - 0.6], "scaleanchor": "x"},
    ))


def window_values_figure(cw: CellWindow, title: str) -> go.Figure:
    """The kh×kw numbers under the window; padding shown as −∞ (max) or 0 (average), winner in red."""
    vals = np.where(cw.inside, cw.values, np.nan)
    text = np.where(cw.inside, np.char.mod("%.2f", np.nan_to_num(cw.values, neginf=0)),
                    "−∞" if cw.winner is not None else "0 (pad)")
    kh, kw = cw.values.shape
    shapes = []
    if cw.winner is not None and cw.inside.any():
        hit = np.argwhere((cw.rows == cw.winner[0]) & (cw.cols == cw.winner[1]))[0]
        shapes.append({"type": "rect", "x0": hit[1] - 0.5, "x1": hit[1] + 0.5, "y0": hit[0] - 0.5,
                       "y1": hit[0] + 0.5, "line": {"color": WINNER, "width": 4}})
    axis = {"showgrid": False, "zeroline": False, "constrain": "domain"}
    return go.Figure(data=[_heat(vals, MAP, text=text, showscale=True, colorbar=_BAR)], layout=layout(
        300, title, shapes=shapes,
        xaxis={**axis, "tickvals": list(range(kw)), "ticktext": [str(c) for c in cw.cols[0]],
               "title": {"text": "input column"}},
        yaxis={**axis, "tickvals": list(range(kh)), "ticktext": [str(r) for r in cw.rows[:, 0]],
               "title": {"text": "input row"}, "autorange": "reversed", "scaleanchor": "x"},
    ))


def indices_figure(result: PoolResult, offsets: np.ndarray, wins: np.ndarray, x: np.ndarray) -> go.Figure:
    """Left: the max-pool indices (return_indices), coloured by where in its window the max sat;
    right: the input (H, W) with every winner marked."""
    idx = result.indices[0]
    ho, wo = idx.shape
    kh, kw = result.settings.kernel
    show_text = ho * wo <= 400
    left = {"type": "heatmap", "z": offsets[0], "zmin": 0, "zmax": max(kh * kw - 1, 1), "colorscale": "Turbo",
            "showscale": True, "opacity": 0.55, "customdata": idx,
            "colorbar": {**_BAR, "x": 0.47, "title": {"text": "position", "font": {"size": 11}}},
            "hovertemplate": "output (%{y}, %{x})<br>index %{customdata}<br>window position %{z}<extra></extra>"}
    if show_text:
        left.update(text=idx.astype(str), texttemplate="%{text}", textfont={"size": 10, "color": style.BLACK})
    rows, cols = np.nonzero(wins)
    counts = wins[rows, cols]
    dots = {"type": "scatter", "x": cols, "y": rows, "mode": "markers", "customdata": counts,
            "marker": {"color": WINNER, "size": 5 + 3 * np.sqrt(counts), "line": {"color": style.WHITE, "width": 1}},
            "hovertemplate": "row %{y}, col %{x}: won %{customdata} window(s)<extra></extra>"}
    return _grid([[left], [_heat(x, MAP, showscale=True, colorbar=_BAR), dots]], [idx.shape, x.shape],
                 [f"indices of the {ho}×{wo} maxima (colour: position inside the window)",
                  "winners on the input (bigger dot = won more windows)"], cols=2, height=470, hspace=0.05)


def pyramid_figure(rows: dict[str, list[np.ndarray]]) -> go.Figure:
    """One row per pooling kind: the map at 28×28, 14×14, 7×7, ... (each (H, W))."""
    n = max(len(v) for v in rows.values())
    cells, shapes, titles = [], [], []
    for name, maps in rows.items():
        top = max(1e-9, float(max(np.max(m) for m in maps)))
        for c in range(n):
            if c < len(maps):
                m = maps[c]
                last = c == len(maps) - 1  # one colour bar per row: every map of a row shares its scale
                cells.append([_heat(m, MAP, zmin=0, zmax=top, showscale=last,
                                    colorbar={**_BAR, "len": 0.4, "y": 0.75 if name == "max" else 0.25})])
                shapes.append(m.shape)
                titles.append(f"{name}: {m.shape[0]}×{m.shape[1]} = {m.size} numbers")
            else:
                cells.append([])
                shapes.append((1, 1))
                titles.append("")
    return _grid(cells, shapes, titles, cols=n, height=280 * len(rows), title_size=12)


# --- compact pictures (no plotly): the block row and the clickable pooled map ------------------------------


def panel_pictures(panels: list[tuple[str, np.ndarray, str]], min_side: int = 192
                   ) -> list[tuple[np.ndarray, tuple[float, float]]]:
    """maps_row's panels -> [(uint8 RGB picture, colour limits)], the same scales as maps_row: 'map' panels
    share one scale, 'change' panels another, 'signed' are symmetric around 0 (red-white-blue), 'image' 0..1."""
    from explainers.figures.convolution import colourise, upscale

    maps = [np.asarray(z, dtype=float) for _, z, kind in panels if kind == "map"]
    map_lo = min([0.0, *(float(np.nanmin(z)) for z in maps)])
    map_hi = max([map_lo + 1e-9, *(float(np.nanmax(z)) for z in maps)])
    top_change = max([1e-9, *(float(np.max(z)) for _, z, kind in panels if kind == "change")])
    out = []
    for _, z, kind in panels:
        z = np.asarray(z, dtype=float)
        if kind == "image":
            limits = (0.0, 1.0)
        elif kind == "signed":
            m = max(1e-9, float(np.abs(z).max()))
            limits = (-m, m)
        elif kind == "change":
            limits = (0.0, top_change)
        else:
            limits = (map_lo, map_hi)
        out.append((upscale(colourise(z, limits), min_side)[0], limits))
    return out


def block_strip(pictures: list[np.ndarray], gap: int = 10) -> np.ndarray:
    """[(h_i, w_i, 3) uint8] -> one (max h, sum w + gaps, 3) picture, side by side on white, tops aligned.

    One picture instead of five: the browser lays out one element per change, not five plus their keys."""
    h = max(p.shape[0] for p in pictures)
    parts = []
    for i, pic in enumerate(pictures):
        if i:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
        parts.append(np.pad(pic, ((0, h - pic.shape[0]), (0, 0), (0, 0)), constant_values=255))
    return np.concatenate(parts, axis=1)


def window_picture(x: np.ndarray, cw: CellWindow, padding: tuple[int, int], min_side: int = 256) -> np.ndarray:
    """window_figure as one uint8 picture: the map (H, W) in grey inside its padding ring, the window's cells
    outlined in the highlight colour (grey where they read padding), the max's winner in red."""
    from explainers.figures.convolution import colourise, upscale

    h, w = x.shape
    ph, pw = padding
    lo_r, hi_r = min(-ph, int(cw.rows.min())), max(h - 1 + ph, int(cw.rows.max()))
    lo_c, hi_c = min(-pw, int(cw.cols.min())), max(w - 1 + pw, int(cw.cols.max()))
    canvas = np.full((hi_r - lo_r + 1, hi_c - lo_c + 1, 3), 255, np.uint8)
    canvas[-lo_r - ph:-lo_r + h + ph, -lo_c - pw:-lo_c + w + pw] = style.rgb(style.PALE_GREY).astype(np.uint8)
    canvas[-lo_r:-lo_r + h, -lo_c:-lo_c + w] = colourise(x, (0.0, max(float(np.max(x)), 1e-9)) if np.min(x) >= 0
                                                       else None)
    pic, f = upscale(canvas, min_side)
    t = max(1, f // 6)
    for r, c, inside in zip(cw.rows.ravel(), cw.cols.ravel(), cw.inside.ravel()):
        r0, c0 = (int(r) - lo_r) * f, (int(c) - lo_c) * f
        outline(pic, (r0, r0 + f, c0, c0 + f, t), WINDOW if inside else PAD)
    if cw.winner is not None and cw.inside.any():
        r0, c0 = (cw.winner[0] - lo_r) * f, (cw.winner[1] - lo_c) * f
        outline(pic, (r0 + t, r0 + f - t, c0 + t, c0 + f - t, max(2, t)), WINNER)
    return pic


def window_values_html(cw: CellWindow) -> str:
    """window_values_figure as an HTML table: the kh×kw numbers, padding as −∞ (max) or 0 (average),
    the winner framed in red, cells shaded black (0) to white (largest) like the map."""
    from explainers.pooling import fmt

    top = max(1e-9, float(np.max(np.where(cw.inside, cw.values, 0.0))))
    rows = []
    for i in range(cw.values.shape[0]):
        cells = []
        for j in range(cw.values.shape[1]):
            if cw.inside[i, j]:
                g = int(round(255 * min(1.0, max(0.0, float(cw.values[i, j]) / top))))
                bg, fg, text = f"rgb({g},{g},{g})", (style.BLACK if g > 140 else style.WHITE), fmt(cw.values[i, j])
            else:
                bg, fg, text = style.PALE_GREY, style.SLATE, "−∞" if cw.winner is not None else "0 (pad)"
            won = cw.winner is not None and (int(cw.rows[i, j]), int(cw.cols[i, j])) == tuple(cw.winner)
            border = f"3px solid {WINNER}" if won else (f"1px solid {style.GRID}" if cw.inside[i, j]
                                                         else f"2px dotted {style.GREY}")
            cells.append(f'<td style="background:{bg};color:{fg};border:{border};padding:1px 4px;'
                         f'text-align:right">{text}</td>')
        rows.append(f'<tr><th style="font-weight:normal;color:{style.SLATE};padding-right:4px">{int(cw.rows[i, 0])}'
                    "</th>" + "".join(cells) + "</tr>")
    head = "".join(f'<th style="font-weight:normal;color:{style.SLATE}">{int(c)}</th>' for c in cw.cols[0])
    return ('<table style="border-collapse:collapse;font-size:0.8rem;font-variant-numeric:tabular-nums">'
            f"<tr><th></th>{head}</tr>" + "".join(rows) + "</table>"
            f'<div style="font-size:0.75rem;color:{style.SLATE}">rows and columns: input coordinates</div>')
