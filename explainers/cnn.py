"""A whole small CNN in numpy: its layers, shapes, receptive windows, one unit's weighted sum, softmax, parameter counts.

No torch here: the trained network's activations and weights arrive as numpy arrays (from
``explainers.training.cnn``), and everything the page explains about them is computed from those
numbers alone. The tests check each result against the torch model's own activations.

The network (LeNet's shape, shrunk so every feature map stays readable and it trains in seconds)::

    input 1×28×28 -> conv 4@3×3 -> ReLU -> maxpool 2 -> conv 8@3×3 -> ReLU -> maxpool 2
          -> flatten 200 -> fully connected 10 -> softmax
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explainers import formula_html as fh

KINDS = ("input", "conv", "relu", "maxpool", "flatten", "linear", "softmax")
SPATIAL = ("input", "conv", "relu", "maxpool")  # kinds whose output is a (C, H, W) stack of maps


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the network: what it does and its knobs (no weights)."""

    name: str  # "conv1"; also the name of the torch module that computes it
    kind: str  # one of KINDS
    kernel: int = 1  # window side (conv, maxpool)
    stride: int = 1
    padding: int = 0
    out_channels: int = 0  # conv: output channels; linear: output units

    @property
    def spatial(self) -> bool:
        """True when the layer's output is a stack of maps (C, H, W)."""
        return self.kind in SPATIAL


INPUT_SHAPE = (1, 28, 28)  # (C, H, W): one grey MNIST-sized digit, ink 1 on background 0
ARCH: tuple[LayerSpec, ...] = (
    LayerSpec("input", "input"),
    LayerSpec("conv1", "conv", kernel=3, out_channels=4),
    LayerSpec("relu1", "relu"),
    LayerSpec("pool1", "maxpool", kernel=2, stride=2),
    LayerSpec("conv2", "conv", kernel=3, out_channels=8),
    LayerSpec("relu2", "relu"),
    LayerSpec("pool2", "maxpool", kernel=2, stride=2),
    LayerSpec("flatten", "flatten"),
    LayerSpec("fc", "linear", out_channels=10),
    LayerSpec("softmax", "softmax"),
)
LAYER_NAMES = tuple(spec.name for spec in ARCH)

KIND_LABELS = {
    "input": "input", "conv": "convolution", "relu": "ReLU", "maxpool": "max pooling",
    "flatten": "flatten", "linear": "fully connected", "softmax": "softmax",
}


def _side(n: int, spec: LayerSpec) -> int:
    """One side after a conv or pooling window: floor((n + 2p - k) / s) + 1 (no dilation here)."""
    return (n + 2 * spec.padding - spec.kernel) // spec.stride + 1


def layer_shapes(arch: Sequence[LayerSpec] = ARCH, input_shape: tuple[int, ...] = INPUT_SHAPE) -> list[tuple[int, ...]]:
    """The output shape of every layer: (C, H, W) for maps, (N,) for vectors; ValueError if a map vanishes."""
    shapes: list[tuple[int, ...]] = []
    shape = tuple(input_shape)
    for spec in arch:
        if spec.kind == "conv":
            shape = (spec.out_channels, _side(shape[1], spec), _side(shape[2], spec))
        elif spec.kind == "maxpool":
            shape = (shape[0], _side(shape[1], spec), _side(shape[2], spec))
        elif spec.kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif spec.kind == "linear":
            shape = (spec.out_channels,)
        if len(shape) == 3 and min(shape[1:]) < 1:
            raise ValueError(f"{spec.name} would have no pixels left ({shape}).")
        shapes.append(shape)
    return shapes


def shape_flow(arch: Sequence[LayerSpec] = ARCH, input_shape: tuple[int, ...] = INPUT_SHAPE) -> str:
    """"input 1×28×28 → conv1 4×26×26 → …": every layer's name and output shape, in order."""
    return " → ".join(f"{spec.name} {'×'.join(map(str, shape))}" for spec, shape in zip(arch, layer_shapes(arch, input_shape)))


# ----------------------------------------------------------------------------- receptive windows


