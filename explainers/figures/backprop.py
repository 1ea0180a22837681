"""Figures for the Backprop page: the computational graph laid out in Python as SVG, and plotly charts.

No streamlit here, so every builder is unit-tested (tests/unit/test_backprop_figures.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from html import escape
from types import MappingProxyType

import numpy as np
import plotly.graph_objects as go

from explainers.autograd import Graph, GraphNode
from explainers.figures import style

CURRENT = style.AMBER  # the node being processed
UPDATED = style.AMBER_PALE  # nodes whose gradient this step adds to
PARAM, PARAM_DONE = style.BLUE_WASH, style.BLUE_LIGHT
OP, OP_DONE = style.WHITE, style.GREEN_PALE
INPUT = style.PALE_GREY
GROUP_TITLES = {"out": "output neuron", "loss": "loss"}


def _fmt(v: float) -> str:
    """2 decimals, or one significant digit for tiny values; a real minus sign and never "−0.00"."""
    text = "0.00" if v == 0 else f"{v:.2f}" if abs(v) >= 0.005 else f"{v:.0e}"
    return text.replace("-", "−")


def _group_title(group: str) -> str:
    return GROUP_TITLES.get(group, f"hidden neuron {group[1:]}" if group.startswith("h") else group)


def _fill(kind: str, reached: bool) -> str:
    if kind == "param":
        return PARAM_DONE if reached else PARAM
    if kind == "input":
        return INPUT
    return OP_DONE if reached else OP


# --- the computational graph, laid out here and drawn as SVG -------------------------------------
# The layers are known, so positions are computed once in Python: the browser only paints an SVG
# (no graphviz layout in the page on every step), and the shapes stay put while labels change.

FONT_PX = 13  # graph text at natural size; the page never shrinks it below MIN_FONT_PX
MIN_FONT_PX = 10
COL, ROW = 96, 58  # op view: column and row pitch (px)
BOX_W, BOX_H = 82, 50


def layered_positions(graph: Graph) -> Mapping[int, tuple[int, float]]:
    """Node index -> (column, row): ops one column right of their deepest input, leaves just left of
    their first use, rows placed from the loss backwards at the mean height of each node's users.

    They depend on the graph's shape only (its edges and neurons), so each step of the same network, whatever its
    numbers, reuses them (read-only)."""
    return _positions(graph.edges, tuple(n.group for n in graph.nodes))


@lru_cache(maxsize=32)
def _positions(edges: tuple[tuple[int, int], ...], groups: tuple[str, ...]) -> Mapping[int, tuple[int, float]]:
    nodes, root = range(len(groups)), len(groups) - 1
    col: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    parents: dict[int, list[int]] = {}
    for c, p in edges:
        children.setdefault(p, []).append(c)
        parents.setdefault(c, []).append(p)
    for n in nodes:  # topological order: children first
        kids = children.get(n, [])
        op_kids = [col[k] for k in kids if k in col]
        col[n] = 1 + max(op_kids, default=0) if kids else -1
    for n in nodes:
        if col[n] == -1:  # a leaf sits one column left of its first user
            col[n] = min(col[p] for p in parents[n]) - 1 if n in parents else 0
    low = min(col.values())
    col = {i: c - low for i, c in col.items()}
    # Neurons stay in bands (hidden 1 above hidden 2, ...): a leaf belongs to the neuron that uses it.
    hidden = sorted({g for g in groups if g.startswith("h")}, key=lambda g: int(g[1:]))
    band_of = {g: k for k, g in enumerate(hidden)}

    def band(i: int) -> float:
        g = groups[i]
        if g:
            return band_of.get(g, len(hidden))
        return float(np.mean([band(p) for p in parents[i]])) if i in parents else 0.0

    row: dict[int, float] = {root: 0.0}
    for c in sorted(set(col.values()), reverse=True):
        members = [i for i in col if col[i] == c and i != root]
        want = {i: float(np.mean([row[p] for p in parents[i] if p in row])) if i in parents else 0.0 for i in members}
        order = sorted(members, key=lambda i: (band(i), want[i], i))
        if not order:
            continue
        # Rows one apart (half a row more between neurons), shifted to sit at the mean of what they want.
        ys, y = [], 0.0
        for k, i in enumerate(order):
            if k and band(i) != band(order[k - 1]):
                y += 0.6
            ys.append(y)
            y += 1.0
        shift = np.mean([want[i] for i in order]) - np.mean(ys)
        for i, y in zip(order, ys):
            row[i] = y + shift
    return MappingProxyType({i: (col[i], row[i]) for i in col})


def _text(x: float, y: float, text: str, *, size: int = FONT_PX, bold: bool = False, anchor: str = "middle",
          colour: str = style.INK) -> str:
    weight = ' font-weight="700"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"{weight}>'
            f"{escape(text)}</text>")


def _svg(width: float, height: float, body: list[str], css_class: str) -> str:
    """An SVG that fills its column but never shrinks its text below MIN_FONT_PX (it scrolls instead)."""
    return (f'<div class="{css_class}" style="overflow-x:auto">'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="100%" '
            f'style="max-width:{width:.0f}px;min-width:{width * MIN_FONT_PX / FONT_PX:.0f}px" '
            f'font-family="Helvetica, Arial, sans-serif" role="img">' + "".join(body) + "</svg></div>")


def _arrow_defs() -> str:
    return (f'<defs><marker id="bp-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{style.GREY}"/></marker></defs>')


def _edge(a: str, b: str, x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (x1 + x2) / 2
    return (f'<path class="edge" data-from="{a}" data-to="{b}" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} '
            f'{mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" fill="none" stroke="{style.GREY}" stroke-width="1.2" '
            f'marker-end="url(#bp-arrow)"/>')


def _box(node_id: str, x: float, y: float, w: float, h: float, fill: str, current: bool, lines: list[str],
         rounded: bool = True) -> str:
    pen, colour = (3, style.AMBER_DARK) if current else (1, style.MUTED)
    out = [f'<g class="node" id="{node_id}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
           f'rx="{8 if rounded else 2}" fill="{fill}" stroke="{colour}" stroke-width="{pen}"/>']
    step = h / (len(lines) + 0.4)
    for k, line in enumerate(lines):
        out.append(_text(x + w / 2, y + step * (k + 1), line, bold=current and k == 0))
    out.append("</g>")
    return "".join(out)


def graph_svg(graph: Graph, grads: Sequence[float], reached: Sequence[bool], *,
              current: int | None = None, updated: Sequence[int] = ()) -> str:
    """Every operation as a node (value, gradient), neurons as dashed boxes around their ops: an SVG in a div."""
    pos = layered_positions(graph)
    top = min(r for _, r in pos.values())
    updated_set = set(updated)
    pad = 26  # room for the neuron boxes' titles

    def xy(i: int) -> tuple[float, float]:
        c, r = pos[i]
        return 8 + c * COL, pad + 6 + (r - top) * ROW

    body = [_arrow_defs()]
    groups: dict[str, list[int]] = {}
    for n in graph.nodes:
        if n.group:
            groups.setdefault(n.group, []).append(n.index)
    for g, members in groups.items():  # dashed neuron boxes under everything else
        xs, ys = zip(*(xy(i) for i in members))
        x0, y0, x1, y1 = min(xs) - 5, min(ys) - 20, max(xs) + BOX_W + 5, max(ys) + BOX_H + 5
        body.append(f'<g class="cluster" id="cluster_{g}"><rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                    f'height="{y1 - y0:.1f}" rx="10" fill="none" stroke="{style.GREY}" stroke-dasharray="5,4"/>'
                    + _text(x0 + 6, y0 + 14, _group_title(g), anchor="start", colour=style.SLATE) + "</g>")
    for c, p in graph.edges:
        (xa, ya), (xb, yb) = xy(c), xy(p)
        body.append(_edge(f"n{c}", f"n{p}", xa + BOX_W, ya + BOX_H / 2, xb, yb + BOX_H / 2))
    for n in graph.nodes:
        fill = CURRENT if n.index == current else UPDATED if n.index in updated_set else _fill(n.kind, reached[n.index])
        grad_text = f"grad {_fmt(grads[n.index])}" if reached[n.index] else "grad ?"
        x, y = xy(n.index)
        body.append(_box(f"n{n.index}", x, y, BOX_W, BOX_H, fill, n.index == current,
                         [_title(n), _fmt(n.data), grad_text], rounded=n.kind != "param"))
    width = 16 + max(c for c, _ in pos.values()) * COL + BOX_W
    height = pad + 12 + (max(r for _, r in pos.values()) - top) * ROW + BOX_H
    return _svg(width, height, body, "bp-graph")


def _title(node: GraphNode) -> str:
    return node.label if node.kind != "op" else node.op


def compact_svg(graph: Graph, grads: Sequence[float], reached: Sequence[bool], *,
                current: int | None = None, updated: Sequence[int] = ()) -> str:
    """One box per neuron listing its parameters (value, gradient) and its output: an SVG in a div."""
    head: dict[str, GraphNode] = {}  # a neuron's output is its last op (the activation)
    for n in graph.nodes:
        if n.group:
            head[n.group] = n
    owner: dict[int, str] = {}  # parameter -> the neuron whose op uses it
    for c, p in graph.edges:
        if graph.nodes[c].kind == "param" and graph.nodes[p].group:
            owner[c] = graph.nodes[p].group
    current_group = graph.nodes[current].group if current is not None else None
    updated_set = set(updated)
    line_h, width = 19, 236
    hidden = sorted((g for g in head if g.startswith("h")), key=lambda g: int(g[1:]))
    layers = [[n.index for n in graph.nodes if n.kind == "input" or (n.kind != "op" and n.index not in owner)],
              hidden, ["out"], ["loss"]]

    def rows_of(g: str) -> list[tuple[int, str]]:
        mine = sorted((i for i in owner if owner[i] == g),
                      key=lambda i: (graph.nodes[i].label[0] == "b", graph.nodes[i].label))
        out_name = "loss L" if g == "loss" else "output p" if g == "out" else "output a"
        return [(i, graph.nodes[i].label) for i in mine] + [(head[g].index, out_name)]

    heights = {g: (len(rows_of(g)) + 1) * line_h + 12 for g in head}
    col_x = [8, 110, 110 + width + 46, 110 + 2 * (width + 46)]
    total_h = max(sum(heights[g] + 14 for g in hidden), 2 * 70) + 10
    body = [_arrow_defs()]
    boxes: dict[str, tuple[float, float, float, float]] = {}
    inputs = layers[0]
    for k, i in enumerate(inputs):  # x1, x2 (and any unowned leaf) as small ovals on the left
        y = total_h / 2 + (k - (len(inputs) - 1) / 2) * 70 - 28
        boxes[f"n{i}"] = (col_x[0], y, 88, 56)
    y = 6.0
    for g in hidden:
        boxes[f"g_{g}"] = (col_x[1], y, width, heights[g])
        y += heights[g] + 14
    for g, cx in (("out", col_x[2]), ("loss", col_x[3])):
        if g in head:
            boxes[f"g_{g}"] = (cx, total_h / 2 - heights[g] / 2, width, heights[g])

    def centre_right(name: str) -> tuple[float, float]:
        x, y, w, h = boxes[name]
        return x + w, y + h / 2

    def centre_left(name: str) -> tuple[float, float]:
        x, y, _, h = boxes[name]
        return x, y + h / 2

    def cid(i: int) -> str | None:
        n = graph.nodes[i]
        return f"g_{n.group}" if n.group else (None if i in owner else f"n{i}")

    seen = set()
    for c, p in graph.edges:
        a, b = cid(c), cid(p)
        if a and b and a != b and (a, b) not in seen and a in boxes and b in boxes:
            seen.add((a, b))
            body.append(_edge(a, b, *centre_right(a), *centre_left(b)))
    for i in inputs:
        n = graph.nodes[i]
        x, y, w, h = boxes[f"n{i}"]
        fill = CURRENT if i == current else UPDATED if i in updated_set else INPUT
        body.append(_box(f"n{i}", x, y, w, h, fill, i == current,
                         [n.label, _fmt(n.data), f"grad {_fmt(grads[i])}" if reached[i] else "grad ?"]))
    for g in head:
        x, y, w, h = boxes[f"g_{g}"]
        is_current = g == current_group
        h_node = head[g]
        pen, colour = (3, style.AMBER_DARK) if is_current else (1, style.MUTED)
        fill = OP_DONE if reached[h_node.index] else OP
        title = _group_title(g) + (f" ({h_node.op})" if h_node.op in ("sigmoid", "tanh", "relu") else "")
        part = [f'<g class="node" id="g_{g}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="8" '
                f'fill="{fill}" stroke="{colour}" stroke-width="{pen}"/>']
        if is_current:
            part.append(f'<rect x="{x + 2:.1f}" y="{y + 2:.1f}" width="{w - 4:.1f}" height="{line_h + 2:.1f}" fill="{CURRENT}"/>')
        part.append(_text(x + 8, y + 17, title, anchor="start", bold=True))
        for k, (i, name) in enumerate(rows_of(g), start=1):
            ry = y + 19 + k * line_h
            row_fill = CURRENT if i == current else UPDATED if i in updated_set else None
            if row_fill:
                part.append(f'<rect x="{x + 2:.1f}" y="{ry - 14:.1f}" width="{w - 4:.1f}" height="{line_h:.1f}" '
                            f'fill="{row_fill}"/>')
            label = name + (" ◀" if i == current and i == h_node.index else "")
            grad = "grad " + (_fmt(grads[i]) if reached[i] else "?")
            part += [_text(x + 8, ry, label, anchor="start"), _text(x + 132, ry, _fmt(graph.nodes[i].data), anchor="end"),
                     _text(x + w - 8, ry, grad, anchor="end")]
        part.append("</g>")
        body.append("".join(part))
    return _svg(col_x[3] + width + 8, total_h, body, "bp-graph")


def _log_axis(values: np.ndarray) -> dict:
    """A log y-axis labelled with powers of ten where the data spans a decade or more (plotly's default
    then writes minor digits "2", "5" in 9 px type); shorter spans keep plotly's own readable ticks."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    spans_decade = v.size and np.log10(v.max()) - np.log10(v.min()) >= 1
    return {"type": "log", "exponentformat": "power", **({"dtick": 1} if spans_decade else {})}


