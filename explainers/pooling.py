"""Max and average pooling on (C, H, W) arrays, forward and backward, exactly as torch.nn.functional.

Everything is vectorised over channels and output pixels; the only Python loop runs over the
kh*kw offsets inside a window, in the same row-major order PyTorch's CPU kernel scans them, so
ties go to the first maximum and a NaN wins, just as in ``F.max_pool2d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from explainers import formula_html as fh

Mode = Literal["max", "avg"]
IntPair = int | tuple[int, int]


def pair(v: IntPair, name: str = "value") -> tuple[int, int]:
    """int or (a, b) -> (a, b), like torch's _pair."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"The {name} must be one number or a pair of numbers, not {len(v)} numbers.")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """One side of the output: floor((n + 2p - d(k-1) - 1) / s) + 1, PyTorch's rule (may be <= 0)."""
    numer = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numer // stride + 1  # floor division rounds toward -inf, like ATen's div_rtn
    # With ceil_mode the last window must still start inside the image or the left padding.
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class PoolSettings:
    """The knobs of one pooling layer, checked against an input of shape (C, H, W)."""

    mode: Mode
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    ceil_mode: bool
    count_include_pad: bool
    in_shape: tuple[int, int, int]  # (C, H, W)
    out_shape: tuple[int, int, int]  # (C, H_out, W_out)


def check_pool(shape: tuple[int, ...], mode: Mode = "max", kernel_size: IntPair = 2,
               stride: IntPair | None = None, padding: IntPair = 0, dilation: IntPair = 1,
               ceil_mode: bool = False, count_include_pad: bool = True) -> PoolSettings:
    """Validate settings for an input (C, H, W) the way PyTorch does; ValueError says what is wrong."""
    if mode not in ("max", "avg"):
        raise ValueError(f"Pooling mode must be 'max' or 'avg', not {mode!r}.")
    if len(shape) != 3:
        raise ValueError(f"Pooling needs an input of shape (channels, height, width), got {len(shape)} dimensions.")
    c, h, w = (int(s) for s in shape)
    if c < 1 or h < 1 or w < 1:
        raise ValueError(f"The input is empty (shape {c}×{h}×{w}).")
    k = pair(kernel_size, "kernel size")
    s = k if stride is None or stride == () else pair(stride, "stride")
    p = pair(padding, "padding")
    d = pair(dilation, "dilation")
    if min(k) < 1:
        raise ValueError(f"The kernel size must be at least 1, got {k[0]}×{k[1]}.")
    if min(s) < 1:
        raise ValueError(f"The stride must be at least 1, got {s[0]}×{s[1]}.")
    if min(d) < 1:
        raise ValueError(f"The dilation must be at least 1, got {d[0]}×{d[1]}.")
    if mode == "avg" and d != (1, 1):
        raise ValueError("Average pooling has no dilation in PyTorch; set dilation to 1.")
    if min(p) < 0:
        raise ValueError(f"The padding cannot be negative, got {p[0]}×{p[1]}.")
    for side, pi, ki in (("height", p[0], k[0]), ("width", p[1], k[1])):
        if pi > ki // 2:
            raise ValueError(
                f"The padding ({pi}) can be at most half the kernel size ({ki} // 2 = {ki // 2}) "
                f"along the {side}; otherwise a window could hold nothing but padding."
            )
    ho = output_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    wo = output_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    if ho < 1 or wo < 1:
        span = ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1)
        raise ValueError(
            f"The output would be empty ({ho}×{wo}): a window spans {span[0]}×{span[1]} pixels "
            f"but the padded input is only {h + 2 * p[0]}×{w + 2 * p[1]}. "
            "Use a smaller kernel or dilation, or more padding."
        )
    return PoolSettings(mode, k, s, p, d, bool(ceil_mode), bool(count_include_pad), (c, h, w), (c, ho, wo))


@dataclass(frozen=True)
class PoolResult:
    """Output (C, H_out, W_out); for max also indices (C, H_out, W_out) into each flattened H×W plane."""

    output: np.ndarray
    indices: np.ndarray | None  # int64, PyTorch's return_indices layout; None for avg
    divisor: np.ndarray | None  # (H_out, W_out) what each average was divided by; None for max
    settings: PoolSettings


def _positions(n_out: int, n_in: int, k: int, s: int, p: int, d: int, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Input coordinate of offset i in every window along one axis, and whether it is inside: (n_out,) x2."""
    pos = np.arange(n_out) * s - p + i * d
    return pos, (pos >= 0) & (pos < n_in)


