"""One look for every figure: the palette, the shared layout, pictures as data URIs, image mosaics.

The colour language, the same on every page:
- class 0 is orange, class 1 is blue (pale versions shade the regions a model assigns to each);
- a positive number is blue, a negative one red, and a diverging scale runs red -> white -> blue
  with white exactly at zero (weights, kernels, signed feature maps);
- a right answer is green, a wrong one red; orange marks "look here" (the window, the current pixel);
- grey is for scaffolding (padding, guides, axes).
No torch and no streamlit here.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from html import escape

import numpy as np
from PIL import Image

# --- the palette (Tailwind's 600 shades: strong enough on white, distinct for colour-blind viewers) --
BLUE = "#2563eb"
RED = "#dc2626"
ORANGE = "#f97316"
GREEN = "#16a34a"
PURPLE = "#9333ea"
CYAN = "#0891b2"
YELLOW = "#ca8a04"
PINK = "#db2777"
AMBER = "#f59e0b"  # the node being processed in the backprop graph
AMBER_PALE = "#fde68a"
AMBER_DARK = "#b45309"
BLUE_PALE = "#dbe7fd"
BLUE_LIGHT = "#bfdbfe"
BLUE_SOFT = "#93c5fd"
BLUE_DARK = "#1e3a8a"
BLUE_WASH = "#eff6ff"
ORANGE_PALE = "#fde7d3"
GREEN_PALE = "#dcfce7"
INK = "#111827"  # text and boundary lines
CHARCOAL = "#374151"  # curves drawn in "no particular colour"
SLATE = "#4b5563"
MUTED = "#6b7280"  # outlines
GREY = "#9ca3af"  # padding, guides
PALE_GREY = "#f3f4f6"  # inputs, empty cells
GRID = "#eef0f4"
WHITE = "#ffffff"
BLACK = "#000000"

# --- what the colours mean --------------------------------------------------------------------------
CLASS_COLOURS = (ORANGE, BLUE)  # class 0, class 1
CLASS_REGIONS = (ORANGE_PALE, BLUE_PALE)  # the area a model assigns to class 0, class 1
POSITIVE, NEGATIVE = BLUE, RED
RIGHT, WRONG = GREEN, RED
HIGHLIGHT = ORANGE  # the receptive window, the current pixel, the picked window
PAD = GREY
TRAIN, VAL = BLUE, ORANGE
PALETTE = (BLUE, ORANGE, GREEN, PURPLE, RED, CYAN, YELLOW, PINK)  # one colour per run / curve

# Colour scales (plotly's [[position, colour], ...]).
DIVERGING = [[0.0, RED], [0.5, WHITE], [1.0, BLUE]]  # signed values; set zmid=0 or a symmetric range
CLASS_SCALE = [[0.0, ORANGE], [0.5, WHITE], [1.0, BLUE]]  # P(class 1): white where the model is unsure
REGION_SCALE = [[0.0, ORANGE_PALE], [1.0, BLUE_PALE]]  # hard class-0 / class-1 regions
GREYS = [[0.0, BLACK], [1.0, WHITE]]  # pixel brightness, 0 black to 1 white
SEQUENTIAL = "Viridis"  # non-negative maps where only size matters


def rgb(colour: str) -> np.ndarray:
    """'#rrggbb' -> (3,) float array of 0..255 channel values."""
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def rgba(colour: str, alpha: float) -> str:
    """'#rrggbb', 0..1 -> 'rgba(r,g,b,a)' (plotly's way to fade a palette colour)."""
    r, g, b = (int(v) for v in rgb(colour))
    return f"rgba({r},{g},{b},{alpha:.2f})"


# --- layout -------------------------------------------------------------------------------------------

LEGEND_BELOW = {"orientation": "h", "y": -0.2, "x": 0, "font": {"size": 11}}
LEGEND_ABOVE = {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"}


def layout(height: int, title: str | None = None, *, legend: str | None = None, margin: dict | None = None,
           grid: bool = False, **extra) -> dict:
    """The layout every figure shares, as a dict: white, tight margins, a small left-aligned title.

    legend: None hides it, "below" / "above" place a horizontal one. grid: light grid lines for charts
    of numbers (plotly's "plotly_white" template); pictures and diagrams go without, and save the
    ~30 ms that validating a template costs per figure. Extra keys pass through to plotly.
    A dict (not a figure method) so builders can assemble a figure in one validated call.
    """
    out = {
        "height": height,
        "colorway": list(PALETTE),
        "margin": margin or {"l": 10, "r": 10, "t": 44 if title else 28, "b": 10},
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}} if title else None,
        "plot_bgcolor": WHITE,
        "paper_bgcolor": WHITE,
    }
    if grid:
        out["template"] = "plotly_white"
    if legend is None:
        out["showlegend"] = False
    else:
        out["legend"] = {"below": LEGEND_BELOW, "above": LEGEND_ABOVE}[legend]
    out.update(extra)
    return out