def _style(fig: go.Figure, height: int = 340, title: str | None = None) -> go.Figure:
    return style.styled(fig, height, title, legend="below", grid=True, margin={"l": 10, "r": 10, "t": 40, "b": 10})


def level_crossings(xs: np.ndarray, ys: np.ndarray, P: np.ndarray, level: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Where P (len(ys), len(xs)) crosses `level` along grid edges, linearly interpolated: -> x (K,), y (K,)."""
    out_x, out_y = [], []
    d = P - level
    a, b = d[:, :-1], d[:, 1:]  # horizontal edges
    r, c = np.nonzero((a * b < 0) | ((a == 0) & (b != 0)))
    t = a[r, c] / (a[r, c] - b[r, c])
    out_x.append(xs[c] + t * (xs[c + 1] - xs[c]))
    out_y.append(ys[r])
    a, b = d[:-1, :], d[1:, :]  # vertical edges
    r, c = np.nonzero((a * b < 0) | ((a == 0) & (b != 0)))
    t = a[r, c] / (a[r, c] - b[r, c])
    out_x.append(xs[c])
    out_y.append(ys[r] + t * (ys[r + 1] - ys[r]))
    return np.concatenate(out_x), np.concatenate(out_y)


# --- the decision boundary as a picture (no hover needed): an SVG with the probability field as a PNG ---

CHART_W = 680  # natural width of every chart picture (px); the page stretches it, text stays >= 10 px at 1024


def class_colours(P: np.ndarray, opacity: float = 0.75) -> np.ndarray:
    """P(class 1) (…) -> (…, 3) uint8: CLASS_SCALE (orange at 0, white at 0.5, blue at 1) at `opacity` on white."""
    t = np.clip(np.asarray(P, dtype=float), 0.0, 1.0)[..., None]
    orange, white, blue = style.rgb(style.CLASS_COLOURS[0]), style.rgb(style.WHITE), style.rgb(style.CLASS_COLOURS[1])
    rgb = np.where(t < 0.5, orange + (white - orange) * (t / 0.5), white + (blue - white) * ((t - 0.5) / 0.5))
    return np.round(opacity * rgb + (1 - opacity) * white).astype(np.uint8)


def nice_ticks(lo: float, hi: float, count: int = 4) -> np.ndarray:
    """About `count` round tick values (steps of 1, 2 or 5 × 10^k) inside [lo, hi]."""
    raw = (hi - lo) / max(count, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = mag * min((m for m in (1, 2, 5, 10) if m * mag >= raw), default=10)
    return np.arange(np.ceil(lo / step - 1e-9), np.floor(hi / step + 1e-9) + 1) * step + 0.0


def _tick(v: float) -> str:
    return f"{v:g}".replace("-", "−")


def boundary_svg(grids: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], X: np.ndarray,
                 y: np.ndarray) -> str:
    """Small multiples of P(class 1) over the plane, each (title, xs (n,), ys (n,), P (n, n)), with the data
    (X (N, 2), y (N,)) and the 0.5 boundary: one SVG document whose probability fields are embedded PNGs."""
    xs0, ys0 = grids[0][1], grids[0][2]
    left, gap, top, bottom, bar = 40, 14, 26, 50, 62
    width = CHART_W
    pw = (width - left - bar - gap * (len(grids) - 1)) / len(grids)
    ph = min(pw * 1.25, pw * (ys0[-1] - ys0[0]) / (xs0[-1] - xs0[0]))  # one unit as long across as up (scaleanchor)
    height = top + ph + bottom
    body = [f'<clipPath id="bp-plot"><rect x="0" y="0" width="{pw:.1f}" height="{ph:.1f}"/></clipPath>']
    for k, (title, xs, ys, P) in enumerate(grids):
        x0 = left + k * (pw + gap)

        def px(v, xs=xs):
            return (np.asarray(v) - xs[0]) / (xs[-1] - xs[0]) * pw

        def py(v, ys=ys):
            return ph - (np.asarray(v) - ys[0]) / (ys[-1] - ys[0]) * ph

        dx, dy = (xs[-1] - xs[0]) / (len(xs) - 1) * pw / (xs[-1] - xs[0]), (ys[-1] - ys[0]) / (len(ys) - 1) * ph / (ys[-1] - ys[0])
        field = style.image_data_uri(class_colours(P[::-1]), lossless=True)  # image rows run top down, P's up
        panel = [f'<g class="panel" transform="translate({x0:.1f},{top})">',
                 f'<g clip-path="url(#bp-plot)"><image href="{field}" x="{-dx / 2:.1f}" y="{-dy / 2:.1f}" '
                 f'width="{pw + dx:.1f}" height="{ph + dy:.1f}" preserveAspectRatio="none"/>']
        bx, by = level_crossings(xs, ys, P)  # the 0.5 boundary as dots, one path: cheap to send and to draw
        if len(bx):
            dots = "".join(f"M{a:.1f},{b:.1f}h0" for a, b in zip(px(bx), py(by)))
            panel.append(f'<path class="boundary" d="{dots}" stroke="{style.INK}" stroke-width="2.6" '
                         'stroke-linecap="round"/>')
        for cls in (0, 1):
            m = y == cls
            panel += [f'<circle class="point class{cls}" cx="{a:.1f}" cy="{b:.1f}" r="4.5" '
                      f'fill="{style.CLASS_COLOURS[cls]}" stroke="{style.WHITE}"/>' for a, b in zip(px(X[m, 0]), py(X[m, 1]))]
        panel.append(f'</g><rect width="{pw:.1f}" height="{ph:.1f}" fill="none" stroke="{style.GRID}"/>')
        panel.append(_text(pw / 2, -9, title, size=14))
        for v in nice_ticks(xs[0], xs[-1], 2):
            panel.append(_text(float(px(v)), ph + 17, _tick(v), size=13, colour=style.SLATE))
        if k == 0:
            for v in nice_ticks(ys[0], ys[-1], 2 if ph < 100 else 3):
                panel.append(_text(-6, float(py(v)) + 4, _tick(v), size=13, anchor="end", colour=style.SLATE))
        panel.append("</g>")
        body.append("".join(panel))
    # the colour bar: the same mapping as the fields, 0 at the bottom
    cx = width - bar + 8
    ramp = style.image_data_uri(class_colours(np.linspace(1, 0, 64)[:, None]), lossless=True)
    body.append(f'<g class="colorbar"><image href="{ramp}" x="{cx:.1f}" y="{top}" width="14" height="{ph}" '
                f'preserveAspectRatio="none"/><rect x="{cx:.1f}" y="{top}" width="14" height="{ph}" fill="none" '
                f'stroke="{style.GRID}"/>' + _text(cx, top - 9, "P(1)", size=13, anchor="start")
                + "".join(_text(cx + 18, top + ph - v * ph + 4, f"{v:g}", size=13, anchor="start", colour=style.SLATE)
                          for v in (0, 0.5, 1)) + "</g>")
    legend_y = top + ph + 42
    items = [(f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="5" fill="{style.CLASS_COLOURS[0]}"/>', "class 0"),
             (f'<circle cx="{left + 96}" cy="{legend_y - 4}" r="5" fill="{style.CLASS_COLOURS[1]}"/>', "class 1"),
             (f'<path d="M{left + 186},{legend_y - 4}h0M{left + 192},{legend_y - 4}h0M{left + 198},{legend_y - 4}h0" '
              f'stroke="{style.INK}" stroke-width="2.6" stroke-linecap="round"/>', "where P(1) = 0.5: the boundary")]
    for k, (mark, label) in enumerate(items):
        body.append(mark + _text(left + 16 + 90 * k + (6 if k == 2 else 0), legend_y, label, size=13, anchor="start"))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" font-family="Helvetica, Arial, sans-serif" role="img" '
            f'aria-label="The probability of class 1 over the plane at {len(grids)} points of training, with the data">'
            + "".join(body) + "</svg>")


# --- loss curves as pictures: an SVG of lines (no plotly to lay out and redraw on every change) --------

def _sup(k: int) -> str:
    return str(k).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _decimate(ys: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most 2 points per bucket (each bucket's min and max, in step order): spikes survive, (T,) -> (K,), (K,)."""
    ys = np.asarray(ys, dtype=float)
    xs = np.arange(len(ys))
    if len(ys) <= 2 * buckets:
        return xs, ys
    edges = np.linspace(0, len(ys), buckets + 1).astype(int)
    keep = set()
    for a, b in zip(edges[:-1], edges[1:]):
        seg = ys[a:b]
        keep.update((a + int(np.argmin(seg)), a + int(np.argmax(seg))))
    idx = np.array(sorted(keep | {0, len(ys) - 1}))
    return xs[idx], ys[idx]


def lines_svg(panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray, str, float]]]], *,
              title: str | None = None, log_y: bool = False, y_title: str = "loss", x_title: str = "step",
              legend: bool = True, height: int = 250) -> str:
    """Small multiples of line charts, each (panel title, [(name, ys (T,), colour, width), ...]), own y-axes: an SVG."""
    left, gap, right = 58, 56, 14
    top = (24 if title else 6) + (20 if any(p[0] for p in panels) else 0)
    names = [(name, colour, width) for _, lines in panels for name, _, colour, width in lines if name] if legend else []
    bottom = 42 + (24 if names else 0)
    pw = (CHART_W - left - right - gap * (len(panels) - 1)) / len(panels)
    ph = height - top - bottom
    body = [_text(0, 16, title, size=15, bold=True, anchor="start")] if title else []
    for k, (panel_title, lines) in enumerate(panels):
        x0 = left + k * (pw + gap)
        values = np.concatenate([np.ravel(ys) for _, ys, _, _ in lines]).astype(float)
        finite = values[np.isfinite(values)]
        if log_y:
            finite = finite[finite > 0]
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        steps = max(len(ys) for _, ys, _, _ in lines) - 1
        if log_y:
            lo, hi = np.log10(lo), np.log10(hi)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad

        def sx(x, steps=steps, x0=x0):
            return x0 + np.asarray(x, float) / max(steps, 1) * pw

        def sy(v, lo=lo, hi=hi):
            v = np.asarray(v, dtype=float)
            if log_y:
                v = np.log10(np.maximum(v, 1e-300))
            return top + ph - (np.clip(v, lo - (hi - lo), hi + (hi - lo)) - lo) / (hi - lo) * ph

        panel = ['<g class="panel">']
        if log_y and hi - lo >= 1:  # a decade or more: powers of ten (as plotly's exponentformat "power")
            ticks = [(float(10.0 ** e), f"10{_sup(int(e))}") for e in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)]
            if len(ticks) < 3:  # one or two decades: 2 and 5 times each power as well, all written as decimals
                ticks = sorted((v, f"{v:g}") for v in [t for t, _ in ticks] + [
                    m * 10.0 ** e for e in range(int(np.floor(lo)), int(np.ceil(hi))) for m in (2, 5)
                    if lo <= np.log10(m * 10.0 ** e) <= hi])
            if len(ticks) > 6:
                ticks = ticks[:: int(np.ceil(len(ticks) / 5))]
        elif log_y:
            ticks = [(float(v), f"{v:.3g}") for v in nice_ticks(10 ** lo, 10 ** hi) if v > 0]
        else:
            ticks = [(float(v), _tick(float(f"{v:.6g}"))) for v in nice_ticks(lo, hi)]
        for v, label in ticks:
            y = float(sy(v))
            panel.append(f'<path d="M{x0:.1f},{y:.1f}h{pw:.1f}" stroke="{style.GRID}" stroke-width="1"/>')
            panel.append(_text(x0 - 6, y + 4, label.replace("-", "−"), size=13, anchor="end", colour=style.SLATE))
        for v in nice_ticks(0, steps, 4 if pw > 300 else 2):
            panel.append(_text(float(sx(v)), top + ph + 18, f"{v:g}", size=13, colour=style.SLATE))
        panel.append(_text(x0 + pw / 2, top + ph + 36, x_title, size=13, colour=style.SLATE))
        if panel_title:
            panel.append(_text(x0 + pw / 2, top - 8, panel_title, size=14, colour=style.SLATE))
        for name, ys, colour, width in lines:
            xs, vs = _decimate(ys, int(pw))
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(sx(xs), sy(vs)))
            panel.append(f'<polyline class="line" data-name="{escape(name)}" points="{pts}" fill="none" '
                         f'stroke="{colour}" stroke-width="{width}" stroke-linejoin="round"/>')
        panel.append("</g>")
        body.append("".join(panel))
    body.append(f'<text x="14" y="{top + ph / 2:.1f}" font-size="13" fill="{style.SLATE}" text-anchor="middle" '
                f'transform="rotate(-90 14 {top + ph / 2:.1f})">{escape(y_title)}</text>')
    x, y = left, height - 8
    for name, colour, width in names:
        body.append(f'<path d="M{x},{y - 4}h22" stroke="{colour}" stroke-width="{max(width, 2)}"/>'
                    + _text(x + 28, y, name, size=13, anchor="start"))
        x += 40 + 7.2 * len(name)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {height}" width="{CHART_W}" '
            f'height="{height}" font-family="Helvetica, Arial, sans-serif" role="img" '
            f'aria-label="{escape(title or y_title)}">' + "".join(body) + "</svg>")


