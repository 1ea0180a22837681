"""Figures for the Perceptron page: plotly Figures, and SVG or HTML strings where nothing needs hover or zoom."""

from __future__ import annotations

from functools import lru_cache
from html import escape

import numpy as np
import plotly.graph_objects as go

from explainers.figures import style
from explainers.figures.style import (
    CLASS_COLOURS,
    CLASS_REGIONS,
    HIGHLIGHT,
    NEGATIVE,
    POSITIVE,
    RIGHT,
    WRONG,
)
from explainers.formula_html import var
from explainers.perceptron import (
    ACTIVATION_LABELS,
    CurveFit,
    NeuronOutput,
    activate,
    fixed,
    weighted_sum_text,
)


def _clean(fig: go.Figure, height: int, title: str | None = None, legend: str | None = None) -> go.Figure:
    margin = {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}
    return style.styled(fig, height, title, margin=margin, legend=legend, **({"showlegend": True} if legend else {}))


@lru_cache(maxsize=len(ACTIVATION_LABELS) * 2)
def _activation_curve(name: str, span: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(z grid (401,), f(z) (401,), y low, y high) for one activation: the same for every slider position."""
    zs = np.linspace(-span, span, 401)
    ys = activate(zs, name)
    lo, hi = float(ys.min()), float(ys.max())
    pad = 0.08 * (hi - lo or 1.0)
    return zs, ys, lo - pad, hi + pad


def _ticks(lo: float, hi: float) -> np.ndarray:
    """Round tick values inside [lo, hi]: steps of 0.5, 1 or 2 depending on the span."""
    span = hi - lo
    step = 0.5 if span <= 3 else 1.0 if span <= 7 else 2.0
    return np.arange(np.ceil(lo / step) * step, hi + 1e-9, step)


def activation_figure(name: str, z: float, span: float = 6.0) -> str:
    """The activation curve over [-span, span] with the current z and output marked, as an SVG chart (in a div).

    Nothing here needs hover (the numbers are printed at the point), and an SVG of a few shapes is all
    the browser redraws when a weight, input or the bias moves; the curve itself is computed once.
    """
    zs, ys, ymin, ymax = _activation_curve(name, float(span))
    a = float(activate(z, name))
    # 360 wide: at its smallest (12 px text kept >= 10 px) it fits the page's right column at 1024 px.
    width, height, left, right, top, bottom = 360, 320, 50, 14, 40, 46

    def px(v):
        return left + (np.asarray(v, dtype=float) + span) / (2 * span) * (width - left - right)

    def py(v):
        return top + (ymax - np.asarray(v, dtype=float)) / (ymax - ymin) * (height - top - bottom)

    parts = [_svg_text(8, 20, f"{ACTIVATION_LABELS[name]} activation", 14, anchor="start", bold=True)]
    for t in _ticks(-span, span):
        x = float(px(t))
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="{style.GRID}"/>'
                     + _svg_text(x, height - bottom + 16, fixed(t, 0), 12))
    for t in _ticks(ymin, ymax):
        y = float(py(t))
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{style.GRID}"/>'
                     + _svg_text(left - 6, y + 4, fixed(t, 1), 12, anchor="end"))
    x0 = float(px(0))
    parts.append(f'<line x1="{x0:.1f}" y1="{top}" x2="{x0:.1f}" y2="{height - bottom}" stroke="{style.GREY}"/>')
    if ymin <= 0 <= ymax:
        y0 = float(py(0))
        parts.append(f'<line x1="{left}" y1="{y0:.1f}" x2="{width - right}" y2="{y0:.1f}" stroke="{style.GREY}"/>')
    parts.append(_svg_text((left + width - right) / 2, height - 8, "z = w·x + b", 12))
    parts.append(_svg_text(14, (top + height - bottom) / 2, "f(z)", 12).replace(
        "<text ", f'<text transform="rotate(-90 14 {(top + height - bottom) / 2:.1f})" ', 1))
    pts = " ".join(f"{u:.1f},{v:.1f}" for u, v in zip(px(zs), py(ys)))
    parts.append(f'<polyline class="curve" points="{pts}" fill="none" stroke="{style.CHARCOAL}" stroke-width="3"/>')
    zc = float(np.clip(z, -span, span))
    mx, my = float(px(zc)), float(py(a))
    base = float(py(min(max(0.0, ymin), ymax)))
    parts.append(f'<line x1="{mx:.1f}" y1="{base:.1f}" x2="{mx:.1f}" y2="{my:.1f}" stroke="{HIGHLIGHT}" '
                 'stroke-width="2" stroke-dasharray="3 3"/>')
    parts.append(f'<circle class="current" cx="{mx:.1f}" cy="{my:.1f}" r="7" fill="{HIGHLIGHT}"/>')
    anchor, dx = ("end", -10) if zc > 0 else ("start", 10)
    ty = max(my - 24, top + 12)
    parts.append(_svg_text(mx + dx, ty, f"z = {fixed(z, 2)}", 12, anchor=anchor)
                 + _svg_text(mx + dx, ty + 15, f"f(z) = {fixed(a, 3)}", 12, anchor=anchor))
    return (f'<div class="perc-activation"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px;min-width:{width * 10 / 12:.0f}px" role="img" '
            f'font-family="Helvetica, Arial, sans-serif">' + "".join(parts) + "</svg></div>")


def neuron_diagram(out: NeuronOutput) -> str:
    """Inputs -> neuron -> output as an SVG (in a div); edge width follows |w|, colour its sign (blue +, red −).

    A diagram needs no hover or zoom, so it goes to the browser as a few SVG shapes: nothing to lay out
    or re-render but the shapes themselves when a slider moves.
    """
    n = len(out.x)
    # 330 wide: at its smallest (11 px text kept >= 10 px) it fits the page's right column at 1024 px.
    width, height = 330, 300
    ys = np.linspace(54, height - 30, n) if n > 1 else np.array([height / 2])
    wmax = max(1e-9, float(np.abs(out.w).max()))
    cx, cy, ox = 180, height / 2, 290
    parts = [_svg_text(8, 18, "The neuron", 14, anchor="start", bold=True)]
    for i in range(n):
        w = float(out.w[i])
        colour = POSITIVE if w >= 0 else NEGATIVE
        opacity = 0.35 + 0.65 * abs(w) / wmax
        parts.append(f'<line class="edge" x1="48" y1="{ys[i]:.1f}" x2="{cx - 44}" y2="{cy:.1f}" stroke="{colour}" '
                     f'stroke-width="{1 + 9 * abs(w) / wmax:.2f}" stroke-opacity="{opacity:.2f}"/>')
        lx, ly = 48 + 0.45 * (cx - 92), ys[i] + 0.45 * (cy - ys[i])
        # A white halo behind the letters, not a box: on these short edges a box would hide the edge itself.
        parts.append(_svg_text(lx, ly + 4, f"w{i + 1}={fixed(w, 2)}", 12, colour).replace(
            "<text ", f'<text stroke="{style.WHITE}" stroke-width="7" stroke-linejoin="round" paint-order="stroke" ', 1))
    parts.append(f'<line x1="{cx + 44}" y1="{cy:.1f}" x2="{ox - 28}" y2="{cy:.1f}" stroke="{style.CHARCOAL}" stroke-width="3"/>')
    for i in range(n):
        parts.append(f'<circle cx="26" cy="{ys[i]:.1f}" r="22" fill="{style.PALE_GREY}" stroke="{style.MUTED}" stroke-width="2"/>'
                     + _svg_text(26, ys[i] - 3, f"x{i + 1}", 11) + _svg_text(26, ys[i] + 11, fixed(out.x[i], 2), 11))
    parts.append(f'<circle cx="{cx}" cy="{cy:.1f}" r="44" fill="{style.BLUE_WASH}" stroke="{POSITIVE}" stroke-width="3"/>'
                 + _svg_text(cx, cy - 4, "Σ + b", 12) + _svg_text(cx, cy + 13, f"z={fixed(out.z, 2)}", 12))
    parts.append(_svg_text(cx, cy + 66, f"bias b = {fixed(out.b, 2)}", 12))
    parts.append(f'<circle cx="{ox}" cy="{cy:.1f}" r="30" fill="{style.GREEN_PALE}" stroke="{RIGHT}" stroke-width="2"/>'
                 + _svg_text(ox, cy - 3, "f(z)", 11) + _svg_text(ox, cy + 12, fixed(out.a, 3), 11))
    return (f'<div class="perc-neuron"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px;min-width:{width * 10 / 11:.0f}px" role="img" '
            f'font-family="Helvetica, Arial, sans-serif">' + "".join(parts) + "</svg></div>")


def neuron_panel_html(out: NeuronOutput) -> str:
    """Everything the One-neuron tab shows for one setting: the neuron, z written out, a = f(z), the curve.

    HTML we built from our own numbers (escaped), for the browser panel beside the sliders.
    """
    z, a, f = var("z"), var("a"), var("f")
    return (neuron_diagram(out)
            + f"<p><b>Weighted sum:</b> {z} = {escape(weighted_sum_text(out))}</p>"
            + f"<p><b>Output:</b> {a} = {f}({z}) = <b>{escape(fixed(out.a, 4))}</b></p>"
            + activation_figure(out.activation, out.z))


def _svg_text(x: float, y: float, text: str, size: int, colour: str = style.INK, *, anchor: str = "middle",
              bold: bool = False) -> str:
    weight = ' font-weight="700"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"{weight}>'
            f"{escape(text)}</text>")


def _grid(lo: float, hi: float, steps: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.linspace(lo, hi, steps)
    xx, yy = np.meshgrid(g, g)
    return g, xx, yy


def _region_key(fig: go.Figure) -> None:
    """A legend key for the shaded regions (plotly draws no legend swatch for a filled area's colour)."""
    for cls in (0, 1):
        fig.add_scatter(x=[None], y=[None], mode="markers", name=f"predicted {cls}", showlegend=True,
                        marker=dict(size=14, symbol="square", color=CLASS_REGIONS[cls], line=dict(width=1, color=style.GREY)))


def _points(fig: go.Figure, X: np.ndarray, y: np.ndarray, highlight: int | None = None,
            highlight_wrong: bool = False, wrong: np.ndarray | None = None) -> None:
    """Data points by class; optionally a ring on the last example and a cross on every misclassified one."""
    for cls in (0, 1):
        m = y == cls
        fig.add_scatter(
            x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {cls}", showlegend=True,
            marker=dict(size=13, color=CLASS_COLOURS[cls], line=dict(width=1.5, color=style.WHITE),
                        symbol="circle" if cls else "square"),
        )
    if wrong is not None and wrong.any():
        fig.add_scatter(
            x=X[wrong, 0], y=X[wrong, 1], mode="markers", name="misclassified", showlegend=True,
            marker=dict(size=22, symbol="x-thin-open", line=dict(width=3, color=WRONG)),
        )
    if highlight is not None:
        fig.add_scatter(
            x=[X[highlight, 0]], y=[X[highlight, 1]], mode="markers", name="last example", showlegend=True,
            marker=dict(size=28, color="rgba(0,0,0,0)", line=dict(width=3, color=WRONG if highlight_wrong else RIGHT)),
        )


def half_plane_polygon(w: np.ndarray, b: float, lo: float, hi: float, sign: int) -> np.ndarray:
    """Corners of the square [lo, hi]² where sign·(w·x + b) >= 0 (Sutherland–Hodgman clip): (k, 2)."""
    square = np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]], dtype=float)
    if not np.any(w):  # no line: step(b) decides the whole square (step(0) = 1)
        return square if (b >= 0) == (sign > 0) else np.empty((0, 2))
    value = sign * (square @ w + b)
    out = []
    for i in range(4):
        p, q, vp, vq = square[i], square[(i + 1) % 4], value[i], value[(i + 1) % 4]
        if vp >= 0:
            out.append(p)
        if (vp >= 0) != (vq >= 0):
            out.append(p + (q - p) * vp / (vp - vq))  # where the edge crosses w·x + b = 0
    return np.array(out).reshape(-1, 2)


