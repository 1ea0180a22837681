"""A bank of named image kernels, each (kH, kW) float64, with one line on what it does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NamedKernel:
    name: str
    weights: np.ndarray  # (kH, kW)
    about: str


def _binomial(n: int) -> np.ndarray:
    """(n,) row n-1 of Pascal's triangle: a discrete Gaussian."""
    row = np.array([1.0])
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def gaussian(size: int) -> np.ndarray:
    """(size, size) binomial approximation of a Gaussian blur, summing to 1."""
    b = _binomial(size)
    k = np.outer(b, b)
    return k / k.sum()


def _log(size: int, sigma: float) -> np.ndarray:
    """(size, size) Laplacian of Gaussian with zero sum (a blob / edge detector)."""
    r = np.arange(size) - size // 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    q = (xx**2 + yy**2) / (2 * sigma**2)
    k = (q - 1.0) * np.exp(-q)
    return k - k.mean()


def _bank() -> list[NamedKernel]:
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    prewitt_x = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], float)
    unsharp = -gaussian(5)
    unsharp[2, 2] += 2.0
    return [
        NamedKernel("Identity", np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
                    "Copies the image: only the centre weight is 1."),
        NamedKernel("Box blur 3×3", np.full((3, 3), 1 / 9), "Average of the 9 neighbours."),
        NamedKernel("Box blur 5×5", np.full((5, 5), 1 / 25), "Average of 25 neighbours: a stronger blur."),
        NamedKernel("Gaussian blur 3×3", gaussian(3), "Weighted average, heavier in the middle."),
        NamedKernel("Gaussian blur 5×5", gaussian(5), "A wider, smooth blur."),
        NamedKernel("Gaussian blur 7×7", gaussian(7), "The widest smooth blur here."),
        NamedKernel("Sharpen", np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
                    "Boosts a pixel against its neighbours."),
        NamedKernel("Unsharp mask 5×5", unsharp, "Image plus (image - blur): crisper edges."),
        NamedKernel("Sobel x", sobel_x, "Left-to-right change: lights up vertical edges."),
        NamedKernel("Sobel y", sobel_x.T.copy(), "Top-to-bottom change: lights up horizontal edges."),
        NamedKernel("Prewitt x", prewitt_x, "Like Sobel x with equal row weights."),
        NamedKernel("Prewitt y", prewitt_x.T.copy(), "Like Sobel y with equal column weights."),
        NamedKernel("Laplacian", np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float),
                    "Second difference: edges in every direction, zero on flat areas."),
        NamedKernel("Outline", np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
                    "Keeps only what differs from all 8 neighbours."),
        NamedKernel("Emboss", np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], float),
                    "A relief lit from the bottom right."),
        NamedKernel("Laplacian of Gaussian 7×7", _log(7, 1.2),
                    "Blur, then Laplacian: finds blobs and edges, ignores fine noise."),
        NamedKernel("Motion blur 7×7", np.eye(7) / 7, "Averages along a diagonal, like a moving camera."),
        NamedKernel("Horizontal lines 5×5",
                    np.array([[-1] * 5, [-1] * 5, [4] * 5, [-1] * 5, [-1] * 5], float) / 10,
                    "Responds to thin horizontal lines."),
    ]


KERNELS: dict[str, NamedKernel] = {k.name: k for k in _bank()}


def kernel(name: str) -> np.ndarray:
    """name -> (kH, kW) float64 copy of a named kernel; KeyError for unknown names."""
    return KERNELS[name].weights.copy()


def embed_centered(k: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(kH, kW) -> (size) with k in the middle and zeros around (same output for odd sizes)."""
    kh, kw = k.shape
    H, W = size
    if kh > H or kw > W:
        raise ValueError(f"a {kh}×{kw} kernel does not fit in {H}×{W}")
    out = np.zeros((H, W), dtype=np.float64)
    top, left = (H - kh) // 2, (W - kw) // 2
    out[top:top + kh, left:left + kw] = k
    return out


def resize_kernel(k: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(kH, kW) -> (size): centred crop or zero-pad, so the middle weights stay in the middle."""
    k = np.asarray(k, dtype=np.float64)
    H, W = size
    out = np.zeros((H, W))
    h, w = min(H, k.shape[0]), min(W, k.shape[1])
    sr, sc = (k.shape[0] - h) // 2, (k.shape[1] - w) // 2
    dr, dc = (H - h) // 2, (W - w) // 2
    out[dr:dr + h, dc:dc + w] = k[sr:sr + h, sc:sc + w]
    return out


def grid_from_flat(values: list[float], size: tuple[int, int]) -> np.ndarray:
    """Flat list (from a URL) -> (size) grid; missing values are 0, extra ones are dropped."""
    n = size[0] * size[1]
    flat = np.zeros(n)
    v = np.asarray(values, dtype=np.float64)[:n]
    flat[: v.size] = v
    return flat.reshape(size)
