"""Plotly figures for the trainer page: live curves, results, filters, feature maps, drawings.

Builders take plain numpy arrays / lists (what ``TrainRun.snapshot()`` and ``EvalResult``
hold) and return ``go.Figure``; no torch, no streamlit. Image galleries are drawn as ONE
mosaic image (one trace), so a strip of 32 digits redraws fast every second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainers.figures import style
from explainers.figures.style import (
    PALETTE,
    RIGHT,
    TRAIN,
    VAL,
    WRONG,
    diverging_rgb,
    image_data_uri,
    tile,
)

_MARGIN = {"l": 50, "r": 20, "t": 50, "b": 45}  # room for axis titles and the legend above


def _layout(fig: go.Figure, title: str, height: int = 320, margin: dict | None = None) -> go.Figure:
    """The shared style with axis room and the legend above the plot (these are data charts)."""
    return style.styled(fig, height, title or None, legend="above", grid=True, margin=margin or _MARGIN)


def ema(values: Sequence[float], beta: float = 0.9) -> np.ndarray:
    """(T,) -> (T,) bias-corrected exponential moving average (TensorBoard-style smoothing)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    avg = 0.0
    for t, x in enumerate(v):
        avg = beta * avg + (1 - beta) * x
        out[t] = avg / (1 - beta ** (t + 1)) if beta < 1 else x
    return out


def _epoch_marks(n_steps: int, batches_per_epoch: int | None, axis: str = "x") -> list[dict]:
    """Dotted vertical lines across the plot at each epoch boundary of an n_steps curve."""
    if not batches_per_epoch:
        return []
    return [{"type": "line", "x0": e + 0.5, "x1": e + 0.5, "y0": 0, "y1": 1, "xref": axis,
             "yref": f"{axis.replace('x', 'y')} domain", "line": {"color": style.GREY, "dash": "dot", "width": 1}}
            for e in range(batches_per_epoch, n_steps, batches_per_epoch)]


# The curves as (traces, x axis, y axis) in plain dicts: one plotly validation per figure, not per property.
def _loss_parts(step_loss: Sequence[float], beta: float, keep: np.ndarray | None = None) -> tuple[list, dict, dict]:
    y = np.asarray(step_loss, dtype=np.float64)
    x = np.arange(1, y.size + 1)
    smooth = ema(y, beta) if y.size else None
    if keep is not None:  # thinned after smoothing, so the EMA still sees every step
        x, y, smooth = x[keep], y[keep], (None if smooth is None else smooth[keep])
    traces = [{"type": "scatter", "x": x, "y": y, "mode": "lines", "name": "per batch",
               "line": {"color": TRAIN, "width": 1}, "opacity": 0.3}]
    if smooth is not None:
        traces.append({"type": "scatter", "x": x, "y": smooth, "mode": "lines", "name": f"smoothed (EMA {beta:g})",
                       "line": {"color": TRAIN, "width": 2.5}})
    return traces, {"title": {"text": "step (batch)"}}, {"title": {"text": "cross-entropy loss"}, "rangemode": "tozero"}


def _accuracy_parts(epochs: Sequence[Mapping]) -> tuple[list, dict, dict]:
    x = [int(e["epoch"]) for e in epochs]
    traces = []
    for split, color in (("train", TRAIN), ("val", VAL)):
        y = [None if e.get(f"{split}_acc") is None else 100.0 * float(e[f"{split}_acc"]) for e in epochs]
        traces.append({"type": "scatter", "x": x, "y": y, "mode": "lines+markers",
                       "name": "train" if split == "train" else "validation", "line": {"color": color, "width": 2.5}})
    xaxis = {"title": {"text": "epoch"}, "dtick": 1 if len(x) <= 20 else None, "rangemode": "tozero"}
    yaxis = {"title": {"text": "accuracy (%)"}}
    if not x:  # nothing yet: show the scale it will fill
        xaxis["range"], yaxis["range"] = [0, 1], [0, 100]
    return traces, xaxis, yaxis