def boundary_figure(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, *,
    highlight: int | None = None, highlight_wrong: bool = False, title: str = "Decision boundary",
) -> go.Figure:
    """Shaded regions of step(w·x + b), the line w·x + b = 0, and the data coloured by class."""
    w = np.asarray(w, dtype=float)
    lo, hi = float(min(X.min(), 0) - 0.35), float(max(X.max(), 1) + 0.35)
    fig = go.Figure()
    # Two exact polygons instead of a pixel grid: crisp at any zoom and a tiny payload.
    for sign, colour in ((1, CLASS_REGIONS[1]), (-1, CLASS_REGIONS[0])):
        poly = half_plane_polygon(w, b, lo, hi, sign)
        if len(poly) >= 3:
            fig.add_scatter(x=[*poly[:, 0], poly[0, 0]], y=[*poly[:, 1], poly[0, 1]], fill="toself",
                            fillcolor=colour, line=dict(width=0), mode="lines", hoverinfo="skip", showlegend=False)
    _region_key(fig)
    if abs(w[1]) > 1e-12:
        xs = np.array([lo, hi])
        fig.add_scatter(x=xs, y=-(w[0] * xs + b) / w[1], mode="lines", line=dict(color=style.INK, width=3),
                        name="w·x+b=0", showlegend=False)
    elif abs(w[0]) > 1e-12:
        fig.add_scatter(x=[-b / w[0]] * 2, y=[lo, hi], mode="lines", line=dict(color=style.INK, width=3),
                        name="w·x+b=0", showlegend=False)
    wrong = (X @ w + b >= 0).astype(int) != y
    _points(fig, X, y, highlight, highlight_wrong, wrong)
    fig.update_xaxes(range=[lo, hi], title="x1", constrain="domain", showgrid=False)
    fig.update_yaxes(range=[lo, hi], title="x2", scaleanchor="x", scaleratio=1, showgrid=False)
    return _clean(fig, 440, title, legend="below")


