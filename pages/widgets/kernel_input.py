"""Kernel picker for the Convolution page: a named preset, or your own numbers in an editable grid.

The preset, the grid size and the grid's numbers are bound to the URL (``conv_kernel``,
``conv_custom_rows``, ``conv_custom_cols``, ``conv_custom``), so a shared link shows the same kernel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explainers.kernels import KERNELS, grid_from_flat, kernel, resize_kernel
from pages.widgets.ui import ShareableState

PRESETS = [*KERNELS, "Custom"]
SHARPEN = [0.0, -1.0, 0.0, -1.0, 5.0, -1.0, 0.0, -1.0, 0.0]


def _seed_custom() -> None:
    """Switching to Custom starts from the kernel that was showing."""
    state = st.session_state
    if state.conv_kernel == "Custom" and state.get("conv_last_preset") in KERNELS:
        k = kernel(state.conv_last_preset)
        state.conv_custom_rows, state.conv_custom_cols = k.shape
        state.conv_custom = k.ravel().tolist()
        state.conv_custom_shape = k.shape
        state.conv_editor_version = state.get("conv_editor_version", 0) + 1


def kernel_input(url: ShareableState) -> tuple[np.ndarray, str]:
    """Preset selectbox (+ editable grid for Custom) -> ((kH, kW) float64 kernel, its name)."""
    state = st.session_state
    url.bind("conv_kernel", "Sobel x", options=PRESETS)
    url.bind("conv_custom_rows", 3, lo=1, hi=7)
    url.bind("conv_custom_cols", 3, lo=1, hi=7)
    url.bind("conv_custom", SHARPEN)
    preset = st.selectbox("Preset", PRESETS, key="conv_kernel", on_change=_seed_custom)
    if preset != "Custom":
        state.conv_last_preset = preset
        st.caption(KERNELS[preset].about)
        return kernel(preset), preset
    r_col, c_col = st.columns(2)
    rows = r_col.selectbox("Rows", range(1, 8), key="conv_custom_rows")
    cols = c_col.selectbox("Columns", range(1, 8), key="conv_custom_cols")
    old_shape = tuple(state.get("conv_custom_shape", (rows, cols)))
    start = resize_kernel(grid_from_flat(state.conv_custom, old_shape), (rows, cols))  # keeps the middle
    if old_shape != (rows, cols):  # a new size starts a fresh editor from the resized numbers
        state.conv_editor_version = state.get("conv_editor_version", 0) + 1
    ver = f"conv_editor_{rows}x{cols}_{state.get('conv_editor_version', 0)}"
    base = state.setdefault(ver + "_base", start)  # the editor's starting grid; edits are kept on top
    edited = st.data_editor(pd.DataFrame(base, columns=[str(c) for c in range(cols)]), key=ver,
                            hide_index=True, width="stretch")
    grid = np.asarray(edited.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    if not np.isfinite(grid).all():
        st.warning("Empty or impossible cells count as 0.", icon=":material/warning:")
        grid = np.nan_to_num(grid, nan=0.0, posinf=0.0, neginf=0.0)
    state.conv_custom = grid.ravel().tolist()
    state.conv_custom_shape = (rows, cols)
    st.caption("Type your own weights: click a cell, type a number, press Enter.")
    return grid, "Custom"
