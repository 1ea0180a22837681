"""2-D convolution exactly as ``torch.nn.functional.conv2d`` computes it, in numpy, without the batch axis.

Like PyTorch (and every deep-learning library) this is cross-correlation: the kernel is
slid over the image without flipping. Public API (kept stable; the Pooling page uses it):

- ``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros")``
  (C_in, H, W), (C_out, C_in // groups, kH, kW) -> (C_out, H_out, W_out)
- ``output_size(size, kernel_size, stride=1, padding=0, dilation=1) -> int``
- ``pad(x, padding, mode)``: (C, H, W) -> (C, H + top + bottom, W + left + right)
- ``conv_step(...) -> ConvStep``: the numbers behind one output pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explainers import formula_html as fh

IntPair = int | tuple[int, int]
Padding = int | tuple[int, int] | str
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pair(value: IntPair, name: str, *, minimum: int) -> tuple[int, int]:
    """int or (a, b) -> (a, b) of ints >= minimum, else a ValueError naming the setting."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be a whole number or a pair of whole numbers, not {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, but it is {_show(pair)}")
    return pair


def _show(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def resolve_padding(
    padding: Padding, kernel_size: IntPair, stride: IntPair = 1, dilation: IntPair = 1
) -> tuple[int, int, int, int]:
    """Padding setting -> (top, bottom, left, right), PyTorch's rule for "valid" and "same"."""
    kh, kw = _pair(kernel_size, "kernel size", minimum=1)
    sh, sw = _pair(stride, "stride", minimum=1)
    dh, dw = _pair(dilation, "dilation", minimum=1)
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if (sh, sw) != (1, 1):
                raise ValueError(
                    "padding 'same' only works with stride 1: with a larger stride the output "
                    "cannot have the same size as the input"
                )
            th, tw = dh * (kh - 1), dw * (kw - 1)
            # PyTorch puts the odd extra pixel at the bottom / right.
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"padding must be a number, a pair, 'valid' or 'same', not {padding!r}")
    ph, pw = _pair(padding, "padding", minimum=0)
    return (ph, ph, pw, pw)


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((size + 2·padding − dilation·(kernel_size − 1) − 1) / stride) + 1; ValueError if < 1."""
    for name, v, lo in (("size", size, 1), ("kernel size", kernel_size, 1), ("stride", stride, 1),
                        ("padding", padding, 0), ("dilation", dilation, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{name} must be a whole number of at least {lo}, not {v!r}")
    span = dilation * (kernel_size - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ValueError(
            f"the dilated kernel ({span} pixels) is larger than the padded image ({padded} pixels)"
        )
    return (padded - span) // stride + 1


def pad(x: np.ndarray, padding: tuple[int, int, int, int], mode: str = "zeros") -> np.ndarray:
    """(C, H, W), (top, bottom, left, right) -> (C, H + top + bottom, W + left + right)."""
    if mode not in PADDING_MODES:
        raise ValueError(f"padding mode must be one of {', '.join(PADDING_MODES)}, not {mode!r}")
    top, bottom, left, right = padding
    if not any(padding):
        return x
    _, H, W = x.shape
    if mode == "reflect" and (max(top, bottom) >= H or max(left, right) >= W):
        raise ValueError(
            f"reflect padding must be smaller than the image: padding {max(top, bottom, left, right)} "
            f"does not fit a {H}×{W} image (choose less padding or another mode)"
        )
    if mode == "circular" and (max(top, bottom) > H or max(left, right) > W):
        raise ValueError(
            f"circular padding can wrap around at most once: padding {max(top, bottom, left, right)} "
            f"is more than the {H}×{W} image (choose less padding or another mode)"
        )
    widths = ((0, 0), (top, bottom), (left, right))
    if mode == "zeros":
        return np.pad(x, widths, mode="constant")
    return np.pad(x, widths, mode=_NP_MODE[mode])


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about the shapes of one conv2d call (all ints)."""

    c_in: int
    c_out: int
    groups: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    in_size: tuple[int, int]  # H, W
    out_size: tuple[int, int]  # H_out, W_out