def styled(fig, height: int, title: str | None = None, **kw):
    """Apply `layout(height, title, **kw)` to a plotly figure and return it."""
    fig.update_layout(layout(height, title, **kw))
    return fig


# --- pictures -----------------------------------------------------------------------------------------

JPEG_ABOVE = 128 * 128  # pixels; smaller pictures go as exact PNG


def image_data_uri(picture: np.ndarray, *, lossless: bool = False) -> str:
    """(H, W, 3) or (H, W) uint8 -> data URI: PNG for small (or lossless) pictures, JPEG for big ones.

    A data URI inside ``go.Image(source=...)`` is compact and every plotly.js draws it; a picture
    sent as ``z`` would travel as a JSON array of numbers.
    """
    arr = np.ascontiguousarray(picture, dtype=np.uint8)
    buf = io.BytesIO()
    if lossless or arr.shape[0] * arr.shape[1] <= JPEG_ABOVE:
        Image.fromarray(arr).save(buf, format="PNG", compress_level=1 if arr.size <= 3 * JPEG_ABOVE else 6)
    else:  # a 512×512 photo: ~5 ms and ~100 kB as JPEG, against ~40 ms and ~500 kB as PNG
        Image.fromarray(arr).save(buf, format="JPEG", quality=92, subsampling=0)
    return data_uri(buf.getvalue())


def data_uri(data: bytes) -> str:
    """PNG, JPEG or SVG file bytes (say a cached encoding) -> a data URI of the right type."""
    kind = "jpeg" if data[:2] == b"\xff\xd8" else "svg+xml" if data[:64].lstrip()[:4] == b"<svg" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


Box = tuple[int, int, int, int, int]  # rows r0..r1-1 and columns c0..c1-1 of a picture, and its border's width


def outline(picture: np.ndarray, box: Box, colour: str) -> None:
    """Draw a box's border (rows r0..r1-1, cols c0..c1-1, ``width`` pixels inwards, clipped to the picture) in
    place."""
    r0, r1, c0, c1, width = box
    h, w = picture.shape[:2]
    colour_rgb = rgb(colour).astype(np.uint8)
    for a0, a1, b0, b1 in ((r0, r0 + width, c0, c1), (r1 - width, r1, c0, c1),
                           (r0, r1, c0, c0 + width), (r0, r1, c1 - width, c1)):
        a0, a1, b0, b1 = max(a0, 0), min(a1, h), max(b0, 0), min(b1, w)
        if a0 < a1 and b0 < b1:
            picture[a0:a1, b0:b1] = colour_rgb


def frames_svg(boxes: list[Box], size: tuple[int, int], colour: str = HIGHLIGHT) -> str:
    """The borders ``outline`` would paint, as an SVG of the picture's size (width, height) to lay over it
    (``figure_html``'s overlay): the same pixels, while the picture under them stays the same from pick to pick.
    A box narrower than two borders is filled, as ``outline`` fills it (each box must be at least one border
    across); what falls outside the picture is cut off."""
    w, h = size
    shapes = []
    for r0, r1, c0, c1, t in boxes:
        if r1 - r0 < 2 * t or c1 - c0 < 2 * t:
            shapes.append(f'<rect x="{c0}" y="{r0}" width="{max(c1 - c0, 0)}" height="{max(r1 - r0, 0)}" '
                          f'fill="{colour}" stroke="none"/>')
        else:  # a stroke is centred on its path: half a width inside the box
            shapes.append(f'<rect x="{c0 + t / 2:g}" y="{r0 + t / 2:g}" width="{c1 - c0 - t:g}" '
                          f'height="{r1 - r0 - t:g}" stroke-width="{t}"/>')
    return (f'<svg class="nl-overlay" viewBox="0 0 {w} {h}" preserveAspectRatio="none" aria-hidden="true" '
            f'fill="none" stroke="{colour}">{"".join(shapes)}</svg>')


