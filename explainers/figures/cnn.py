"""Pictures for the "A whole CNN" page: the whole network on one image, and one unit's arithmetic.

``network_picture`` draws every feature map of every layer, the flattened vector, the logits and
the class probabilities into one Pillow image (one element for the browser to paint, and one
click target): ``picture.unit_at(x, y)`` turns a click back into the unit under it. A page draws the picture of a
digit once (``network_base``, its PNG cached with it) and lays each pick's orange frames over it as an SVG
(``pick_frames``, ``style.frames_svg``): the same pixels as ``network_picture`` draws in, with nothing to encode.
The unit's arithmetic is an SVG with the real numbers printed in the cells (a plotly bar chart for a fully connected
unit).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from html import escape

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from explainers.cnn import WeightedSum, Window
from explainers.figures import style

POSITIVE = style.rgb(style.POSITIVE)  # blue: > 0
NEGATIVE = style.rgb(style.NEGATIVE)  # red: < 0
WHITE = style.rgb(style.WHITE)
INK = tuple(int(v) for v in style.rgb(style.INK))
MUTED = tuple(int(v) for v in style.rgb(style.SLATE))
EDGE = tuple(int(v) for v in style.rgb(style.GREY))  # a thin frame, so an all-zero map still shows where it is
PICK = tuple(int(v) for v in style.rgb(style.HIGHLIGHT))  # orange: the picked unit and what it sees
BAR_BACK = tuple(int(v) for v in style.rgb(style.PALE_GREY))
DIVERGING = style.DIVERGING

# Pixels per map cell, chosen so each column is about as tall as the tallest (8 maps of conv2).
SCALE = {"input": 4, "conv1": 4, "relu1": 4, "pool1": 8, "conv2": 4, "relu2": 4, "pool2": 10}
GAP = 6  # between maps of one layer
SLOT = 70  # minimum column width, so every heading fits
COLUMN_GAP = 12
HEAD = 54  # heading band: name, then shape
FLAT_CELL = 2  # px per flattened value (25 values of one pool2 map = one 50 px pool2 tile)
FC_CELL = 30
BAR = 96  # px of a 100% probability bar
MARGIN = 8


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans when the system has it (it has a × sign), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        pass
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=1024)
def _text_tile(text: str, size: int, fill: tuple[int, ...], anchor: str) -> tuple[Image.Image, int, int] | None:
    """``text`` rendered once on a transparent tile -> (RGBA tile, x and y offset from the anchor point).

    Headings, class names and percentages repeat on every digit's picture: rendering glyphs was a third of
    drawing the picture. None when the font cannot place text by anchor (Pillow's bitmap font).
    """
    font = _font(size)
    try:
        left, top, right, bottom = font.getbbox(text, anchor=anchor)
    except (TypeError, ValueError):
        return None
    tile = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)), (*fill, 0))
    ImageDraw.Draw(tile).text((-left, -top), text, font=font, fill=(*fill, 255), anchor=anchor)
    return tile, left, top


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, *, fill, anchor: str = "la",
          image: Image.Image | None = None) -> None:
    font = _font(size)
    if "DejaVu" not in str(getattr(font, "path", "")):
        text = text.replace("×", "x")  # Pillow's bundled font has no × sign
    tile = _text_tile(text, size, tuple(int(v) for v in fill), anchor) if image is not None else None
    if tile is None:
        draw.text(xy, text, font=font, fill=fill, anchor=anchor)
        return
    im, left, top = tile
    image.paste(im, (round(xy[0]) + left, round(xy[1]) + top), im)


# values (...) -> RGB uint8 (..., 3): white at 0, blue for positive, red for negative, full at |v| = limit
colour = style.diverging_rgb


def grey(values: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1] -> RGB uint8: ink (1) black on white paper (0)."""
    v = np.round(255 * (1 - np.clip(np.asarray(values, dtype=np.float64), 0, 1))).astype(np.uint8)
    return np.repeat(v[..., None], 3, axis=-1)


@dataclass(frozen=True)
class Hit:
    """A clickable rectangle of the network picture and the units it holds."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive
    layer: int  # index into ARCH
    channel: int  # map index (maps), or the first unit index (vectors)
    cell_h: int  # px per row (maps) or per unit (vectors)
    cell_w: int  # px per column (maps); 0 for vectors


@dataclass(frozen=True)
class NetworkBase:
    """The network picture without the orange picks: it depends only on the digit, so a page caches it."""

    image: np.ndarray  # (H, W, 3) uint8
    hits: tuple[Hit, ...]
    boxes: dict  # (layer, channel or unit group) -> (x0, y0, px per cell): where the picks are framed

    @cached_property
    def png(self) -> bytes:
        """The picture as PNG, encoded once: a pick lays its frames over it (``style.frames_svg``)."""
        return png_bytes(self.image)

    @property
    def picture(self) -> NetworkPicture:
        """The picture without picks, as a NetworkPicture (its size, and the unit under a click)."""
        return NetworkPicture(self.image, self.hits)


@dataclass(frozen=True)
class NetworkPicture:
    """The whole network as one RGB image, with the rectangles that map a click to a unit."""

    image: np.ndarray  # (H, W, 3) uint8
    hits: tuple[Hit, ...]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def unit_at(self, x: float, y: float) -> tuple[int, int, int, int] | None:
        """Picture pixel (x, y) -> (layer, channel or unit, row, col) of the unit drawn there, or None."""
        for h in self.hits:
            if h.x0 <= x < h.x1 and h.y0 <= y < h.y1:
                if h.cell_w:
                    return h.layer, h.channel, int((y - h.y0) // h.cell_h), int((x - h.x0) // h.cell_w)
                return h.layer, h.channel + int((y - h.y0) // h.cell_h), 0, 0
        return None


def _limits(layers: Sequence) -> dict[str, float]:
    """One colour scale per conv block (conv, its ReLU and its pool), so the three can be compared by eye."""
    limits: dict[str, float] = {}
    current = 1.0
    for layer in layers:
        if layer.kind == "conv":
            current = float(np.abs(layer.activation).max()) or 1.0
        if layer.kind in ("linear",):
            limits[layer.name] = float(np.abs(layer.activation).max()) or 1.0
        else:
            limits[layer.name] = current
    return limits


def _heading(draw: ImageDraw.ImageDraw, img: Image.Image, cx: float, name: str, shape: str) -> None:
    _text(draw, (cx, MARGIN - 2), name, 20, fill=INK, anchor="mt", image=img)
    _text(draw, (cx, MARGIN + 23), shape, 15, fill=MUTED, anchor="mt", image=img)


def network_picture(layers: Sequence, picked: tuple[int, int, int, int] | None = None,
                    windows: Sequence[Window] = (), classes: Sequence[str] = tuple("0123456789"),
                    base: NetworkBase | None = None) -> NetworkPicture:
    """Every layer's output for one image (LayerActivation-like: name, kind, shape, activation) on one picture.

    ``picked`` (layer, channel or unit, row, col) gets a thick orange frame; each Window (from
    ``explainers.cnn.receptive_windows``) is framed in orange in its layer's maps. ``base`` is
    ``network_base(layers, classes)`` when the caller has it cached: only the frames are drawn then.
    """
    base = base or network_base(layers, classes)
    image = base.image.copy()  # the cached base stays clean
    for box in pick_frames(layers, base, picked, windows):
        style.outline(image, box, style.HIGHLIGHT)
    return NetworkPicture(image, base.hits)


def network_base(layers: Sequence, classes: Sequence[str] = tuple("0123456789")) -> NetworkBase:
    """Every layer's maps, vectors and probabilities drawn once, without picks -> NetworkBase."""
    layers = list(layers)
    limits = _limits(layers)
    # Column widths and the body height, from the map sizes.
    widths, heights = [], []
    for layer in layers:
        if len(layer.shape) == 3:
            c, h, w = layer.shape
            s = SCALE.get(layer.name, 4)
            widths.append(max(SLOT, w * s))
            heights.append(c * h * s + (c - 1) * GAP)
        elif layer.kind == "flatten":
            widths.append(SLOT)
        elif layer.kind == "linear":
            widths.append(SLOT)
        else:
            widths.append(BAR + 80)
    body = max(heights)
    width = 2 * MARGIN + sum(widths) + COLUMN_GAP * (len(widths) - 1)
    height = HEAD + body + 2 * MARGIN
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    hits: list[Hit] = []
    boxes: dict[tuple[int, int], tuple[int, int, int]] = {}  # (layer, channel) -> (x0, y0, scale) of maps
    x = MARGIN
    pool_pitch = None
    for i, (layer, col_w) in enumerate(zip(layers, widths)):
        cx = x + col_w / 2
        shape = "×".join(str(n) for n in layer.shape)
        title = {"flatten": "flatten", "linear": "fc", "softmax": "softmax"}.get(layer.kind, layer.name)
        _heading(draw, img, cx, title, shape if layer.kind != "softmax" else "probabilities")
        if len(layer.shape) == 3:
            c, h, w = layer.shape
            s = SCALE.get(layer.name, 4)
            col_h = c * h * s + (c - 1) * GAP
            y = HEAD + MARGIN + (body - col_h) // 2
            x0 = int(cx - w * s / 2)
            if layer.kind == "input":
                rgb = grey(layer.activation[0])[None]
            else:
                rgb = colour(layer.activation, limits[layer.name])
            for ch in range(c):
                y0 = y + ch * (h * s + GAP)
                tile = Image.fromarray(rgb[ch]).resize((w * s, h * s), Image.Resampling.NEAREST)
                img.paste(tile, (x0, y0))
                draw.rectangle((x0 - 1, y0 - 1, x0 + w * s, y0 + h * s), outline=EDGE)
                hits.append(Hit(x0, y0, x0 + w * s, y0 + h * s, i, ch, s, s))
                boxes[(i, ch)] = (x0, y0, s)
            if i == max(j for j, lay in enumerate(layers) if len(lay.shape) == 3):
                pool_pitch = (y, h * s + GAP, w * h)  # the flattened column lines up with these maps
        elif layer.kind == "flatten":
            n = layer.shape[0]
            top, pitch, per = pool_pitch if pool_pitch else (HEAD + MARGIN, 0, n)
            rgb = colour(layer.activation, limits[layer.name])
            x0 = int(cx - 7)
            for g in range(-(-n // per)):
                y0 = top + g * pitch
                seg = rgb[g * per:(g + 1) * per]
                tile = Image.fromarray(seg[:, None, :]).resize((14, len(seg) * FLAT_CELL), Image.Resampling.NEAREST)
                img.paste(tile, (x0, y0))
                draw.rectangle((x0 - 1, y0 - 1, x0 + 14, y0 + len(seg) * FLAT_CELL), outline=EDGE)
                hits.append(Hit(x0, y0, x0 + 14, y0 + len(seg) * FLAT_CELL, i, g * per, FLAT_CELL, 0))
                boxes[(i, g)] = (x0, y0, FLAT_CELL)
        else:
            n = layer.shape[0]
            col_h = n * FC_CELL + (n - 1) * 4
            y = HEAD + MARGIN + (body - col_h) // 2
            if layer.kind == "linear":
                rgb = colour(layer.activation, limits[layer.name])
                x0 = int(cx - FC_CELL / 2)
                for u in range(n):
                    y0 = y + u * (FC_CELL + 4)
                    draw.rectangle((x0, y0, x0 + FC_CELL - 1, y0 + FC_CELL - 1), fill=tuple(int(v) for v in rgb[u]),
                                   outline=EDGE)
                    hits.append(Hit(x0, y0, x0 + FC_CELL, y0 + FC_CELL, i, u, FC_CELL, 0))
                    boxes[(i, u)] = (x0, y0, FC_CELL)
            else:
                best = int(np.argmax(layer.activation))
                x0 = x + 4
                for u in range(n):
                    y0 = y + u * (FC_CELL + 4)
                    p = float(layer.activation[u])
                    bold = u == best
                    _text(draw, (x0, y0 + FC_CELL / 2), str(classes[u]), 18 if bold else 16, fill=INK, anchor="lm",
                          image=img)
                    bx = x0 + 16
                    draw.rectangle((bx, y0 + 6, bx + BAR, y0 + FC_CELL - 6), fill=BAR_BACK)
                    draw.rectangle((bx, y0 + 6, bx + max(1, round(BAR * p)), y0 + FC_CELL - 6),
                                   fill=tuple(int(v) for v in (POSITIVE if bold else POSITIVE * 0.4 + WHITE * 0.6)))
                    _text(draw, (bx + BAR + 4, y0 + FC_CELL / 2), f"{p:.0%}", 16, fill=INK if bold else MUTED,
                          anchor="lm", image=img)
                    hits.append(Hit(x, y0, x + col_w, y0 + FC_CELL, i, u, FC_CELL, 0))
                    boxes[(i, u)] = (bx, y0 + 6, FC_CELL)
        x += col_w + COLUMN_GAP
    image = np.asarray(img)
    image.flags.writeable = False  # shared by every rerun that draws this digit
    return NetworkBase(image, tuple(hits), boxes)


def png_bytes(rgb: np.ndarray, level: int = 3) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes, rows unfiltered: ~3 ms for the network picture where Pillow's
    adaptive filtering takes ~9 ms, at about the same size (the picture is mostly flat colour)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = np.zeros((h, w * 3 + 1), np.uint8)  # a leading 0 per row: filter type None
    raw[:, 1:] = rgb.reshape(h, w * 3)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + chunk(b"IEND", b""))


def pick_frames(layers: Sequence, base: NetworkBase, picked: tuple[int, int, int, int] | None = None,
                windows: Sequence[Window] = ()) -> list[style.Box]:
    """The orange frames of a pick (``style.Box``: drawn by ``style.outline``, or laid over the picture by
    ``style.frames_svg``): each window in its maps, then the picked unit itself (thicker)."""
    layers, boxes = list(layers), base.boxes
    frames: list[style.Box] = []

    def frame(x0: int, y0: int, x1: int, y1: int, width: int = 2) -> None:
        """A border from pixel (x0 - 1, y0 - 1) to pixel (x1, y1), both included."""
        frames.append((int(y0) - 1, int(y1) + 1, int(x0) - 1, int(x1) + 1, width))

    for win in {w.layer: w for w in windows}.values():
        if picked is not None and win.layer == picked[0]:
            continue
        for ch in win.channels:
            x0, y0, s = boxes[(win.layer, ch)]
            frame(x0 + win.left * s, y0 + win.top * s, x0 + win.right * s, y0 + win.bottom * s)
    if picked is None:
        return frames
    li, ch, r, q = picked
    kind = layers[li].kind
    if len(layers[li].shape) == 3:
        x0, y0, s = boxes[(li, ch)]
        frame(x0 + q * s - 1, y0 + r * s - 1, x0 + (q + 1) * s + 1, y0 + (r + 1) * s + 1, width=3)
        return frames
    if kind == "flatten":
        per = layers[li - 1].shape[1] * layers[li - 1].shape[2] if li and len(layers[li - 1].shape) == 3 else layers[li].shape[0]
        x0, y0, s = boxes[(li, ch // per)]
        y = y0 + (ch % per) * s
        frame(x0 - 3, y - 1, x0 + 17, y + s + 1, width=2)
        return frames
    # A fully connected unit reads the whole flattened vector; softmax reads every logit.
    feeders = [key for key in boxes if key[0] == li - 1]
    if kind == "linear":
        for key in feeders:
            x0, y0, s = boxes[key]
            n = layers[li - 1].shape[0] // max(1, len(feeders))
            frame(x0 - 1, y0 - 1, x0 + 15, y0 + n * s + 1)
        x0, y0, s = boxes[(li, ch)]
        frame(x0 - 2, y0 - 2, x0 + s + 2, y0 + s + 2, width=3)
    else:
        for key in feeders:
            x0, y0, s = boxes[key]
            frame(x0, y0, x0 + s, y0 + s)
        x0, y0, _ = boxes[(li, ch)]
        frame(x0 - 20, y0 - 7, x0 + BAR + 48, y0 + FC_CELL - 5, width=3)
    return frames


# ----------------------------------------------------------------------------- one unit's arithmetic


def _fmt(v: float) -> str:
    """2 decimals; tiny non-zero numbers in e-notation so they do not read as 0; never "-0.00"."""
    v = float(v) + 0.0  # -0.0 (a zero times a negative weight) prints as 0.00
    return f"{v:.2f}" if abs(v) >= 0.005 or v == 0 else f"{v:.0e}"


def _hex(rgb: np.ndarray) -> str:
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _svg_label(x: float, y: float, text: str, size: int, fill: str = style.INK, anchor: str = "middle",
               extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(text)}</text>")


def _svg_grid(values: np.ndarray, limit: float, x0: float, y0: float, cell: int, size: int, name: str) -> list[str]:
    """A (h, w) grid of coloured cells with their numbers printed (2 decimals) and exact values on hover."""
    values = np.asarray(values, dtype=np.float64)
    rgb = colour(values, limit)
    strong = np.abs(values) / max(limit, 1e-12) > 0.55  # dark cells get white numbers
    parts = []
    for r, q in np.ndindex(values.shape):
        x, y = x0 + q * cell, y0 + r * cell
        v = float(values[r, q])
        parts.append(f'<g class="cell"><title>{escape(name)}, row {r}, col {q}: {v:.4f}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell}" height="{cell}" fill="{_hex(rgb[r, q])}" '
                     f'stroke="white" stroke-width="2"/>'
                     + _svg_label(x + cell / 2, y + cell / 2 + size * 0.36, _fmt(v), size,
                                  "white" if strong[r, q] else style.INK) + "</g>")
    return parts


def _svg(width: float, height: float, parts: list[str], css: str) -> str:
    return (f'<div class="{css}"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="100%" style="max-width:{width:.0f}px" role="img" font-family="Helvetica, Arial, sans-serif">'
            + "".join(parts) + "</svg></div>")


def conv_sum_figure(ws: WeightedSum, prev_name: str, channels: Sequence[int] | None = None) -> str:
    """A conv unit's sum as an SVG: per input map, its window (C, k, k) | the kernel slice | their products.

    Every number is printed in its cell (exact value on hover): nothing to zoom, so no plotly chart to
    re-render when the picked unit moves; one colour scale per column, white at 0.
    """
    c = ws.inputs.shape[0]
    channels = list(range(c)) if channels is None else list(channels)
    cols = [("window of " + prev_name, ws.inputs), ("× kernel", ws.weights), ("= products", ws.products)]
    k = ws.inputs.shape[-1]
    cell, size = (46, 14) if len(channels) == 1 else (36, 12)
    left, top, hgap, vgap = 24, 26, 26, 10
    block = k * cell
    parts = [_svg_label(left + q * (block + hgap) + block / 2, 16, title, 14) for q, (title, _) in enumerate(cols)]
    for r, ch in enumerate(channels):
        y0 = top + r * (block + vgap)
        cy = y0 + block / 2
        parts.append(_svg_label(12, cy, f"map {ch}", 12, extra=f' transform="rotate(-90 12 {cy:.1f})"'))
        for q, (title, values) in enumerate(cols):
            limit = float(np.abs(values).max()) or 1.0
            parts += _svg_grid(values[ch], limit, left + q * (block + hgap), y0, cell, size, f"{title}, map {ch}")
    width = left + 3 * block + 2 * hgap + 2
    height = top + len(channels) * (block + vgap)
    return _svg(width, height, parts, "cnn-sum")



def _figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts without plotly's per-property validation (~7 ms per conv sum on every slider move).

    The unit tests build each figure with validation too and compare, so a misspelt property still fails there.
    """
    return go.Figure(data=data, layout=layout, _validate=False)


def linear_sum_figure(ws: WeightedSum, top: np.ndarray, labels: Sequence[str]) -> go.Figure:
    """A fully connected unit's biggest terms x_i · w_i as horizontal bars (largest |term| on top)."""
    terms = ws.products.ravel()[top]
    ticks = [f"{labels[i]}: {ws.inputs.ravel()[i]:.2f} × {ws.weights.ravel()[i]:.2f}" for i in top]
    colours = [style.POSITIVE if t >= 0 else style.NEGATIVE for t in terms]
    fig = _figure(
        data=[{"type": "bar", "orientation": "h", "x": terms, "y": ticks, "marker": {"color": colours},
               "text": [f"{t:+.2f}" for t in terms], "textposition": "outside", "textfont": {"size": 13},
               "hovertemplate": "%{y} = %{x:.4f}<extra></extra>", "cliponaxis": False}],
        layout={"height": 60 + 26 * len(top), "margin": {"l": 10, "r": 50, "t": 36, "b": 30},
                "title": {"text": f"the {len(top)} largest of {ws.terms} terms", "font": {"size": 14}, "x": 0.01},
                "yaxis": {"autorange": "reversed", "tickfont": {"size": 13}, "automargin": True},
                "xaxis": {"zeroline": True, "zerolinecolor": style.MUTED, "tickfont": {"size": 12}},
                "plot_bgcolor": "white", "paper_bgcolor": "white", "showlegend": False},
    )
    return fig


def window_figure(values: np.ndarray, title: str, winner: tuple[int, int] | None = None) -> str:
    """A small (k, k) window of numbers (max pooling's input) as an SVG, the winner framed in orange."""
    values = np.asarray(values, dtype=np.float64)
    limit = float(np.abs(values).max()) or 1.0
    k_h, k_w = values.shape
    cell, top = 60, 30
    parts = [_svg_label(2, 18, title, 14, anchor="start")]
    parts += _svg_grid(values, limit, 2, top, cell, 15, title)
    if winner is not None:
        r, q = winner
        parts.append(f'<rect class="winner" x="{2 + q * cell + 2}" y="{top + r * cell + 2}" width="{cell - 4}" '
                     f'height="{cell - 4}" fill="none" stroke="{style.HIGHLIGHT}" stroke-width="4"/>')
    return _svg(max(4 + k_w * cell, 8 * len(title) + 8), top + k_h * cell + 4, parts, "cnn-window")



def zoom_image(values: np.ndarray, window: Window | None, *, scale: int = 10, signed: bool = True,
               limit: float | None = None) -> np.ndarray:
    """One (H, W) map enlarged ``scale`` times, the window framed in orange -> RGB uint8 for st.image."""
    values = np.asarray(values, dtype=np.float64)
    rgb = colour(values, limit or float(np.abs(values).max()) or 1.0) if signed else grey(values)
    img = Image.fromarray(rgb).resize((values.shape[1] * scale, values.shape[0] * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    if window is not None:
        draw.rectangle((window.left * scale, window.top * scale, window.right * scale - 1, window.bottom * scale - 1),
                       outline=PICK, width=3)
    return np.asarray(img)