def geometry(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> ConvGeometry:
    """Check shapes and settings as PyTorch would, with a sentence a learner understands."""
    if len(x_shape) != 3:
        raise ValueError(f"the input must be (channels, height, width), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(
            f"the weight must be (out_channels, in_channels / groups, kH, kW), got shape {tuple(w_shape)}"
        )
    c_in, H, W = (int(s) for s in x_shape)
    c_out, c_per_group, kh, kw = (int(s) for s in w_shape)
    if H < 1 or W < 1 or c_in < 1:
        raise ValueError("the input image is empty")
    if kh < 1 or kw < 1 or c_out < 1:
        raise ValueError("the kernel is empty")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"groups must be a whole number of at least 1, not {groups!r}")
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups ({groups}) must divide both the input channels ({c_in}) and the output channels ({c_out})"
        )
    if c_per_group != c_in // groups:
        raise ValueError(
            f"each filter must see in_channels / groups = {c_in // groups} channels, "
            f"but the weight has {c_per_group}"
        )
    s = _pair(stride, "stride", minimum=1)
    d = _pair(dilation, "dilation", minimum=1)
    p = resolve_padding(padding, (kh, kw), s, d)
    span = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    padded = (H + p[0] + p[1], W + p[2] + p[3])
    if span[0] > padded[0] or span[1] > padded[1]:
        raise ValueError(
            f"the dilated kernel ({span[0]}×{span[1]}) is larger than the padded image "
            f"({padded[0]}×{padded[1]}); use a smaller kernel or dilation, or more padding"
        )
    out = ((padded[0] - span[0]) // s[0] + 1, (padded[1] - span[1]) // s[1] + 1)
    return ConvGeometry(c_in, c_out, int(groups), (kh, kw), s, d, p, (H, W), out)


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """(C_in, H, W), (C_out, C_in // groups, kH, kW), (C_out,) -> (C_out, H_out, W_out)."""
    x = np.asarray(x)
    weight = np.asarray(weight)
    g = geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding mode must be one of {', '.join(PADDING_MODES)}, not {padding_mode!r}")
    dtype = np.result_type(x.dtype, weight.dtype, np.float32)
    xp = pad(x.astype(dtype, copy=False), g.padding, padding_mode)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = g.kernel, g.stride, g.dilation, g.out_size
    G, cg, og = g.groups, g.c_in // g.groups, g.c_out // g.groups
    xg = xp.reshape(G, cg, *xp.shape[1:])
    wg = weight.astype(dtype, copy=False).reshape(G, og, cg, kh, kw)
    out = np.zeros((G, og, ho, wo), dtype=dtype)
    # Loop over the kernel's taps (at most kH·kW), never over pixels: each tap multiplies a
    # strided view of the whole padded image by one weight per (out, in) channel pair.
    few_pairs = og * cg <= 16  # then scaled adds beat a matmul (no copy of the strided view)
    tmp = np.empty((ho, wo), dtype=dtype) if few_pairs else None
    for i in range(kh):
        r0 = i * dh
        rows = slice(r0, r0 + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            c0 = j * dw
            patch = xg[:, :, rows, c0:c0 + sw * (wo - 1) + 1:sw]  # (G, cg, H_out, W_out) view
            if few_pairs:
                for gi in range(G):
                    for o in range(og):
                        for c in range(cg):
                            np.multiply(patch[gi, c], wg[gi, o, c, i, j], out=tmp)
                            out[gi, o] += tmp
            else:
                flat = patch.reshape(G, cg, ho * wo)
                out += np.matmul(wg[:, :, :, i, j], flat).reshape(G, og, ho, wo)  # (G, og, cg) @ (G, cg, HW)
    out = out.reshape(g.c_out, ho, wo)
    if bias is not None:
        b = np.asarray(bias, dtype=dtype).reshape(-1)
        if b.shape != (g.c_out,):
            raise ValueError(f"bias must have one value per output channel ({g.c_out}), got {b.size}")
        out += b[:, None, None]
    return out


@dataclass(frozen=True)
class ConvStep:
    """The numbers behind one output pixel of one output channel."""

    out_row: int
    out_col: int
    rows: np.ndarray  # (kH,) input row of each kernel row; outside 0..H-1 means padding
    cols: np.ndarray  # (kW,) input column of each kernel column
    window: np.ndarray  # (C, kH, kW) the (padded) input values under the kernel taps
    kernel: np.ndarray  # (C, kH, kW) the weights that see them
    products: np.ndarray  # (C, kH, kW) window * kernel
    is_padding: np.ndarray  # (kH, kW) True where the tap reads padding, not the image
    bias: float
    total: float  # products.sum() + bias, equal to conv2d(...)[channel, out_row, out_col]


def conv_step(
    x: np.ndarray,
    kernel: np.ndarray,
    out_row: int,
    out_col: int,
    *,
    bias: float = 0.0,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    padding_mode: str = "zeros",
) -> ConvStep:
    """(C, H, W), (C, kH, kW), output position -> ConvStep for that one output pixel."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    g = geometry(x.shape, (1, *kernel.shape), stride, padding, dilation, 1)
    ho, wo = g.out_size
    if not (0 <= out_row < ho and 0 <= out_col < wo):
        raise ValueError(f"output pixel ({out_row}, {out_col}) is outside the {ho}×{wo} output")
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    top, _, left, _ = g.padding
    pr = out_row * sh + dh * np.arange(kh)  # rows in padded coordinates
    pc = out_col * sw + dw * np.arange(kw)
    xp = pad(x, g.padding, padding_mode)
    window = xp[:, pr[:, None], pc[None, :]]
    rows, cols = pr - top, pc - left
    H, W = g.in_size
    is_padding = ~(((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < W))[None, :])
    products = window * kernel
    return ConvStep(
        int(out_row), int(out_col), rows, cols, window, kernel, products, is_padding,
        float(bias), float(products.sum() + bias),
    )


def normalise_kernel(k: np.ndarray) -> np.ndarray:
    """(kH, kW) -> same shape, divided by its sum so a flat area keeps its brightness (unchanged if the sum is ~0)."""
    k = np.asarray(k, dtype=np.float64)
    s = k.sum()
    return k / s if abs(s) > 1e-12 else k.copy()


@dataclass(frozen=True)
class Normalised:
    """A kernel divided by a number, and which number it was (for the page to say so)."""

    kernel: np.ndarray  # (kH, kW) float64
    divisor: float
    by: str  # "sum": the weights' sum; "abs": the sum of their absolute values (the sum is 0); "none": all zero


def normalise(k: np.ndarray) -> Normalised:
    """(kH, kW) -> Normalised: divide by the sum, or by the sum of |w| when the sum is ~0 (edge detectors).

    Dividing by the sum keeps a flat area's brightness; a zero-sum kernel (Sobel, Laplacian) maps a flat
    area to 0 whatever it is divided by, so it is scaled by sum |w| instead: its output then lies in
    [-1, 1] for a picture in [0, 1].
    """
    k = np.asarray(k, dtype=np.float64)
    s, a = float(k.sum()), float(np.abs(k).sum())
    if abs(s) > 1e-9 * max(a, 1.0):
        return Normalised(k / s, s, "sum")
    if a > 0:
        return Normalised(k / a, a, "abs")
    return Normalised(k.copy(), 1.0, "none")


def fmt(value: float, decimals: int = 4) -> str:
    """A number at fixed decimals, never "-0.00" (a negative zero reads like a sign error)."""
    text = f"{float(value):.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def rounded_terms(values: np.ndarray, decimals: int = 2) -> tuple[list[str], str]:
    """(n,) terms -> (n shown terms, shown sum) at `decimals` places that add up exactly as shown.

    The sum is the exact sum rounded; each term is rounded down or up (never further than one unit in
    the last place), the ones with the largest remainders up, until the shown terms add up to the
    shown sum (the largest-remainder method). Plain rounding of each term would not add up.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    scale = 10.0 ** decimals
    total = int(round(float(v.sum()) * scale))
    scaled = v * scale
    units = np.floor(scaled)
    missing = int(total - units.sum())  # 0 <= missing <= n, up to float noise
    order = np.argsort(-(scaled - units), kind="stable")
    if missing > 0:
        units[order[:missing]] += 1
    elif missing < 0:  # float noise only
        units[order[::-1][:-missing]] -= 1
    return [fmt(u / scale, decimals) for u in units], fmt(total / scale, decimals)


COLOUR_MODES = ("grey", "rgb", "depthwise")


@dataclass(frozen=True)
class KernelDemo:
    """One kernel applied to a picture the way the Convolution page shows it."""

    colour: str  # "grey": Conv2d(1, 1); "rgb": Conv2d(3, 1); "depthwise": Conv2d(3, 3, groups=3)
    x: np.ndarray  # (C_in, H, W) the input tensor (batch axis dropped)
    weight: np.ndarray  # (C_out, C_in // groups, kH, kW)
    groups: int
    per_channel: np.ndarray  # (C_in, H_out, W_out) each input channel convolved with its kernel slice, no bias
    pre_activation: np.ndarray  # (C_out, H_out, W_out) the conv2d result, bias included
    output: np.ndarray  # (C_out, H_out, W_out) after the optional ReLU


def apply_kernel(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    colour: str = "grey",
    bias: float = 0.0,
    relu: bool = False,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    padding_mode: str = "zeros",
) -> KernelDemo:
    """(H, W, 3) image in [0, 1], (kH, kW) kernel -> KernelDemo (one conv2d call does the work)."""
    if colour not in COLOUR_MODES:
        raise ValueError(f"colour must be one of {', '.join(COLOUR_MODES)}, not {colour!r}")
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2:
        raise ValueError(f"the kernel must be a 2-D grid of numbers, got shape {kernel.shape}")
    if not np.isfinite(kernel).all():
        raise ValueError("the kernel contains a number that is not finite")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if colour == "grey":
        from explainers.images import to_grey

        x = to_grey(image)[None]  # (1, H, W)
    else:
        x = np.ascontiguousarray(image.transpose(2, 0, 1))  # (3, H, W)
    c_in = x.shape[0]
    # Each input channel convolved with the same kernel: the depthwise conv is the shared work.
    per_channel = conv2d(x, np.repeat(kernel[None, None], c_in, axis=0), None, stride, padding, dilation,
                         groups=c_in, padding_mode=padding_mode)
    if colour == "rgb":
        weight, groups = np.repeat(kernel[None, None], 3, axis=1), 1  # (1, 3, kH, kW)
        pre = per_channel.sum(axis=0, keepdims=True) + np.float32(bias)  # in_channels=3: the maps add up
    else:
        weight, groups = kernel[None, None].repeat(c_in, axis=0), c_in  # (C, 1, kH, kW)
        pre = per_channel + np.float32(bias)
    out = np.maximum(pre, 0) if relu else pre
    return KernelDemo(colour, x, weight, groups, per_channel, pre, out)


def filter_bank(
    image: np.ndarray,
    kernels: list[np.ndarray],
    *,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """(H, W) grey image, n kernels of any sizes -> (n, H_out, W_out): one Conv2d(1, n) layer.

    Smaller kernels are centred in zeros to the largest size, so every map has one shape.
    """
    if not kernels:
        raise ValueError("choose at least one kernel for the filter bank")
    kh = max(k.shape[0] for k in kernels)
    kw = max(k.shape[1] for k in kernels)
    from explainers.kernels import embed_centered

    weight = np.stack([embed_centered(np.asarray(k), (kh, kw)) for k in kernels])[:, None].astype(np.float32)
    x = np.asarray(image, dtype=np.float32)[None]
    return conv2d(x, weight, None, stride, padding, dilation, 1, padding_mode)


@dataclass(frozen=True)
class KernelWalk:
    """A small block of output pixels and the patch of (padded) input they read, for the animation."""

    crop: np.ndarray  # (h, w, C) padded input pixels covering every window of the block
    origin: tuple[int, int]  # image (row, col) of crop[0, 0]; negative inside the padding
    out_origin: tuple[int, int]  # output (row, col) of output[0, 0]
    output: np.ndarray  # (n_r, n_c) the conv2d values of the block
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad_top_left: tuple[int, int]

    def taps(self, r: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Block position (r, c) -> image rows (kH,) and cols (kW,) read by that output pixel."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        rows = (self.out_origin[0] + r) * sh - self.pad_top_left[0] + dh * np.arange(kh)
        cols = (self.out_origin[1] + c) * sw - self.pad_top_left[1] + dw * np.arange(kw)
        return rows, cols


def kernel_walk(
    image: np.ndarray,
    output: np.ndarray,
    centre: tuple[int, int],
    *,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    padding_mode: str = "zeros",
    block: int = 5,
) -> KernelWalk:
    """(H, W, C) image, (H_out, W_out) output, output pixel -> the block x block walk starting near it."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    H, W, C = image.shape
    g = geometry((C, H, W), (1, C, *_pair(kernel_size, "kernel size", minimum=1)), stride, padding, dilation)
    ho, wo = g.out_size
    if output.shape != (ho, wo):
        raise ValueError(f"the output map should be {ho}×{wo}, got {output.shape}")
    n_r, n_c = min(block, ho), min(block, wo)
    r0 = int(np.clip(centre[0] - n_r // 2, 0, ho - n_r))
    c0 = int(np.clip(centre[1] - n_c // 2, 0, wo - n_c))
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    top, _, left, _ = g.padding
    pr0, pc0 = r0 * sh, c0 * sw  # padded coordinates of the block's first window
    pr1 = (r0 + n_r - 1) * sh + dh * (kh - 1) + 1
    pc1 = (c0 + n_c - 1) * sw + dw * (kw - 1) + 1
    padded = pad(np.moveaxis(image, -1, 0), g.padding, padding_mode)
    crop = np.moveaxis(padded[:, pr0:pr1, pc0:pc1], 0, -1)
    return KernelWalk(crop, (pr0 - top, pc0 - left), (r0, c0), np.asarray(output[r0:r0 + n_r, c0:c0 + n_c]),
                      g.kernel, g.stride, g.dilation, (top, left))


def size_formula(axis: str, size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int) -> str:
    """One axis of the output-size formula with the current numbers filled in (HTML: explainers/formula_html.py)."""
    out = (size + pads[0] + pads[1] - dilation * (kernel - 1) - 1) // stride + 1
    p = f"2 · {pads[0]}" if pads[0] == pads[1] else f"({pads[0]} + {pads[1]})"
    top = f"{size} + {p} − {dilation} · ({kernel} − 1) − 1"
    return fh.formula(f"{fh.sub(fh.var(axis), 'out')} = {fh.fenced('⌊', fh.frac(top, str(stride)), '⌋')} + 1 = {out}")
