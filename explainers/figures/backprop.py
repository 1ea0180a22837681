"""Figures for the Backprop page: the computational graph as graphviz DOT, and plotly charts.

No streamlit here, so every builder is unit-tested (tests/unit/test_backprop_figures.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainers.autograd import Graph, GraphNode
from explainers.figures import style

CURRENT = style.AMBER  # the node being processed
UPDATED = style.AMBER_PALE  # nodes whose gradient this step adds to
PARAM, PARAM_DONE = style.BLUE_WASH, style.BLUE_LIGHT
OP, OP_DONE = style.WHITE, style.GREEN_PALE
INPUT = style.PALE_GREY
GROUP_TITLES = {"out": "output neuron", "loss": "loss"}
FONT = "Helvetica"


def _fmt(v: float) -> str:
    text = f"{v:.2f}" if v == 0 or abs(v) >= 0.005 else f"{v:.0e}"
    return text.replace("-", "−")


def _group_title(group: str) -> str:
    return GROUP_TITLES.get(group, f"hidden neuron {group[1:]}" if group.startswith("h") else group)


def _fill(kind: str, reached: bool) -> str:
    if kind == "param":
        return PARAM_DONE if reached else PARAM
    if kind == "input":
        return INPUT
    return OP_DONE if reached else OP


def _header(rankdir: str = "LR", fontsize: int = 14) -> list[str]:
    return [
        "digraph backprop {",
        f"  rankdir={rankdir}; bgcolor=transparent; nodesep=0.12; ranksep=0.2; newrank=true;",
        (f'  node [shape=box style="rounded,filled" fontname={FONT} fontsize={fontsize} margin="0.05,0.03" '
        f'color="{style.MUTED}" penwidth=1];'),
        f'  edge [color="{style.GREY}" arrowsize=0.6];',
        f"  graph [fontname={FONT} fontsize=13];",
    ]


def _node_line(name: str, title: str, value: float, grad: float, reached: bool, fill: str,
               current: bool, shape: str = "box") -> str:
    grad_text = f"grad {_fmt(grad)}" if reached else "grad ?"
    label = f"{title}\\n{_fmt(value)}\\n{grad_text}"
    look = ("rounded," if shape != "param" else "") + ("filled,bold" if current else "filled")
    shape = "box" if shape == "param" else shape
    pen = 3 if current else 1
    color = style.AMBER_DARK if current else style.MUTED
    return (f'  {name} [label="{label}" shape={shape} style="{look}" fillcolor="{fill}" '
            f'penwidth={pen} color="{color}"];')


def _title(node: GraphNode) -> str:
    return node.label if node.kind != "op" else node.op


def graph_dot(graph: Graph, grads: Sequence[float], reached: Sequence[bool], *,
              current: int | None = None, updated: Sequence[int] = ()) -> str:
    """Every operation as a node, neurons as boxes around their ops: DOT source.

    The chain from input to loss is about 11 nodes long, so labels are kept short (2 decimals,
    boxes rather than ellipses) to keep the picture narrow enough to be drawn near full size.
    """
    lines = _header("LR", 14)
    updated_set = set(updated)

    def line(n: GraphNode) -> str:
        fill = CURRENT if n.index == current else UPDATED if n.index in updated_set else _fill(n.kind, reached[n.index])
        shape = "param" if n.kind == "param" else "box"
        return _node_line(f"n{n.index}", _title(n), n.data, grads[n.index], reached[n.index], fill,
                          n.index == current, shape)

    groups: dict[str, list[GraphNode]] = {}
    for n in graph.nodes:
        if n.group:
            groups.setdefault(n.group, []).append(n)
        else:
            lines.append(line(n))
    for g, members in groups.items():
        lines.append(f"  subgraph cluster_{g} {{")
        lines.append(f'    label="{_group_title(g)}"; style="rounded,dashed"; color="{style.GREY}"; '
                     f'fontcolor="{style.SLATE}"; labeljust=l;')
        lines.extend("  " + line(n) for n in members)
        lines.append("  }")
    lines.extend(f"  n{c} -> n{p};" for c, p in graph.edges)
    lines.append("}")
    return "\n".join(lines)


def _cell(text: str, fill: str | None = None, bold: bool = False, align: str = "LEFT", width: int = 0) -> str:
    body = f"<B>{text}</B>" if bold else text
    bg = f' BGCOLOR="{fill}"' if fill else ""
    size = f' WIDTH="{width}"' if width else ""
    return f'<TD ALIGN="{align}"{bg}{size}>{body}</TD>'


def compact_dot(graph: Graph, grads: Sequence[float], reached: Sequence[bool], *,
                current: int | None = None, updated: Sequence[int] = ()) -> str:
    """One node per neuron, its parameters listed inside it with value and gradient: DOT source."""
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

    def grad_text(i: int) -> str:
        return _fmt(grads[i]) if reached[i] else "?"

    def row(i: int, name: str) -> str:
        fill = UPDATED if i in updated_set else None
        if i == current:
            fill = CURRENT
        return ("<TR>" + _cell(name, fill) + _cell(_fmt(graph.nodes[i].data), fill, align="RIGHT", width=48)
                + _cell("grad " + grad_text(i), fill, align="RIGHT", width=80) + "</TR>")

    lines = _header()
    for n in graph.nodes:
        if n.kind == "input" or (n.kind != "op" and n.index not in owner):
            fill = CURRENT if n.index == current else UPDATED if n.index in updated_set else INPUT
            lines.append(_node_line(f"n{n.index}", n.label, n.data, grads[n.index], reached[n.index], fill,
                                    n.index == current, "ellipse"))
    for g, h in head.items():
        is_current = g == current_group
        title = _group_title(g) + (f" ({h.op})" if h.op in ("sigmoid", "tanh", "relu") else "")
        mine = sorted((i for i in owner if owner[i] == g), key=lambda i: (graph.nodes[i].label[0] == "b", graph.nodes[i].label))
        rows = [row(i, graph.nodes[i].label) for i in mine]
        out_name = "loss L" if g == "loss" else "output p" if g == "out" else "output a"
        out_row = row(h.index, out_name) if h.index != current else row(h.index, out_name + " ◀")
        table = ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">'
                 f'<TR><TD COLSPAN="3"{" BGCOLOR=" + chr(34) + CURRENT + chr(34) if is_current else ""}>'
                 f"<B>{title}</B></TD></TR>" + "".join(rows) + out_row + "</TABLE>")
        fill = OP_DONE if reached[h.index] else OP
        pen, color = (3, style.AMBER_DARK) if is_current else (1, style.MUTED)
        lines.append(f'  g_{g} [shape=box style="rounded,filled" fillcolor="{fill}" penwidth={pen} '
                     f'color="{color}" margin="0.05,0.03" label=<{table}>];')

    hidden = [f"g_{g}" for g in sorted(head) if g.startswith("h")]
    if len(hidden) > 1:  # keep hidden neurons 1..H in order from top to bottom
        lines.append("  { rank=same; " + " -> ".join(hidden) + " [style=invis]; }")

    def cid(i: int) -> str | None:
        n = graph.nodes[i]
        if n.group:
            return f"g_{n.group}"
        return None if i in owner else f"n{i}"

    seen = set()
    for c, p in graph.edges:
        a, b = cid(c), cid(p)
        if a and b and a != b and (a, b) not in seen:
            seen.add((a, b))
            lines.append(f"  {a} -> {b};")
    lines.append("}")
    return "\n".join(lines)


def _style(fig: go.Figure, height: int = 340, title: str | None = None) -> go.Figure:
    return style.styled(fig, height, title, legend="below", grid=True, margin={"l": 10, "r": 10, "t": 40, "b": 10})


def loss_curve_figure(curves: dict[str, np.ndarray], *, title: str = "Loss on the whole dataset",
                      x_title: str = "step", log_y: bool = False) -> go.Figure:
    """One line per named loss history (each (T,))."""
    fig = go.Figure()
    for name, ys in curves.items():
        fig.add_trace(go.Scatter(x=np.arange(len(ys)), y=ys, mode="lines", name=name))
    fig.update_layout(xaxis_title=x_title, yaxis_title="loss")
    if log_y:
        fig.update_yaxes(type="log")
    return _style(fig, title=title)


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


def boundary_figure(grids: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], X: np.ndarray,
                    y: np.ndarray) -> go.Figure:
    """Small multiples of P(class 1) over the plane, each (title, xs (n,), ys (n,), P (n, n)), with the data."""
    k = len(grids)
    fig = make_subplots(rows=1, cols=k, subplot_titles=[g[0] for g in grids], horizontal_spacing=0.03)
    for col, (_, xs, ys, P) in enumerate(grids, start=1):
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=P, zmin=0, zmax=1, colorscale=style.CLASS_SCALE, opacity=0.75,
                                 showscale=col == k, colorbar={"title": "P(1)", "len": 0.9}), row=1, col=col)
        bx, by = level_crossings(xs, ys, P)  # the 0.5 boundary as dots: much cheaper to draw than a contour
        fig.add_trace(go.Scatter(x=bx, y=by, mode="markers", marker={"color": style.INK, "size": 3}, showlegend=False,
                                 hoverinfo="skip"), row=1, col=col)
        for cls in (0, 1):
            m = y == cls
            fig.add_trace(go.Scatter(x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {cls}",
                                     showlegend=col == 1, legendgroup=str(cls),
                                     marker={"color": style.CLASS_COLOURS[cls], "size": 9, "line": {"color": style.WHITE, "width": 1}}),
                          row=1, col=col)
        fig.update_xaxes(range=[xs[0], xs[-1]], row=1, col=col)
        fig.update_yaxes(range=[ys[0], ys[-1]], showticklabels=col == 1, scaleanchor=f"x{col if col > 1 else ''}",
                         row=1, col=col)
    return _style(fig, 330)


def side_by_side_figure(panels: Sequence[tuple[str, np.ndarray]], *, y_title: str = "loss",
                        log_y: bool = False) -> go.Figure:
    """One loss curve per panel, side by side, each (title, ys (T,)); own y-axes so each shape shows."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.06)
    for col, (_, ys) in enumerate(panels, start=1):
        fig.add_trace(go.Scatter(x=np.arange(len(ys)), y=ys, mode="lines", showlegend=False,
                                 line={"color": style.BLUE}), row=1, col=col)
        fig.update_xaxes(title_text="step", row=1, col=col)
    fig.update_yaxes(title_text=y_title, row=1, col=1)
    if log_y:
        fig.update_yaxes(type="log")
    return _style(fig, 300)


def vanishing_figure(grads: dict[str, np.ndarray]) -> go.Figure:
    """|dL/dw_k| per layer (each (depth,)) for each activation, log scale."""
    fig = go.Figure()
    for name, g in grads.items():
        fig.add_trace(go.Bar(x=[f"layer {k + 1}" for k in range(len(g))], y=np.maximum(g, 1e-30), name=name))
    fig.update_layout(barmode="group", yaxis_title="|∂L/∂w| (log scale)")
    fig.update_yaxes(type="log", exponentformat="power")
    return _style(fig, title="Size of the gradient reaching each layer's weight")
