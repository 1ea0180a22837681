"""Plotly figures for the Scaling out page: gradients per rank, the ring all-reduce, loss per rank,
where each layer lives, and the pipeline timeline with its bubble. Plotly + numpy only.

Builders take the plain results of ``explainers.scaling`` (numpy arrays, lists of slots) and
return ``go.Figure``. Colours follow the app's palette: blue positive, red negative (diverging
scale white at zero), one palette colour per rank or micro-batch, grey for idle time.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import plotly.graph_objects as go

from explainers.figures import style
from explainers.figures.style import (
    BLUE,
    BLUE_WASH,
    DIVERGING,
    INK,
    MUTED,
    ORANGE,
    PALE_GREY,
    PALETTE,
    RED,
    WHITE,
)

_MARGIN = {"l": 60, "r": 20, "t": 50, "b": 45}


def _layout(fig: go.Figure, title: str, height: int = 320, legend: str | None = None, **kw) -> go.Figure:
    if legend != "below":
        return style.styled(fig, height, title, legend=legend, margin=_MARGIN, grid=True, **kw)
    # Below the plot: more bottom margin and a lower legend, so it clears the x-axis title.
    style.styled(fig, height + 50, title, legend=legend, margin={**_MARGIN, "b": 95}, grid=True, **kw)
    return fig.update_layout(legend_y=-0.32)


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def gradient_rows(local: np.ndarray, reduced: np.ndarray, max_cols: int = 48) -> tuple[np.ndarray, list[str]]:
    """(N, K) local and reduced gradients -> (2N+1, min(K, max_cols)) rows to draw and their labels.

    Rows: each rank's own gradient, the mean of those rows (computed here), then p.grad on each
    rank after DDP's all-reduce. Only the first ``max_cols`` entries are kept (a wide layer
    would be a grey smear).
    """
    local, reduced = np.asarray(local, float), np.asarray(reduced, float)
    n, k = local.shape
    cols = min(k, max_cols)
    rows = [*local[:, :cols], local[:, :cols].mean(axis=0), *reduced[:, :cols]]
    labels = [f"rank {r}: own gradient" for r in range(n)] + ["mean of the rows above"]
    labels += [f"rank {r}: p.grad after all-reduce" for r in range(n)]
    return np.stack(rows), labels


def gradients_figure(local: np.ndarray, reduced: np.ndarray, layer: str, max_cols: int = 48) -> go.Figure:
    """Heatmap: each rank's local gradient of ``layer``, their mean, and the all-reduced gradient on every rank."""
    z, labels = gradient_rows(local, reduced, max_cols)
    lim = float(np.abs(z).max()) or 1.0
    n = local.shape[0]
    fig = go.Figure(go.Heatmap(
        z=z[::-1], y=labels[::-1], colorscale=DIVERGING, zmin=-lim, zmax=lim, xgap=1, ygap=1,
        colorbar={"title": "∂L/∂w", "thickness": 12},
        hovertemplate="%{y}<br>entry %{x}: %{z:.3e}<extra></extra>"))
    fig.add_hline(y=n - 0.5, line={"color": INK, "width": 2})  # between the reduced rows and the mean
    fig.add_hline(y=n + 0.5, line={"color": INK, "width": 2})
    fig.update_xaxes(title=f"the first {z.shape[1]} entries of {layer}'s gradient (flattened)")
    return _layout(fig, f"Step 1, {layer}: different gradients in, one average out", height=90 + 34 * z.shape[0])


def ring_figure(counts: Sequence[np.ndarray], captions: Sequence[str], contributors: Sequence[np.ndarray]) -> go.Figure:
    """Animated ring all-reduce: per frame an (N ranks, N chunks) grid coloured by how many ranks each chunk sums."""
    n = counts[0].shape[0]
    x = [f"chunk {c}" for c in range(n)]
    y = [f"rank {r}" for r in range(n)]

    def text(who: np.ndarray) -> list[list[str]]:
        return [["+".join(f"g{s}" for s in np.flatnonzero(who[r, c])) for c in range(n)] for r in range(n)]

    def heat(i: int) -> go.Heatmap:
        return go.Heatmap(z=counts[i], x=x, y=y, zmin=1, zmax=n, text=text(contributors[i]),
                          texttemplate="%{text}", colorscale=[[0, BLUE_WASH], [1, BLUE]], showscale=False,
                          xgap=3, ygap=3, hovertemplate="%{y}, %{x}: sum of %{z} rank(s)<extra></extra>")

    frames = [go.Frame(data=[heat(i)], name=str(i), layout={"title": {"text": captions[i]}})
              for i in range(len(counts))]
    fig = go.Figure(data=[heat(0)], frames=frames)
    steps = [{"args": [[str(i)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
              "label": str(i), "method": "animate"} for i in range(len(counts))]
    fig.update_layout(
        sliders=[{"steps": steps, "currentvalue": {"prefix": "step "}, "pad": {"t": 30}}],
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.25, "xanchor": "left",
                      "buttons": [{"label": "▶ play", "method": "animate",
                                   "args": [None, {"frame": {"duration": 900, "redraw": True}, "fromcurrent": True}]}]}])
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, captions[0], height=170 + 45 * n)