def _lr_parts(lrs: Sequence[float], keep: np.ndarray | None = None) -> tuple[list, dict, dict]:
    y = np.asarray(lrs, dtype=np.float64)
    x = np.arange(1, y.size + 1)
    if keep is not None:
        x, y = x[keep], y[keep]
    trace = {"type": "scatter", "x": x, "y": y, "mode": "lines", "line": {"color": style.PURPLE, "width": 2},
             "name": "learning rate"}
    return [trace], {"title": {"text": "step (batch)"}}, {"title": {"text": "learning rate"}, "exponentformat": "e",
                                                           "rangemode": "tozero"}


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of every k-th of n points, and the last, so that at most about max_points are drawn."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.r_[np.arange(0, n, int(np.ceil(n / max_points))), n - 1])


def live_curves_figure(step_loss: Sequence[float], epochs: Sequence[Mapping], step_lr: Sequence[float],
                       batches_per_epoch: int | None = None, beta: float = 0.9, max_points: int = 1500) -> go.Figure:
    """The live view's three curves as ONE figure of three panels (one plot to redraw each second, not three):
    loss per step (raw, faint, and smoothed; dotted lines between epochs), train vs validation accuracy per epoch
    (in %), learning rate per step (shows the scheduler). A long run's per-step curves are thinned to about
    max_points (the EMA is taken over every step first)."""
    parts = (_loss_parts(step_loss, beta, _thin(len(step_loss), max_points)), _accuracy_parts(epochs),
             _lr_parts(step_lr, _thin(len(step_lr), max_points)))
    gap = 0.12  # room for the next panel's y-axis title and ticks, on a projector too
    width = (1 - 2 * gap) / 3
    data, layout = [], {"annotations": [], "shapes": _epoch_marks(len(step_loss), batches_per_epoch)}
    for k, ((traces, xaxis, yaxis), title) in enumerate(zip(parts, ("Loss", "Accuracy", "Learning rate"))):
        suffix = "" if k == 0 else str(k + 1)
        for trace in traces:
            data.append({**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                         "name": f"loss {trace['name']}" if k == 0 else trace["name"]})
        left = k * (width + gap)
        layout[f"xaxis{suffix}"] = {**xaxis, "domain": [round(left, 6), round(min(1.0, left + width), 6)],
                                    "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {**yaxis, "anchor": f"x{suffix}"}
        layout["annotations"].append({"text": f"<b>{title}</b>", "x": left + width / 2, "y": 1.0, "xref": "paper",
                                      "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    # the legend below the x axis titles, clear of the three panel titles above
    frame = style.layout(370, None, legend="below", grid=True, margin={"l": 50, "r": 20, "t": 30, "b": 95})
    frame["legend"] = {**frame["legend"], "y": -0.32}
    return go.Figure({"data": data, "layout": {**frame, **layout}})


def lr_finder_figure(lrs: Sequence[float], losses: Sequence[float], suggested_lr: float | None) -> go.Figure:
    """Loss vs learning rate on a log axis, with the suggested value marked."""
    fig = go.Figure(go.Scatter(x=list(lrs), y=list(losses), mode="lines", line={"color": TRAIN, "width": 2},
                               name="loss"))
    if suggested_lr is not None and np.isfinite(suggested_lr) and suggested_lr > 0:
        # shapes take data values on a log axis; annotations take log10 of them
        fig.add_vline(x=float(suggested_lr), line={"color": RIGHT, "dash": "dash", "width": 2})
        fig.add_annotation(x=float(np.log10(suggested_lr)), y=1.0, yref="paper", text=f"suggested {suggested_lr:.2g}",
                           showarrow=False, xanchor="left", yanchor="top", font={"color": RIGHT})
    fig.update_xaxes(type="log", title="learning rate (log scale)", exponentformat="power")
    fig.update_yaxes(title="loss (smoothed)")
    return _layout(fig, "Learning-rate finder")


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], normalise: bool = True) -> go.Figure:
    """(K, K) counts, rows = true class, columns = predicted; colour by row share when normalise."""
    c = np.asarray(confusion, dtype=np.float64)
    rows = c.sum(axis=1, keepdims=True)
    z = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0) if normalise else c
    labels = [str(k) for k in classes]
    text = [[f"{int(v)}" for v in row] for row in c]
    # The counts at a fixed 11 px (left to plotly, they shrank to 8 px in a 1024 px window, a projector's), and the
    # colour bar under the plot, not beside it: its width went from the cells, too narrow then for "371".
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, text=text, texttemplate="%{text}", textfont={"size": 11},
                               colorscale=style.SEQUENTIAL, zmin=0, zmax=1 if normalise else None, showscale=True,
                               colorbar={"thickness": 10, "orientation": "h", "y": -0.2, "yanchor": "top", "len": 0.8,
                                         "title": {"text": "share of row" if normalise else "images", "side": "top"}},
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_xaxes(title="predicted", type="category", side="bottom")
    fig.update_yaxes(title="true", type="category", autorange="reversed")
    size = max(360, 36 * len(labels) + 170)
    return _layout(fig, "Confusion matrix (test set)", height=size)


