"""Plotly figures for the Perceptron page. Builders take explainer results and return Figures."""

from __future__ import annotations

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
from explainers.perceptron import (
    ACTIVATION_LABELS,
    CurveFit,
    NeuronOutput,
    activate,
    fixed,
)


def _clean(fig: go.Figure, height: int, title: str | None = None, legend: str | None = None) -> go.Figure:
    margin = {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}
    return style.styled(fig, height, title, margin=margin, legend=legend, **({"showlegend": True} if legend else {}))


def activation_figure(name: str, z: float, span: float = 6.0) -> go.Figure:
    """The activation curve over [-span, span] with the current z and output marked."""
    zs = np.linspace(-span, span, 401)
    a = float(activate(z, name))
    fig = go.Figure()
    fig.add_scatter(x=zs, y=activate(zs, name), mode="lines", line=dict(color=style.CHARCOAL, width=3), name="f(z)")
    zc = float(np.clip(z, -span, span))
    fig.add_scatter(x=[zc, zc], y=[0, a], mode="lines", line=dict(color=HIGHLIGHT, dash="dot"), hoverinfo="skip")
    fig.add_scatter(
        x=[zc], y=[a], mode="markers+text", marker=dict(size=14, color=HIGHLIGHT),
        text=[f"z = {fixed(z, 2)}<br>f(z) = {fixed(a, 3)}"], textposition="top left" if zc > 0 else "top right",
        name="current",
    )
    fig.update_xaxes(title="z = w·x + b", zeroline=True, zerolinecolor=style.GREY, gridcolor=style.GRID)
    fig.update_yaxes(title="f(z)", zeroline=True, zerolinecolor=style.GREY, gridcolor=style.GRID)
    return _clean(fig, 320, f"{ACTIVATION_LABELS[name]} activation")


def neuron_diagram(out: NeuronOutput) -> go.Figure:
    """Inputs -> neuron -> output; edge width follows |w|, colour its sign (blue +, red −)."""
    n = len(out.x)
    ys = np.linspace(1, -1, n) if n > 1 else np.zeros(1)
    wmax = max(1e-9, float(np.abs(out.w).max()))
    fig = go.Figure()
    for i in range(n):
        w = out.w[i]
        fig.add_scatter(
            x=[0, 1], y=[ys[i], 0], mode="lines", hoverinfo="text",
            text=f"w{i + 1} = {fixed(w, 2)}",
            line=dict(width=1 + 9 * abs(w) / wmax, color=POSITIVE if w >= 0 else NEGATIVE),
            opacity=0.35 + 0.65 * abs(w) / wmax,
        )
        fig.add_annotation(x=0.45, y=ys[i] * 0.55, text=f"w{i + 1}={fixed(w, 2)}", showarrow=False,
                           font=dict(size=12, color=POSITIVE if w >= 0 else NEGATIVE), bgcolor=style.WHITE)
    fig.add_scatter(x=[1, 1.75], y=[0, 0], mode="lines", line=dict(width=3, color=style.CHARCOAL), hoverinfo="skip")
    fig.add_scatter(
        x=np.zeros(n), y=ys, mode="markers+text", marker=dict(size=34, color=style.PALE_GREY, line=dict(width=2, color=style.MUTED)),
        text=[f"x{i + 1}<br>{fixed(v, 2)}" for i, v in enumerate(out.x)], textfont=dict(size=11, color=style.INK), hoverinfo="skip",
    )
    fig.add_scatter(
        x=[1], y=[0], mode="markers+text", marker=dict(size=70, color=style.BLUE_WASH, line=dict(width=3, color=POSITIVE)),
        text=[f"Σ + b<br>z={fixed(out.z, 2)}"], textfont=dict(size=12, color=style.INK), hoverinfo="skip",
    )
    fig.add_scatter(
        x=[1.75], y=[0], mode="markers+text", marker=dict(size=46, color=style.GREEN_PALE, line=dict(width=2, color=RIGHT)),
        text=[f"f(z)<br>{fixed(out.a, 3)}"], textfont=dict(size=11, color=style.INK), hoverinfo="skip",
    )
    fig.add_annotation(x=1, y=-0.42, text=f"bias b = {fixed(out.b, 2)}", showarrow=False, font=dict(size=12))
    fig.update_xaxes(visible=False, range=[-0.3, 2.05])
    fig.update_yaxes(visible=False, range=[-1.35, 1.35])
    return _clean(fig, 320, "The neuron")


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


def curve_figure(fit: CurveFit) -> go.Figure:
    """The target curve, the ReLU network's fit, and a tick at each unit's kink."""
    fig = go.Figure()
    fig.add_scatter(x=fit.x, y=fit.target, mode="lines", name="the function to draw",
                    line=dict(color=style.GREY, width=5))
    fig.add_scatter(x=fit.x, y=fit.prediction, mode="lines", name=f"{len(fit.w1)} ReLU units",
                    line=dict(color=POSITIVE, width=2.5))
    inside = fit.kinks[(fit.kinks >= -1) & (fit.kinks <= 1)]
    low = float(min(fit.target.min(), fit.prediction.min())) - 0.15
    fig.add_scatter(x=inside, y=np.full(len(inside), low), mode="markers", name="kinks",
                    marker=dict(symbol="line-ns-open", size=14, line=dict(width=2, color=HIGHLIGHT)), hoverinfo="x")
    fig.update_xaxes(title="x", gridcolor=style.GRID)
    fig.update_yaxes(title="f(x)", gridcolor=style.GRID)
    return _clean(fig, 340, "One hidden layer of ReLU units drawing a wiggly curve", legend="below")