def loss_curve_svg(curves: dict[str, np.ndarray], *, title: str = "Loss on the whole dataset") -> str:
    """One line per named loss history (each (T,)): an SVG."""
    lines = [(name, ys, style.PALETTE[k % len(style.PALETTE)], 2.0) for k, (name, ys) in enumerate(curves.items())]
    return lines_svg([("", lines)], title=title)


def side_by_side_svg(panels: Sequence[tuple[str, np.ndarray]], *, log_y: bool = False) -> str:
    """One loss curve per panel, side by side, each (title, ys (T,)), own y-axes: an SVG."""
    return lines_svg([(t, [("", ys, style.BLUE, 2.0)]) for t, ys in panels], log_y=log_y, legend=False, height=230)


def minibatch_svg(curves: dict[str, np.ndarray], full: str, *, title: str = "Loss on the batch used at each step") -> str:
    """Batch-loss histories (each (T,)): small batches faint and first, the full batch `full` bold and on top."""
    noisy = [k for k in curves if k != full]
    lines = [(name, curves[name], style.rgba(style.PALETTE[(k + 1) % len(style.PALETTE)], 0.55), 1.2)
             for k, name in enumerate(noisy)]
    if full in curves:
        lines.append((full, curves[full], style.INK, 3.5))
    return lines_svg([("", lines)], title=title, height=290)


def vanishing_figure(grads: dict[str, np.ndarray]) -> go.Figure:
    """|dL/dw_k| per layer (each (depth,)) for each activation, log scale."""
    fig = go.Figure()
    for name, g in grads.items():
        fig.add_trace(go.Bar(x=[f"layer {k + 1}" for k in range(len(g))], y=np.maximum(g, 1e-30), name=name))
    fig.update_layout(barmode="group", yaxis_title="|∂L/∂w| (log scale)")
    fig.update_yaxes(**_log_axis(np.concatenate([np.maximum(g, 1e-30) for g in grads.values()])))
    return _style(fig, title="Size of the gradient reaching each layer's weight")