def loss_per_rank_figure(losses: np.ndarray) -> go.Figure:
    """(steps, N) each rank's loss on its own slice, and their mean (the loss of the global batch)."""
    losses = np.asarray(losses, float)
    steps = np.arange(1, losses.shape[0] + 1)
    fig = go.Figure()
    for r in range(losses.shape[1]):
        fig.add_scatter(x=steps, y=losses[:, r], mode="lines+markers", name=f"rank {r}",
                        line={"color": _colour(r), "width": 1.5})
    fig.add_scatter(x=steps, y=losses.mean(axis=1), mode="lines", name="mean over ranks",
                    line={"color": INK, "width": 3, "dash": "dot"})
    fig.update_xaxes(title="step", dtick=1)
    fig.update_yaxes(title="cross-entropy on the rank's own slice")
    return _layout(fig, "Loss per rank: different data, one shared model", legend="below")


def placement_figure(placements: Sequence[tuple[str, str, int]], messages: Sequence[tuple[str, str, str, str]]) -> go.Figure:
    """Where each layer lives: one column per device; arrows for (what, from, to, label) messages."""
    places: list[str] = []
    for _, where, _ in placements:
        if where not in places:
            places.append(where)
    fig = go.Figure()
    rows: dict[str, int] = {}
    for layer, where, params in placements:
        col = places.index(where)
        row = rows.get(where, 0)
        rows[where] = row + 1
        x0, y0 = col * 3.0, -row * 1.2
        fig.add_shape(type="rect", x0=x0, x1=x0 + 2, y0=y0 - 0.45, y1=y0 + 0.45, line={"color": _colour(col)},
                      fillcolor=_colour(col), opacity=0.18)
        fig.add_annotation(x=x0 + 1, y=y0, text=f"<b>{layer}</b><br>{params} parameters", showarrow=False)
    for col, where in enumerate(places):
        fig.add_annotation(x=col * 3.0 + 1, y=0.95, text=f"<b>{where}</b>", showarrow=False,
                           font={"color": _colour(col)})
    depth = max(rows.values(), default=1)
    for i, (what, src, dst, label) in enumerate(messages):
        if src not in places or dst not in places:
            continue
        forward = places.index(src) < places.index(dst)
        y = -0.3 - 1.2 * (depth - 1) * (i + 1) / (len(messages) + 1)
        xs, xd = places.index(src) * 3.0 + (2 if forward else 0), places.index(dst) * 3.0 + (0 if forward else 2)
        colour = BLUE if what == "activation" else RED
        fig.add_annotation(x=xd, y=y, ax=xs, ay=y, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=3, arrowwidth=2, arrowcolor=colour, text="")
        fig.add_annotation(x=(xs + xd) / 2, y=y + 0.18, text=f"{what}: {label}", showarrow=False,
                           font={"color": colour, "size": 11})
    fig.update_xaxes(visible=False, range=[-0.3, 3.0 * len(places) - 0.7])
    fig.update_yaxes(visible=False, range=[-1.2 * depth + 0.5, 1.25])
    return _layout(fig, "Where each layer lives, and what crosses between devices", height=140 + 95 * depth)