@dataclass(frozen=True)
class Window:
    """Rows top..bottom-1 and columns left..right-1 of one layer's maps, in the channels listed."""

    layer: int  # index into ARCH
    top: int
    bottom: int  # exclusive
    left: int
    right: int  # exclusive
    channels: tuple[int, ...]  # the maps of this layer the unit depends on

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the window."""
        return self.bottom - self.top, self.right - self.left


def receptive_windows(layer: int, channel: int, row: int, col: int, arch: Sequence[LayerSpec] = ARCH,
                      input_shape: tuple[int, ...] = INPUT_SHAPE) -> list[Window]:
    """Every map region unit (channel, row, col) of ``layer`` depends on, from the input up to itself.

    For a vector layer (flatten, fully connected, softmax) ``channel`` is the unit's index and
    ``row``/``col`` are ignored. Returns one Window per spatial layer 0..min(layer, last map),
    the unit's own layer last when it is a map. Windows are clipped to the maps: padding has no input.
    """
    shapes = layer_shapes(arch, input_shape)
    spec = arch[layer]
    if not spec.spatial:
        last = max(i for i, s in enumerate(arch) if s.spatial)
        if spec.kind == "flatten":
            # A flattened unit is one pixel of the last map stack, in C, H, W order (row-major).
            c, r, q = np.unravel_index(channel, shapes[last])
            return receptive_windows(last, int(c), int(r), int(q), arch, input_shape)
        # A fully connected unit (and softmax, which mixes all logits) sees every pixel of every last map,
        # which is not every input pixel: pooling's floor drops a last row and column that fit no window.
        c, h, w = shapes[last]
        return _back(Window(last, 0, h, 0, w, tuple(range(c))), arch, shapes)
    c, h, w = shapes[layer]
    if not (0 <= channel < c and 0 <= row < h and 0 <= col < w):
        raise ValueError(f"{spec.name} has {c} maps of {h}×{w}; unit ({channel}, {row}, {col}) is outside.")
    return _back(Window(layer, row, row + 1, col, col + 1, (channel,)), arch, shapes)


def _back(here: Window, arch: Sequence[LayerSpec], shapes: list[tuple[int, ...]]) -> list[Window]:
    """A region of one layer's maps -> the regions of every earlier layer that feed it, input first."""
    out = [here]
    for i in range(here.layer, 0, -1):
        s, here = arch[i], out[0]
        _, h_in, w_in = shapes[i - 1]
        if s.kind in ("conv", "maxpool"):
            top, bottom = here.top * s.stride - s.padding, (here.bottom - 1) * s.stride - s.padding + s.kernel
            left, right = here.left * s.stride - s.padding, (here.right - 1) * s.stride - s.padding + s.kernel
        else:  # ReLU: one pixel from one pixel
            top, bottom, left, right = here.top, here.bottom, here.left, here.right
        # A convolution sums over all its input maps; ReLU and pooling keep each map to itself.
        channels = tuple(range(shapes[i - 1][0])) if s.kind == "conv" else here.channels
        out.insert(0, Window(i - 1, max(top, 0), min(bottom, h_in), max(left, 0), min(right, w_in), channels))
    return out


# ----------------------------------------------------------------------------- one unit's arithmetic


@dataclass(frozen=True)
class WeightedSum:
    """What one conv or fully connected unit computes: sum(inputs * weights) + bias."""

    inputs: np.ndarray  # (C, k, k) window of the previous layer, or (N,) the previous vector
    weights: np.ndarray  # same shape as inputs: the kernel, or one row of the weight matrix
    products: np.ndarray  # inputs * weights, term by term
    bias: float
    total: float  # products.sum() + bias, before any activation

    @property
    def terms(self) -> int:
        """How many multiplications the unit does."""
        return int(self.products.size)


def _weighted(inputs: np.ndarray, weights: np.ndarray, bias: float) -> WeightedSum:
    inputs, weights = np.asarray(inputs, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    products = inputs * weights
    return WeightedSum(inputs, weights, products, float(bias), float(products.sum() + bias))


def conv_unit(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, channel: int, row: int, col: int,
              stride: int = 1, padding: int = 0) -> WeightedSum:
    """x (C, H, W), weight (O, C, k, k), bias (O,) -> the sum behind output (channel, row, col) of the conv."""
    _, c_in, k, _ = weight.shape
    xp = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (padding, padding), (padding, padding)))
    top, left = row * stride, col * stride
    window = xp[:, top:top + k, left:left + k]
    if window.shape != (c_in, k, k):
        raise ValueError(f"unit ({row}, {col}) has no full {k}×{k} window in a {x.shape[1]}×{x.shape[2]} map.")
    return _weighted(window, weight[channel], bias[channel])