def output_regions_figure(X: np.ndarray, y: np.ndarray, grid_fn, title: str) -> go.Figure:
    """Regions where grid_fn(points (m, 2)) >= 0, with the zero contour drawn as the boundary."""
    lo, hi = -0.35, 1.35
    g, xx, yy = _grid(lo, hi, 90)
    out = grid_fn(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    fig = go.Figure()
    # Two hard regions: a two-colour scale, keyed in the legend (a colour bar would suggest a continuum).
    two = [[0.0, CLASS_REGIONS[0]], [0.5, CLASS_REGIONS[0]], [0.5, CLASS_REGIONS[1]], [1.0, CLASS_REGIONS[1]]]
    fig.add_heatmap(x=g, y=g, z=(out >= 0).astype(float), colorscale=two, zmin=0, zmax=1,
                    showscale=False, hoverinfo="skip")
    _region_key(fig)
    fig.add_contour(x=g, y=g, z=out, contours=dict(start=0, end=0, size=1, coloring="none"),
                    line=dict(color=style.INK, width=3), showscale=False, hoverinfo="skip", showlegend=False)
    _points(fig, X, y)
    fig.update_xaxes(range=[lo, hi], title="x1", constrain="domain")
    fig.update_yaxes(range=[lo, hi], title="x2", scaleanchor="x", scaleratio=1)
    return _clean(fig, 400, title, legend="below")


def mistakes_figure(mistakes_per_epoch: tuple[int, ...]) -> go.Figure:
    """Mistakes made in each epoch of the learning rule; zero means converged."""
    epochs = np.arange(1, len(mistakes_per_epoch) + 1)
    fig = go.Figure()
    fig.add_bar(x=epochs, y=list(mistakes_per_epoch),
                marker_color=[WRONG if m else RIGHT for m in mistakes_per_epoch])
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None)
    fig.update_yaxes(title="mistakes", rangemode="tozero", gridcolor=style.GRID)
    return _clean(fig, 260, "Mistakes per epoch")