def per_class_figure(per_class_accuracy: Sequence[float], classes: Sequence[str]) -> go.Figure:
    """(K,) accuracy per class as bars (%)."""
    acc = 100 * np.asarray(per_class_accuracy, dtype=np.float64)
    fig = go.Figure(go.Bar(x=[str(k) for k in classes], y=acc, marker_color=TRAIN,
                           text=[f"{a:.0f}" for a in acc], textposition="outside", cliponaxis=False))
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(title="accuracy (%)", range=[0, 112])
    return _layout(fig, "Accuracy per class", height=300)


def to_display(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) | (N, H, W) | (N, H, W, 3), any range -> (N, H, W, 3) uint8 for display."""
    a = np.asarray(images)
    if a.ndim == 4 and a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 1, -1)  # (N, H, W, C)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"cannot display images of shape {np.shape(images)}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo, hi = (0.0, 1.0) if a.size == 0 or (a.min() >= 0 and a.max() <= 1) else (a.min(), a.max())
        a = np.clip(255 * (a - lo) / max(hi - lo, 1e-12), 0, 255).astype(np.uint8)
    return a


def gallery_figure(images: np.ndarray, titles: Sequence[str] | None = None, colors: Sequence[str] | None = None,
                   cols: int = 8, title: str = "", tile_px: int = 84) -> go.Figure:
    """A grid of images (one go.Image trace) with a caption above each and an optional coloured frame."""
    imgs = to_display(images)
    n, h, w = imgs.shape[:3]
    pad = max(2, h // 4)
    cols = max(1, min(cols, max(n, 1)))
    rows = max(1, -(-n // cols))
    top = max(6, h // 2)  # room for captions
    mosaic = tile(np.pad(imgs, ((0, 0), (top, 0), (0, 0), (0, 0)), constant_values=255), cols, pad) if n else \
        np.full((h, w, 3), 255, np.uint8)
    fig = go.Figure(go.Image(source=image_data_uri(mosaic, lossless=True), hoverinfo="skip"))
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = c * (w + pad), r * (h + top + pad) + top
        if colors is not None and colors[i]:
            fig.add_shape(type="rect", x0=x0 - 1, x1=x0 + w, y0=y0 - 1, y1=y0 + h,
                          line={"color": colors[i], "width": 3})
        if titles is not None:
            fig.add_annotation(x=x0 + w / 2 - 0.5, y=y0 - 1.5, text=titles[i], showarrow=False, yanchor="bottom",
                               font={"size": 12, "color": (colors[i] if colors is not None and colors[i] else style.INK)})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    height = int(rows * tile_px * (h + top + pad) / max(w + pad, 1)) + (50 if title else 10)
    return _layout(fig, title, height=max(height, 120), margin={"l": 5, "r": 5, "t": 40 if title else 5, "b": 5})


def prediction_strip_pictures(images: np.ndarray, labels: Sequence[int], preds: Sequence[int],
                              confidences: Sequence[float], classes: Sequence[str], frame: int = 3,
                              side: int = 56) -> tuple[list[np.ndarray], list[str]]:
    """The live prediction strip for ``st.image``: each test image enlarged (nearest) to about ``side`` px in a
    frame, green when the current guess is right, red when wrong -> (pictures (h, w, 3) uint8, captions
    "guess ✓/✗ confidence"). Pictures, not a plotly figure: the live view redraws them every second."""
    pics, captions = [], []
    shown = to_display(images)
    scale = max(1, round(side / max(shown.shape[1], 1))) if len(shown) else 1
    for img, y, p, conf in zip(shown, labels, preds, confidences):
        ok = int(y) == int(p)
        big = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
        framed = np.pad(big, ((frame, frame), (frame, frame), (0, 0)))
        framed[...] = style.rgb(RIGHT if ok else WRONG)
        framed[frame:-frame, frame:-frame] = big
        pics.append(framed)
        captions.append(f"{classes[int(p)]} {'✓' if ok else '✗'} {100 * float(conf):.0f}%")
    return pics, captions


def _filter_mosaic(weights: np.ndarray, max_filters: int, max_inputs: int, cols: int | None):
    """(O, I, kh, kw) conv weights -> (what, tiles, ncols, limit, subtitle): what is "rgb" with (N, kh, kw, 3)
    uint8 colour filters (3 inputs, like AlexNet's first layer), else "grid" with the weight mosaic (NaN gaps)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"expected conv weights (O, I, kh, kw), got shape {w.shape}")
    o, i, kh, kw = w.shape
    w = w[:max_filters]
    cols = cols or max(1, int(np.ceil(np.sqrt(len(w)))))  # a square-ish grid
    if i == 3:
        rgb = np.moveaxis(w, 1, -1)
        lim = max(np.abs(rgb).max(), 1e-12)
        return "rgb", np.clip(127.5 + 127.5 * rgb / lim, 0, 255).astype(np.uint8), cols, lim, ""
    if i == 1:
        tiles, ncols = w[:, 0], min(cols, len(w))
    else:  # rows = output filters, columns = the first few input channels
        tiles, ncols = w[:, :max_inputs].reshape(-1, kh, kw), min(i, max_inputs)
    sub = "" if i == 1 else f" (rows: {len(w)} of {o} filters; columns: {ncols} of {i} input channels)"
    return "grid", tile(tiles, ncols, pad=1, fill=np.nan), ncols, max(np.abs(tiles).max(), 1e-12), sub


def filter_grid_figure(weights: np.ndarray, max_filters: int = 32, max_inputs: int = 8, cols: int | None = None,
                       title: str = "First-layer filters") -> go.Figure:
    """(O, I, kh, kw) conv weights -> grid; 3-input filters as colour, otherwise one tile per (out, in).

    Blue = positive, red = negative weights, one symmetric scale for the whole layer so strengths
    are comparable between filters.
    """
    what, mosaic, ncols, lim, sub = _filter_mosaic(weights, max_filters, max_inputs, cols)
    if what == "rgb":
        big = np.repeat(np.repeat(mosaic, 4, axis=1), 4, axis=2)
        return gallery_figure(big, [f"#{k}" for k in range(len(big))], cols=ncols, title=title, tile_px=60)
    fig = go.Figure(go.Heatmap(z=mosaic, colorscale=style.DIVERGING, zmid=0, zmin=-lim, zmax=lim, showscale=True,
                               colorbar={"thickness": 10, "title": "weight"}, hoverongaps=False,
                               hovertemplate="%{z:.3f}<extra></extra>"))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    rows = mosaic.shape[0] / max(mosaic.shape[1], 1)
    return _layout(fig, title + sub, height=int(min(900, max(220, 80 + 600 * rows * min(1, ncols / 8)))))


def filter_grid_picture(weights: np.ndarray, max_filters: int = 16, max_inputs: int = 8, cols: int | None = None,
                        px: int | None = None, width: int = 300) -> tuple[np.ndarray, str]:
    """The same grid as ``filter_grid_figure`` as one picture for ``st.image`` (the live view redraws it every
    second; an image costs the browser almost nothing, a heatmap a plotly redraw) -> ((H, W, 3) uint8, caption).
    Each weight is a px x px square (default: as large as fits about ``width`` pixels); white gaps separate
    the filters."""
    what, mosaic, ncols, lim, sub = _filter_mosaic(weights, max_filters, max_inputs, cols)
    if px is None:
        cells = ncols * (mosaic.shape[2] + 1) if what == "rgb" else mosaic.shape[1]  # weights across the picture
        px = int(np.clip(width // max(cells, 1), 2, 32))
    if what == "rgb":
        big = np.repeat(np.repeat(mosaic, px, axis=1), px, axis=2)
        return tile(big, ncols, pad=max(2, px // 2)), "Colour filters: each weight's red, green and blue parts as a colour."
    picture = np.repeat(np.repeat(diverging_rgb(mosaic, lim), px, axis=0), px, axis=1)
    return picture, (f"Blue = positive, red = negative weight, white = 0; one scale for the layer (±{lim:.3g})" + sub
                     + ".")


def feature_maps_figure(maps: np.ndarray, max_maps: int = 32, cols: int = 8, title: str = "") -> go.Figure:
    """(C, H, W) activations -> a grid of the first max_maps channels, each scaled to its own range."""
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None, None]
    if m.ndim != 3:
        raise ValueError(f"expected feature maps (C, H, W), got shape {m.shape}")
    m = m[:max_maps]
    lo = m.min(axis=(1, 2), keepdims=True)
    hi = m.max(axis=(1, 2), keepdims=True)
    norm = (m - lo) / np.maximum(hi - lo, 1e-12)
    if m.shape[1] == 1 and m.shape[2] == 1:  # a vector (after flatten / linear): bars read better
        fig = go.Figure(go.Bar(y=m[:, 0, 0], marker_color=TRAIN))
        fig.update_xaxes(title="unit")
        fig.update_yaxes(title="activation")
        return _layout(fig, title, height=260)
    mosaic = tile(norm, min(cols, len(norm)), pad=1, fill=np.nan)
    fig = go.Figure(go.Heatmap(z=mosaic, colorscale=style.SEQUENTIAL, zmin=0, zmax=1, showscale=True,
                               colorbar={"thickness": 10, "title": "own range", "tickvals": [0, 1],
                                         "ticktext": ["min", "max"]}, hoverongaps=False,
                               hovertemplate="%{z:.2f}<extra></extra>"))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    aspect = mosaic.shape[0] / max(mosaic.shape[1], 1)
    return _layout(fig, title, height=int(min(900, max(160, 60 + 700 * aspect))))


def histograms_figure(per_epoch: Sequence[tuple[int, np.ndarray, np.ndarray]], title: str) -> go.Figure:
    """[(epoch, counts (B,), edges (B+1,)), ...] -> one outline per epoch, later epochs darker."""
    fig = go.Figure()
    n = len(per_epoch)
    for k, (epoch, counts, edges) in enumerate(per_epoch):
        counts, edges = np.asarray(counts, dtype=np.float64), np.asarray(edges, dtype=np.float64)
        centres = (edges[:-1] + edges[1:]) / 2
        share = counts / max(counts.sum(), 1)
        t = (k + 1) / max(n, 1)
        fig.add_scatter(x=centres, y=share, mode="lines", line={"width": 2, "shape": "hvh",
                        "color": style.rgba(TRAIN, 0.2 + 0.8 * t)}, name=f"epoch {epoch}")
    fig.update_xaxes(title="value")
    fig.update_yaxes(title="share of values")
    return _layout(fig, title, height=280)


def compare_runs_figure(runs: Sequence[tuple[str, Sequence[Mapping]]], metric: str = "val_acc") -> go.Figure:
    """[(label, epochs), ...] -> one line per run for ``metric`` (e.g. val_acc, train_loss).

    The legend names each run as the table under the chart does ("Run 2", the label's part before its colon);
    hovering a point reads the whole label. Whole labels in the legend took two rows over the title at 1024 px.
    """
    fig = go.Figure()
    pct = metric.endswith("acc")
    for k, (label, epochs) in enumerate(runs):
        x = [int(e["epoch"]) for e in epochs]
        y = [None if e.get(metric) is None else float(e[metric]) * (100 if pct else 1) for e in epochs]
        fig.add_scatter(x=x, y=y, mode="lines+markers", name=label.split(":")[0],
                        hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>",
                        line={"color": PALETTE[k % len(PALETTE)], "width": 2})
    names = {"val_acc": "validation accuracy (%)", "train_acc": "training accuracy (%)", "val_loss": "validation loss",
             "train_loss": "training loss"}
    longest = max((len(e) for _, e in runs), default=0)
    fig.update_xaxes(title="epoch", rangemode="tozero", dtick=1 if longest <= 20 else None)
    fig.update_yaxes(title=names.get(metric, metric))
    return _layout(fig, "Compare runs: " + names.get(metric, metric))


def probabilities_figure(probs: Sequence[float], classes: Sequence[str]) -> go.Figure:
    """(K,) class probabilities as bars, the top class highlighted."""
    p = 100 * np.asarray(probs, dtype=np.float64)
    top = int(np.argmax(p)) if p.size else -1
    fig = go.Figure(go.Bar(x=[str(k) for k in classes], y=p, text=[f"{v:.0f}%" for v in p], textposition="outside",
                           cliponaxis=False,
                           marker_color=[RIGHT if k == top else style.BLUE_SOFT for k in range(p.size)]))
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(title="probability (%)", range=[0, 110])
    return _layout(fig, "What the network thinks", height=300)


def drawing_steps_figure(ink: np.ndarray, cropped: np.ndarray, fitted: np.ndarray, final: np.ndarray,
                         centre_of_mass: tuple[float, float]) -> go.Figure:
    """The four MNIST preprocessing steps side by side; the last with its centre of mass marked."""
    names = ["1. your drawing", "2. cropped to the ink", f"3. fitted in 20×20<br>({fitted.shape[0]}×{fitted.shape[1]})",
             "4. centred in 28×28<br>by centre of mass"]
    fig = make_subplots(rows=1, cols=4, subplot_titles=names, horizontal_spacing=0.03)
    for k, img in enumerate([ink, cropped, fitted, final], start=1):
        fig.add_trace(go.Heatmap(z=np.asarray(img), colorscale="gray", zmin=0, zmax=1, showscale=False,
                                 hovertemplate="%{z:.2f}<extra></extra>"), row=1, col=k)
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=k)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{k if k > 1 else ''}", row=1, col=k)
    cy, cx = centre_of_mass
    fig.add_scatter(x=[cx], y=[cy], mode="markers", marker={"symbol": "cross-thin", "size": 14, "color": WRONG,
                    "line": {"width": 2, "color": WRONG}}, name="centre of mass", row=1, col=4)
    fig.update_layout(showlegend=False)
    fig.update_annotations(font_size=13)
    return _layout(fig, "", height=280, margin={"l": 5, "r": 5, "t": 60, "b": 5})


MISTAKE_KINDS = {
    "confident_wrong": "Most confident mistakes",
    "uncertain": "Most uncertain",
    "confident_right": "Most confident right answers",
}


def rank_examples(labels: np.ndarray, probs: np.ndarray, kind: str, n: int = 16) -> np.ndarray:
    """(N,), (N, K) -> indices of the n examples of ``kind`` (see MISTAKE_KINDS), best first."""
    y = np.asarray(labels)
    p = np.asarray(probs, dtype=np.float64)
    pred, conf = p.argmax(axis=1), p.max(axis=1)
    if kind == "confident_wrong":
        idx = np.flatnonzero(pred != y)
        order = np.argsort(-conf[idx], kind="stable")
    elif kind == "confident_right":
        idx = np.flatnonzero(pred == y)
        order = np.argsort(-conf[idx], kind="stable")
    elif kind == "uncertain":  # smallest top probability = the network is torn between classes
        idx = np.arange(y.size)
        order = np.argsort(conf, kind="stable")
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(MISTAKE_KINDS)}")
    return idx[order[:n]]


def cell_indices(labels: np.ndarray, preds: np.ndarray, true_class: int, pred_class: int) -> np.ndarray:
    """(N,), (N,) -> indices of the examples in confusion cell (true_class, pred_class)."""
    return np.flatnonzero((np.asarray(labels) == true_class) & (np.asarray(preds) == pred_class))


def examples_figure(images: np.ndarray, labels: np.ndarray, probs: np.ndarray, indices: np.ndarray,
                    classes: Sequence[str], title: str = "", cols: int = 8) -> go.Figure:
    """Gallery of the chosen examples captioned 'true → predicted (p%)', green right, red wrong."""
    idx = np.asarray(indices, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)[idx]
    y = np.asarray(labels)[idx]
    pred = p.argmax(axis=1) if idx.size else np.zeros(0, dtype=np.int64)
    titles = [f"{classes[int(t)]}→{classes[int(q)]} {100 * p[k, q]:.0f}%" for k, (t, q) in enumerate(zip(y, pred))]
    colors = [RIGHT if int(t) == int(q) else WRONG for t, q in zip(y, pred)]
    return gallery_figure(np.asarray(images)[idx], titles, colors, cols=cols, title=title)