def linear_unit(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, unit: int) -> WeightedSum:
    """x (N,), weight (M, N), bias (M,) -> the sum behind output ``unit`` of the fully connected layer."""
    return _weighted(np.asarray(x).reshape(-1), weight[unit], bias[unit])


def maxpool_unit(x: np.ndarray, channel: int, row: int, col: int, kernel: int = 2, stride: int = 2) -> np.ndarray:
    """x (C, H, W) -> the (k, k) window that max pooling reduces to output (channel, row, col)."""
    top, left = row * stride, col * stride
    return np.asarray(x, dtype=np.float64)[channel, top:top + kernel, left:left + kernel]


def top_terms(ws: WeightedSum, n: int = 8) -> np.ndarray:
    """Indices (into ws.products.ravel()) of the n terms with the largest |product|, largest first."""
    flat = np.abs(ws.products.ravel())
    order = np.argsort(-flat, kind="stable")
    return order[:n]


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x) element-wise."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def softmax(z: np.ndarray) -> np.ndarray:
    """Logits (K,) -> probabilities (K,): exp(z - max z) / sum(...), the max subtracted so exp never overflows."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


# ----------------------------------------------------------------------------- parameter counts


@dataclass(frozen=True)
class ParamCount:
    """A layer's learnable numbers, and what the same job would cost without sharing or locality."""

    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int  # this network's layer: weights + biases
    local: int  # every output pixel with its own kernel and bias (locally connected: no sharing)
    dense: int  # a fully connected layer from the same input to the same output
    fan_in: int  # inputs each output unit looks at


def parameter_counts(arch: Sequence[LayerSpec] = ARCH, input_shape: tuple[int, ...] = INPUT_SHAPE) -> list[ParamCount]:
    """One ParamCount per layer (input included, with zeros), in network order."""
    shapes = layer_shapes(arch, input_shape)
    rows = []
    prev = tuple(input_shape)
    for spec, out in zip(arch, shapes):
        n_in, n_out = int(np.prod(prev)), int(np.prod(out))
        if spec.kind == "conv":
            c_in, (o, h, w) = prev[0], out
            fan_in = c_in * spec.kernel ** 2
            params, local, dense = o * fan_in + o, h * w * (o * fan_in + o), n_in * n_out + n_out
        elif spec.kind == "linear":
            fan_in = n_in
            params = local = dense = n_in * n_out + n_out
        else:
            fan_in = spec.kernel ** 2 if spec.kind == "maxpool" else (n_in if spec.kind == "softmax" else 1)
            params = local = dense = 0
        rows.append(ParamCount(spec.name, spec.kind, prev if spec.kind != "input" else out, out,
                               params, local, dense, fan_in))
        prev = out
    return rows


def parameter_rows(arch: Sequence[LayerSpec] = ARCH, input_shape: tuple[int, ...] = INPUT_SHAPE) -> list[dict[str, str]]:
    """The parameter table the page shows, one row of display strings per layer after the input."""
    rows = []
    for pc in parameter_counts(arch, input_shape)[1:]:
        # Only layers that learn have a "same job without sharing" to compare with.
        rows.append({
            "layer": pc.name, "does": KIND_LABELS[pc.kind], "output": "×".join(map(str, pc.out_shape)),
            "inputs per unit": f"{pc.fan_in:,}", "parameters": f"{pc.params:,}",
            "without sharing": f"{pc.local:,}" if pc.params else "",
            "fully connected": f"{pc.dense:,}" if pc.params else "",
        })
    return rows