def _nice_step(span: float, target: int = 6) -> float:
    """A 1, 2 or 5 × 10^k tick step giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-12) / target
    k = 10 ** np.floor(np.log10(raw))
    return float(next(m * k for m in (1, 2, 5, 10) if m * k >= raw))


def _svg_text(x: float, y: float, text: str, size: int, fill: str = INK, anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(text)}</text>")


def gantt_figure(slots: Sequence, title: str, unit: str = "s", note: str = "") -> str:
    """Pipeline timeline as an SVG (in a div): one row per stage, a bar per (micro-batch, phase); the gaps are the bubble.

    Each bar says what it is (F0, B3) and its times on hover; no zoom needed, so the browser gets a few
    shapes instead of a plotly chart to re-render when M or S moves.
    """
    scale = 1e3 if unit == "ms" else 1.0
    stages = sorted({s.stage for s in slots})
    end = max((s.end for s in slots), default=0.0) * scale
    xmax = end * 1.02 if end else 1.0
    width, left, right, top, row = 640, 64, 16, 48, 45
    height = top + row * len(stages) + 52

    def px(t: float) -> float:
        return left + t / xmax * (width - left - right)

    parts = ['<defs><pattern id="gantt-hatch" patternUnits="userSpaceOnUse" width="7" height="7" '
             f'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="7" stroke="{WHITE}" stroke-width="2"/>'
             "</pattern></defs>",
             _svg_text(10, 20, title, 14, anchor="start", extra=' font-weight="700"')]
    if note:
        parts.append(_svg_text(width - right, 40, note, 12, fill=MUTED, anchor="end", extra=' class="note"'))
    step = _nice_step(xmax)
    for t in np.arange(0, xmax + 1e-9, step):
        x = px(float(t))
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + row * len(stages)}" stroke="{style.GRID}"/>'
                     + _svg_text(x, top + row * len(stages) + 16, f"{t:g}", 12, fill=MUTED))
    parts.append(_svg_text((left + width - right) / 2, height - 10, f"time ({unit}); grey = idle", 12, fill=MUTED))
    ys = {s: top + i * row for i, s in enumerate(stages)}
    for s, y in ys.items():  # the idle background: whatever the bars do not cover is waiting
        parts.append(_svg_text(left - 8, y + row / 2 + 4, f"stage {s}", 12, fill=MUTED, anchor="end")
                     + f'<rect x="{px(0):.1f}" y="{y + 0.1 * row:.1f}" width="{px(end) - px(0):.1f}" '
                       f'height="{0.8 * row:.1f}" fill="{PALE_GREY}"/>')
    for sl in slots:
        x0, x1, y = px(sl.start * scale), px(sl.end * scale), ys[sl.stage] + 0.1 * row
        w, h = max(x1 - x0, 0.5), 0.8 * row
        label = f"{'F' if sl.phase == 'forward' else 'B'}{sl.micro_batch}"
        hover = f"{sl.phase} of micro-batch {sl.micro_batch}: {sl.start * scale:.3g} → {sl.end * scale:.3g} {unit}"
        bar = (f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{_colour(sl.micro_batch)}" '
               f'stroke="{WHITE}" stroke-width="1"/>')
        if sl.phase != "forward":
            bar += f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="url(#gantt-hatch)"/>'
        if w >= 8 * len(label) + 4:  # no label squeezed into a sliver
            # A halo in the bar's colour keeps the label legible over the backward hatching.
            bar += _svg_text(x0 + w / 2, y + h / 2 + 4, label, 12, fill=WHITE, extra=f' stroke="{_colour(sl.micro_batch)}" '
                             'stroke-width="3" paint-order="stroke" font-weight="700"')
        parts.append(f'<g class="slot {sl.phase}"><title>{escape(hover)}</title>{bar}</g>')
    return (f'<div class="scale-gantt"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px" role="img" font-family="Helvetica, Arial, sans-serif">'
            + "".join(parts) + "</svg></div>")


def bubble_figure(stages: int, max_micro_batches: int, measured: Sequence[tuple[int, float]] = ()) -> go.Figure:
    """The computed bubble (S-1)/(M+S-1) against M, with measured idle shares as points."""
    m = np.arange(1, max_micro_batches + 1)
    fig = go.Figure()
    fig.add_scatter(x=m, y=(stages - 1) / (m + stages - 1), mode="lines+markers", name=f"computed, S = {stages}",
                    line={"color": BLUE, "width": 2.5})
    if measured:
        mx, my = zip(*measured)
        fig.add_scatter(x=list(mx), y=list(my), mode="markers", name="measured, 2 stages (this machine)",
                        marker={"color": ORANGE, "size": 12, "symbol": "diamond"})
    fig.update_xaxes(title="micro-batches M")
    fig.update_yaxes(title="idle share of the step", range=[0, 1], tickformat=".0%")
    return _layout(fig, "The bubble shrinks as M grows", legend="below")


def slices_image(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """(N, b, 28, 28) uint8 -> one (N*(28+gap), b*(28+gap)) uint8 mosaic: a row of digits per rank."""
    n, b, h, w = images.shape
    out = np.full((n * (h + gap) - gap, b * (w + gap) - gap), 255, dtype=np.uint8)
    for r in range(n):
        for i in range(b):
            out[r * (h + gap):r * (h + gap) + h, i * (w + gap):i * (w + gap) + w] = images[r, i]
    return out


def ddp_step_html(world: int, batch: int, steps: int, lr: float) -> str:
    """What one data-parallel step does with these settings, as HTML: N ranks of B images each, the all-reduce,
    and the one step every copy takes (the same as one process's on N·B images)."""
    chips = "".join(
        f'<div style="border:1px solid {style.GRID};border-left:4px solid {style.BLUE};border-radius:6px;'
        f'padding:4px 10px;white-space:nowrap">rank {r}: {batch} images → its gradient <i>g</i><sub>{r}</sub></div>'
        for r in range(world))
    terms = " + ".join(f"<i>g</i><sub>{r}</sub>" for r in range(world))  # N is 2 to 4: every term fits
    return (f'<div style="display:flex;flex-wrap:wrap;gap:8px;margin:4px 0 8px">{chips}</div>'
            f"<p>All-reduce: every rank receives <i>g</i> = ({terms}) / {world}, and every copy of the model takes "
            f"the same step <i>w</i> ← <i>w</i> − {lr:g}·<i>g</i>: the step one process takes on "
            f"<b>N·B = {world * batch} images</b>. {steps} step{'s' * (steps != 1)}: "
            f"{steps * world * batch:,} images in all, {steps * batch:,} per rank.</p>")