def curve_figure(fit: CurveFit) -> str:
    """The target curve, the ReLU network's fit and a tick at each unit's kink, as an SVG line chart (in a div).

    Nothing here needs hover: an SVG arrives with its page, so the chart and its text are there at once.
    """
    width, height, left, right, top, bottom = 640, 330, 52, 12, 30, 74
    ymin = float(min(fit.target.min(), fit.prediction.min())) - 0.25
    ymax = float(max(fit.target.max(), fit.prediction.max())) + 0.1

    def px(x: np.ndarray) -> np.ndarray:
        return left + (np.asarray(x) + 1) / 2 * (width - left - right)

    def py(y: np.ndarray) -> np.ndarray:
        return top + (ymax - np.asarray(y)) / (ymax - ymin) * (height - top - bottom)

    def polyline(ys: np.ndarray, colour: str, w: float, cls: str) -> str:
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(fit.x), py(ys)))
        return f'<polyline class="{cls}" points="{pts}" fill="none" stroke="{colour}" stroke-width="{w}"/>'

    parts = [_svg_text(8, 18, "One hidden layer of ReLU units drawing a wiggly curve", 14, anchor="start", bold=True)]
    for t in (-1.0, -0.5, 0.0, 0.5, 1.0):  # x grid and ticks
        x = float(px(t))
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="{style.GRID}"/>'
                     + _svg_text(x, height - bottom + 16, fixed(t, 1), 12))
    for t in np.arange(np.ceil(ymin * 2) / 2, ymax, 0.5):  # y grid every 0.5
        y = float(py(t))
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{style.GRID}"/>'
                     + _svg_text(left - 6, y + 4, fixed(t, 1), 12, anchor="end"))
    parts.append(_svg_text((left + width - right) / 2, height - bottom + 34, "x", 12))
    parts.append(polyline(fit.target, style.GREY, 5, "target"))
    parts.append(polyline(fit.prediction, POSITIVE, 2.5, "fit"))
    inside = fit.kinks[(fit.kinks >= -1) & (fit.kinks <= 1)]
    base = height - bottom
    parts += [f'<line class="kink" x1="{px(k):.1f}" y1="{base - 12}" x2="{px(k):.1f}" y2="{base}" '
              f'stroke="{HIGHLIGHT}" stroke-width="2"/>' for k in inside]
    legend = [("the function to draw", style.GREY, 5), (f"{len(fit.w1)} ReLU units", POSITIVE, 2.5), ("kinks", HIGHLIGHT, 2)]
    lx = left
    for name, colour, w in legend:
        parts.append(f'<line x1="{lx}" y1="{height - 14}" x2="{lx + 24}" y2="{height - 14}" stroke="{colour}" '
                     f'stroke-width="{w}"/>' + _svg_text(lx + 30, height - 10, name, 12, anchor="start"))
        lx += 40 + 7 * len(name)
    return (f'<div class="perc-curve"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px;min-width:{width * 10 / 12:.0f}px" role="img" '
            f'font-family="Helvetica, Arial, sans-serif">' + "".join(parts) + "</svg></div>")