def figure_html(data: bytes, caption: str, *, alt: str, click: str | None = None,
                pick: tuple[str, str, int, int] | None = None, after: str = "", width: int | None = None,
                overlay: str = "") -> str:
    """A picture (PNG/JPEG bytes) with its caption as HTML (``caption`` and ``alt`` are plain text, escaped).

    In a browser panel (pages/widgets/slider_panel.py) the picture can be clicked: ``pick=(row_key, col_key,
    rows, cols)`` makes it a rows x cols map whose click moves those two ranges to the cell under the pointer
    (in the browser, at once); ``click="name"`` sends the click to Python instead. ``after`` is HTML we built,
    placed under the caption (a colour key, a table). The picture fills its column, or is shown ``width`` CSS
    pixels wide (never wider than the column). ``overlay`` is an SVG we built, laid over the picture at its size
    (class ``nl-overlay``, viewBox in the picture's pixels): what changes from one pick to the next (a frame),
    while the picture itself, the same from pick to pick, stays on screen and is not encoded or sent anew.
    """
    mark = ""
    if pick is not None:
        row_key, col_key, rows, cols = pick
        mark += f' data-nl-pick="{escape(row_key)} {escape(col_key)}" data-nl-grid="{int(rows)} {int(cols)}"'
    if click:
        mark += f' data-nl-click="{escape(click)}"'
    if mark:  # not draggable: pressing on it and moving a little would drag the picture instead of clicking it
        mark += ' draggable="false"'
    size = f' style="width:{int(width)}px;max-width:100%"' if width else ""
    img = f'<img src="{data_uri(data)}" alt="{escape(alt)}"{mark}{"" if overlay else size}>'
    if overlay:
        img = f'<div class="nl-over"{size}>{img}{overlay}</div>'
    return f'<figure class="nl-figure">{img}<figcaption>{escape(caption)}</figcaption>{after}</figure>'


def metrics_html(items: list[tuple[str, str, str]], *, deltas: Sequence[tuple[float, str] | None] = ()) -> str:
    """Big numbers with their labels, as ``st.metric`` shows them: [(label, value, help)] -> HTML (all escaped;
    the help is the tooltip). ``deltas``, one per item or None, is the change shown under a value as
    ``(change, text)``: an arrow up or down with the text, green for a fall (a loss: st.metric's
    ``delta_color="inverse"``), red for a rise."""
    boxes = []
    for k, (label, value, tip) in enumerate(items):
        title = f' title="{escape(tip)}"' if tip else ""
        delta = deltas[k] if k < len(deltas) else None
        under = ""
        if delta is not None:
            change, text = delta
            kind, arrow = ("nl-good", "↓") if change < 0 else ("nl-bad", "↑") if change > 0 else ("", "")
            under = f'<div class="nl-metric-delta {kind}">{arrow} {escape(text)}</div>'
        boxes.append(f'<div class="nl-metric"{title}><div class="nl-metric-label">{escape(label)}</div>'
                     f'<div class="nl-metric-value">{escape(value)}</div>{under}</div>')
    return f'<div class="nl-metrics">{"".join(boxes)}</div>'


def svg_figure_html(svg: str, *, alt: str) -> str:
    """An SVG document we built, as a picture that fills its column (an ``<img>``: its ids and styles stay its
    own) -> HTML for a browser panel's picture."""
    return f'<figure class="nl-figure"><img src="{data_uri(svg.encode("utf-8"))}" alt="{escape(alt)}"></figure>'


def bold_html(text: str) -> str:
    """A line of our text with **bold** markdown -> escaped HTML with <b> (for a browser panel's picture)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text))


def diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """values (...) -> RGB uint8 (..., 3) on the diverging scale: white at 0, POSITIVE blue at +limit,
    NEGATIVE red at -limit (clipped beyond); NaN (gaps between tiles) is white."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    t = np.clip(v / max(float(limit), 1e-12), -1.0, 1.0)[..., None]
    white, pos, neg = rgb(WHITE), rgb(POSITIVE), rgb(NEGATIVE)
    out = np.where(t >= 0, white + t * (pos - white), white - t * (neg - white))
    return np.round(out).astype(np.uint8)


def tile(images: np.ndarray, cols: int, pad: int = 2, fill: float = 255) -> np.ndarray:
    """(N, h, w[, C]) -> (rows*(h+pad)-pad, cols*(w+pad)-pad[, C]) mosaic, row-major, gaps filled with fill."""
    a = np.asarray(images)
    n, h, w = a.shape[:3]
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *a.shape[3:]), fill, dtype=np.result_type(a, fill))
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = a[i]
    return out