def _first_inside(n_out: int, s: int, p: int, d: int) -> np.ndarray:
    """First window coordinate at or after 0 (PyTorch steps a negative start by the dilation): (n_out,)."""
    start = np.arange(n_out) * s - p
    return np.where(start < 0, start + (-start + d - 1) // d * d, start)


def pool2d(x: np.ndarray, mode: Mode = "max", kernel_size: IntPair = 2, stride: IntPair | None = None,
           padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
           count_include_pad: bool = True) -> PoolResult:
    """(C, H, W) -> PoolResult with output (C, H_out, W_out), like F.max_pool2d / F.avg_pool2d."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    st = check_pool(x.shape, mode, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad)
    return _pool(x, st)


def pool_with(x: np.ndarray, st: PoolSettings) -> PoolResult:
    """Pool (C, H, W) with already-checked settings (the input's shape must match them)."""
    x = np.asarray(x)
    if x.shape != st.in_shape:
        st = check_pool(x.shape, st.mode, st.kernel, st.stride, st.padding, st.dilation,
                        st.ceil_mode, st.count_include_pad)
    return _pool(x, st)


def _pool(x: np.ndarray, st: PoolSettings) -> PoolResult:
    c, h, w = st.in_shape
    _, ho, wo = st.out_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = st.kernel, st.stride, st.padding, st.dilation
    if st.mode == "max":
        best = np.full((c, ho, wo), -np.inf, dtype=x.dtype)
        # PyTorch starts from the first in-bounds position, so an all -inf window points there.
        first = _first_inside(ho, sh, ph, dh)[:, None] * w + _first_inside(wo, sw, pw, dw)[None, :]
        idx = np.broadcast_to(first, (c, ho, wo)).astype(np.int64)
        for i in range(kh):
            rows, rok = _positions(ho, h, kh, sh, ph, dh, i)
            for j in range(kw):
                cols, cok = _positions(wo, w, kw, sw, pw, dw, j)
                inside = rok[:, None] & cok[None, :]  # (H_out, W_out)
                v = x[:, np.clip(rows, 0, h - 1)[:, None], np.clip(cols, 0, w - 1)[None, :]]
                win = inside & ((v > best) | np.isnan(v))  # NaN propagates, ties keep the first
                best = np.where(win, v, best)
                idx = np.where(win, (rows[:, None] * w + cols[None, :]), idx)
        return PoolResult(best, idx, None, st)

    total = np.zeros((c, ho, wo), dtype=x.dtype)
    for i in range(kh):
        rows, rok = _positions(ho, h, kh, sh, ph, 1, i)
        for j in range(kw):
            cols, cok = _positions(wo, w, kw, sw, pw, 1, j)
            inside = rok[:, None] & cok[None, :]
            v = x[:, np.clip(rows, 0, h - 1)[:, None], np.clip(cols, 0, w - 1)[None, :]]
            total += np.where(inside, v, 0)
    div = avg_divisor(st)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(div > 0, total / np.where(div > 0, div, 1), 0).astype(x.dtype)
    return PoolResult(out, None, div, st)


def _avg_counts(n_out: int, n_in: int, k: int, s: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Window length along one axis counting padding, and counting only real pixels: (n_out,) x2."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, n_in + p)  # windows past the padding (ceil_mode) are cut there
    return end - start, np.maximum(np.minimum(end, n_in) - np.maximum(start, 0), 0)


def avg_divisor(st: PoolSettings) -> np.ndarray:
    """What each average divides by, PyTorch's count_include_pad rule: (H_out, W_out)."""
    _, h, w = st.in_shape
    _, ho, wo = st.out_shape
    ph_all, ph_real = _avg_counts(ho, h, st.kernel[0], st.stride[0], st.padding[0])
    pw_all, pw_real = _avg_counts(wo, w, st.kernel[1], st.stride[1], st.padding[1])
    real = ph_real[:, None] * pw_real[None, :]
    if st.count_include_pad:
        # A window with no real pixel outputs 0 whatever the divisor says.
        return np.where(real > 0, ph_all[:, None] * pw_all[None, :], 0)
    return real


def pool2d_backward(grad_out: np.ndarray, result: PoolResult) -> np.ndarray:
    """Route an upstream gradient (C, H_out, W_out) back to the input: -> (C, H, W), equal to autograd."""
    st = result.settings
    c, h, w = st.in_shape
    g = np.asarray(grad_out, dtype=np.float64)
    if g.shape != st.out_shape:
        raise ValueError(f"The upstream gradient has shape {g.shape}, but the output is {st.out_shape}.")
    if st.mode == "max":
        # Each output cell sends all of its gradient to the one input pixel that won.
        idx = result.indices
        ok = (idx >= 0) & (idx < h * w)
        flat = (np.arange(c)[:, None, None] * (h * w) + idx)[ok]
        return np.bincount(flat, weights=g[ok], minlength=c * h * w).reshape(c, h, w)
    # Average: each window cell gets grad / divisor; overlapping windows add up.
    grad_in = np.zeros((c, h, w))
    div = result.divisor
    share = np.where(div > 0, g / np.where(div > 0, div, 1), 0)  # (C, H_out, W_out)
    _, ho, wo = st.out_shape
    for i in range(st.kernel[0]):
        rows, rok = _positions(ho, h, st.kernel[0], st.stride[0], st.padding[0], 1, i)
        for j in range(st.kernel[1]):
            cols, cok = _positions(wo, w, st.kernel[1], st.stride[1], st.padding[1], 1, j)
            # Within one offset the windows hit distinct pixels, so += does not lose updates.
            grad_in[:, rows[rok][:, None], cols[cok][None, :]] += share[:, rok][:, :, cok]
    return grad_in


@dataclass(frozen=True)
class CellWindow:
    """One output cell's window: input coordinates (kh, kw) each, which are real pixels, their values."""

    rows: np.ndarray  # (kh, kw) input row of each window position (may be in the padding)
    cols: np.ndarray  # (kh, kw)
    inside: np.ndarray  # (kh, kw) bool: a real pixel, not padding
    values: np.ndarray  # (kh, kw) the value PyTorch sees there (-inf / 0 in the padding)
    output: float
    winner: tuple[int, int] | None  # (row, col) in the input, max only
    divisor: int | None  # avg only


def cell_window(x: np.ndarray, result: PoolResult, channel: int, oh: int, ow: int) -> CellWindow:
    """The window behind output cell (channel, oh, ow) of a pooling of x (C, H, W)."""
    st = result.settings
    _, h, w = st.in_shape
    _, ho, wo = st.out_shape
    if not (0 <= oh < ho and 0 <= ow < wo and 0 <= channel < st.in_shape[0]):
        raise ValueError(f"Output cell ({oh}, {ow}) is outside the {ho}×{wo} output.")
    r = oh * st.stride[0] - st.padding[0] + np.arange(st.kernel[0]) * st.dilation[0]
    q = ow * st.stride[1] - st.padding[1] + np.arange(st.kernel[1]) * st.dilation[1]
    rows, cols = np.meshgrid(r, q, indexing="ij")
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    fill = -np.inf if st.mode == "max" else 0.0
    values = np.where(inside, np.asarray(x)[channel, np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)], fill)
    out = float(result.output[channel, oh, ow])
    if st.mode == "max":
        flat = int(result.indices[channel, oh, ow])
        return CellWindow(rows, cols, inside, values, out, (flat // w, flat % w), None)
    return CellWindow(rows, cols, inside, values, out, None, int(result.divisor[oh, ow]))


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move the picture (C, H, W) by (dy, dx) pixels, filling the uncovered border with edge pixels."""
    h, w = x.shape[1:]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return x[:, rows[:, None], cols[None, :]]


def relative_change(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||a||, how much a map changed (0 = identical)."""
    norm = float(np.linalg.norm(a))
    return float(np.linalg.norm(a - b)) / norm if norm > 0 else float(np.linalg.norm(b) > 0)


def pyramid(x: np.ndarray, mode: Mode = "max", levels: int = 2, kernel_size: int = 2) -> list[np.ndarray]:
    """Pool (C, H, W) again and again: [x, pool(x), pool(pool(x)), ...] until too small or levels done."""
    maps = [np.asarray(x)]
    for _ in range(levels):
        if min(maps[-1].shape[1:]) < kernel_size:
            break
        maps.append(pool2d(maps[-1], mode, kernel_size).output)
    return maps


# ---- The conv -> ReLU -> pool block, as the page shows it ------------------------------------


def to_working(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W) or (H, W, 3) in [0, 1] -> (size, size) grey: centre square crop, then area-average resize."""
    from PIL import Image  # Pillow is already a dependency of the image loader

    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, like Pillow "L"
    if img.ndim != 2 or min(img.shape) < 1:
        raise ValueError(f"Expected a picture of shape (H, W) or (H, W, 3), got {img.shape}.")
    h, w = img.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = img[top:top + side, left:left + side]
    small = Image.fromarray(np.ascontiguousarray(square), mode="F").resize((size, size), Image.Resampling.BOX)
    return np.clip(np.asarray(small, dtype=np.float64), 0.0, 1.0)


@dataclass(frozen=True)
class DetectorBlock:
    """image (1, S, S) -> conv (1, S, S) -> ReLU (1, S, S); feature is what the pooling layer sees."""

    image: np.ndarray
    conv: np.ndarray | None  # None when the image itself is pooled
    relu: np.ndarray | None
    kernel: np.ndarray | None  # (kh, kw)

    @property
    def feature(self) -> np.ndarray:
        return self.image if self.relu is None else self.relu


def detector_block(image: np.ndarray, kernel: np.ndarray | None) -> DetectorBlock:
    """(S, S) picture and an optional (kh, kw) kernel -> the convolution stage before pooling."""
    from explainers.convolution import conv2d

    x = np.asarray(image, dtype=np.float64)[None]  # (1, S, S)
    if kernel is None:
        return DetectorBlock(x, None, None, None)
    k = np.asarray(kernel, dtype=np.float64)
    # (1, S, S): 'same' keeps the size; replicate padding so the picture's border is not an edge
    conv = conv2d(x, k[None, None], padding="same", padding_mode="replicate")
    return DetectorBlock(x, conv, np.maximum(conv, 0.0), k)


@dataclass(frozen=True)
class ShiftTest:
    """How much a map changes when the picture moves by (dy, dx) pixels, before and after pooling."""

    feature: np.ndarray  # (1, S, S) detector map of the original
    feature_shifted: np.ndarray  # (1, S, S) of the shifted picture
    pooled: np.ndarray  # (1, H_out, W_out)
    pooled_shifted: np.ndarray
    change_feature: float  # ||Δ|| / || map ||
    change_pooled: float


def shift_test(image: np.ndarray, kernel: np.ndarray | None, dy: int, dx: int, settings: PoolSettings) -> ShiftTest:
    """(S, S) picture: detector map and pooled map of the picture and of the picture moved by (dy, dx)."""
    a = detector_block(image, kernel).feature
    b = detector_block(shift(np.asarray(image, dtype=np.float64)[None], dy, dx)[0], kernel).feature
    pa, pb = pool_with(a, settings).output, pool_with(b, settings).output
    return ShiftTest(a, b, pa, pb, relative_change(a, b), relative_change(pa, pb))


def _num(v: float) -> str:
    return fmt(v, 2)


def describe_cell(cw: CellWindow, width: int) -> str:
    """The arithmetic behind one output cell, as a line of text (padding shown as −∞ or 0).

    For the average the shown values are rounded so that they add up to the shown sum (largest
    remainder), and the sum is written out before the division, so the line checks by hand."""
    if cw.winner is not None:
        vals = [_num(v) for v in cw.values.ravel()]
        if len(vals) > 12:
            vals = vals[:11] + ["…"]
        r, c = cw.winner
        return (f"max({', '.join(vals)}) = **{_num(cw.output)}**, from input pixel ({r}, {c}): "
                f"index {r}·{width} + {c} = **{r * width + c}**")
    from explainers.convolution import rounded_terms

    shown, total = rounded_terms(cw.values.ravel(), 2)
    vals = [v.replace("-", "−") for v in shown]
    if len(vals) > 12:
        vals = vals[:11] + ["…"]
    return (f"({' + '.join(vals)}) / {cw.divisor} = {total.replace('-', '−')} / {cw.divisor} = "
            f"**{_num(cw.output)}**  (the window holds {int(cw.inside.sum())} real pixels and "
            f"{int((~cw.inside).sum())} padding; values rounded so they add up)")


def win_counts(result: PoolResult) -> np.ndarray:
    """How many output cells each input pixel won, from the max-pool indices: (C, H, W) int."""
    c, h, w = result.settings.in_shape
    idx = result.indices
    ok = (idx >= 0) & (idx < h * w)
    flat = (np.arange(c)[:, None, None] * (h * w) + idx)[ok]
    return np.bincount(flat, minlength=c * h * w).reshape(c, h, w)


def pool_both(feature: np.ndarray, kernel_size: int, stride: int, padding: int, dilation: int,
              ceil_mode: bool, count_include_pad: bool) -> tuple[PoolResult, PoolResult]:
    """(C, H, W) -> (max pooling, average pooling) with the same knobs (average has no dilation)."""
    mx = pool2d(feature, "max", kernel_size, stride, padding, dilation, ceil_mode)
    av = pool2d(feature, "avg", kernel_size, stride, padding, 1, ceil_mode, count_include_pad)
    return mx, av


def ceil_drops_last_window(n: int, k: int, s: int, p: int, d: int = 1) -> bool:
    """True when ceil_mode's rule removes a last window that would start in the right padding."""
    rounded_up = (n + 2 * p - d * (k - 1) - 1 + s - 1) // s + 1
    return output_size(n, k, s, p, d, True) < rounded_up


def size_formula(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> str:
    """One output side, in letters and then with the current numbers (HTML: explainers/formula_html.py); a narrow
    window breaks the line between the two."""
    fence = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    out = output_size(n, k, s, p, d, ceil_mode)
    fix = " − 1" if ceil_mode and ceil_drops_last_window(n, k, s, p, d) else ""
    H, P, D, K, S = (fh.var(v) for v in "Hpdks")
    general = (f"{fh.sub(H, 'out')} = {fh.fenced(fence[0], fh.frac(f'{H} + 2{P} − {D}({K} − 1) − 1', S), fence[1])}"
               " + 1")
    numbers = f"= {fh.fenced(fence[0], fh.frac(f'{n} + 2 · {p} − {d} · ({k} − 1) − 1', str(s)), fence[1])} + 1{fix} = {out}"
    return fh.formula(general, numbers)


def winner_offsets(result: PoolResult) -> np.ndarray:
    """Which position of its own window each max came from, row-major 0..kh*kw-1: (C, H_out, W_out)."""
    st = result.settings
    _, _, w = st.in_shape
    _, ho, wo = st.out_shape
    rows, cols = result.indices // w, result.indices % w
    r0 = (np.arange(ho) * st.stride[0] - st.padding[0])[:, None]
    c0 = (np.arange(wo) * st.stride[1] - st.padding[1])[None, :]
    return (rows - r0) // st.dilation[0] * st.kernel[1] + (cols - c0) // st.dilation[1]


def strongest_cell(result: PoolResult) -> tuple[int, int]:
    """(row, col) of the largest output in channel 0, a good first cell to look at."""
    out = np.nan_to_num(result.output[0], nan=-np.inf)
    r, c = np.unravel_index(int(np.argmax(out)), out.shape)
    return int(r), int(c)


@dataclass(frozen=True)
class ShiftTally:
    """Max against average pooling over every shift (dy, dx) of up to max_shift pixels (not (0, 0))."""

    shifts: list[tuple[int, int]]  # (dy, dx)
    change_feature: np.ndarray  # (n,) relative change of the detector map per shift
    change_max: np.ndarray  # (n,) after max pooling
    change_avg: np.ndarray  # (n,) after average pooling

    @property
    def max_wins(self) -> int:
        """In how many shifts max pooling changed less than average pooling."""
        return int((self.change_max < self.change_avg).sum())


def shift_tally(image: np.ndarray, kernel: np.ndarray | None, max_settings: PoolSettings,
                avg_settings: PoolSettings, max_shift: int = 4) -> ShiftTally:
    """(S, S) picture -> ShiftTally over all (dy, dx) in 0..max_shift except (0, 0): is max really steadier?"""
    base = detector_block(image, kernel).feature
    pm, pa = pool_with(base, max_settings).output, pool_with(base, avg_settings).output
    x = np.asarray(image, dtype=np.float64)[None]
    shifts, feat, mx, av = [], [], [], []
    for dy in range(max_shift + 1):
        for dx in range(max_shift + 1):
            if dy == dx == 0:
                continue
            moved = detector_block(shift(x, dy, dx)[0], kernel).feature
            shifts.append((dy, dx))
            feat.append(relative_change(base, moved))
            mx.append(relative_change(pm, pool_with(moved, max_settings).output))
            av.append(relative_change(pa, pool_with(moved, avg_settings).output))
    return ShiftTally(shifts, np.array(feat), np.array(mx), np.array(av))


def fmt(v: float, decimals: int = 2) -> str:
    """A number for the page's text: fixed decimals, a true minus sign, never "−0.00", −∞ for padding."""
    if np.isneginf(v):
        return "−∞"
    text = f"{float(v):.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "−")
