"""The pixels an overlay (explainers.figures.style.frames_svg) covers, to compare with the pixels drawn into a picture."""

from __future__ import annotations

import re

import numpy as np

_RECT = re.compile(r'<rect x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)" '
                   r'(?:stroke-width="(\d+)"|fill="[^"]+" stroke="none")/>')


def svg_pixels(svg: str, size: tuple[int, int]) -> np.ndarray:
    """(height, width) bool: the pixels whose centre lies on a stroke (between the rectangle grown and shrunk by half
    its stroke width) or inside a filled rectangle. Checks the SVG holds nothing else."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    covered = np.zeros((h, w), bool)
    found = _RECT.findall(svg)
    assert len(found) == svg.count("<rect"), "a shape svg_pixels cannot read"
    for x, y, rw, rh, sw in found:
        box = float(x), float(y), float(rw), float(rh)
        if sw:  # a stroke: centred on the rectangle's path
            covered |= _inside(xs, ys, box, int(sw) / 2) & ~_inside(xs, ys, box, -int(sw) / 2)
        else:  # filled
            covered |= _inside(xs, ys, box, 0)
    return covered


def _inside(xs: np.ndarray, ys: np.ndarray, box: tuple[float, float, float, float], grow: float) -> np.ndarray:
    x, y, w, h = box
    return (xs > x - grow) & (xs < x + w + grow) & (ys > y - grow) & (ys < y + h + grow)