def sharing_sentence(arch: Sequence[LayerSpec] = ARCH, input_shape: tuple[int, ...] = INPUT_SHAPE) -> str:
    """One sentence with the first conv layer's three counts (Markdown)."""
    pc = next(p for p in parameter_counts(arch, input_shape) if p.kind == "conv")
    positions = pc.out_shape[1] * pc.out_shape[2]
    return (f"**{pc.name}** learns **{pc.params:,}** numbers. A fully connected layer mapping the same "
            f"{'×'.join(map(str, pc.in_shape))} input to the same {'×'.join(map(str, pc.out_shape))} output would "
            f"need **{pc.dense:,}** (every pixel wired to every output: no locality). Keeping the small windows but "
            f"giving each of the {positions:,} positions its own kernel would still need **{pc.local:,}** "
            f"(no sharing). One kernel per map, reused at every position, is what makes a CNN small.")


# ----------------------------------------------------------------------------- one unit, as a formula (HTML)
# Each formula is explainers/formula_html.py's HTML, in two sides (the unit and its rule, then the numbers), which a
# narrow window puts one under the other; it changes with every pick, so it is patched into the unit's panel.


def _n(v: float) -> str:
    """A number, 3 decimals, with a true minus sign."""
    return fh.minus(f"{v:.3f}")


def _plus(v: float) -> str:
    return f"+ {_n(v)}" if v >= 0 else f"− {_n(-v)}"


def _name(name: str, *index: int) -> str:
    return fh.text(name) + "[" + ",".join(map(str, index)) + "]"


def conv_formula(ws: WeightedSum, name: str, channel: int, row: int, col: int) -> str:
    """The conv unit's sum with its real numbers: y = sum of C·k·k products + b = total."""
    x, w, b = (fh.var(v) for v in "xwb")
    return fh.formula(f"{_name(name, channel, row, col)} = ∑ {x} · {w} + {b}",
                      f"= {fh.brace(_n(ws.products.sum()), f'{ws.terms} products')} {_plus(ws.bias)} = "
                      f"<b>{_n(ws.total)}</b>")


def linear_formula(ws: WeightedSum, unit: int, shown: np.ndarray) -> str:
    """The fully connected unit's sum: the shown terms, the rest, the bias, the total."""
    rest = ws.products.sum() - ws.products.ravel()[shown].sum()
    x, w, b, z = (fh.var(v) for v in "xwbz")
    return fh.formula(f"{fh.sub(z, str(unit))} = ∑<sub>{fh.var('i')}</sub> {fh.sub(x, fh.var('i'))} "
                      f"{fh.sub(w, f'{unit},' + fh.var('i'))} + {b}",
                      f"= {fh.brace(_n(ws.products.ravel()[shown].sum()), f'{len(shown)} largest')} "
                      f"{fh.brace(_plus(rest), f'other {ws.terms - len(shown)}')} {_plus(ws.bias)} = "
                      f"<b>{_n(ws.total)}</b>")


def relu_formula(name: str, prev: str, unit: tuple[int, int, int], x: float) -> str:
    """max(0, x) with the number."""
    return fh.formula(f"{_name(name, *unit)} = max(0, {_name(prev, *unit)})",
                      f"= max(0, {_n(x)}) = <b>{_n(max(x, 0.0))}</b>")


def pool_formula(name: str, unit: tuple[int, int, int], window: np.ndarray) -> str:
    """max of the window's numbers."""
    return fh.formula(f"{_name(name, *unit)} = max({', '.join(_n(v) for v in window.ravel())})",
                      f"= <b>{_n(window.max())}</b>")


def softmax_formula(logits: np.ndarray, unit: int) -> str:
    """p_k = e^{z_k} / sum_j e^{z_j} with the numbers."""
    z = np.asarray(logits, dtype=np.float64)
    p = softmax(z)
    e, zv = fh.var("e"), fh.var("z")
    total = fh.subsup("∑", f"{fh.var('j')}=0", str(len(z) - 1)) + " " + fh.sup(e, fh.sub(zv, fh.var("j")))
    return fh.formula(f"{fh.sub(fh.var('p'), str(unit))} = {fh.frac(fh.sup(e, fh.sub(zv, str(unit))), total)}",
                      f"= {fh.frac(fh.sup(e, _n(z[unit])), fh.minus(f'{np.exp(z).sum():.4g}'))} = <b>{p[unit]:.3f}</b>")


def flatten_index(index: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Flattened position -> (channel, row, col) of the (C, H, W) stack it was read from, row-major."""
    c, r, q = np.unravel_index(index, shape)
    return int(c), int(r), int(q)


# ----------------------------------------------------------------------------- the PyTorch snippet
