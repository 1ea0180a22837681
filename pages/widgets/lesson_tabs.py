"""The tabs of a lesson page: which part of the lesson is open, as a row of tabs drawn by a small browser component.

Usage on a page (after ``url = ShareableState("perc")``)::

    part = lesson_tabs(url, "perc_tab", TABS)   # the open tab's name, bound to the URL
    if part == TABS[0]:
        one_neuron()

Streamlit's ``st.tabs(..., on_change="rerun")`` draws only the open tab too, but it is a container: every rerun of a
fragment inside it (each key press in a lesson's panel) makes the browser re-render the tabs around it, about
15 ms of a change on this machine (benchmarks/RESULTS.md). These tabs are one element above the open part, which
the page draws under them, so a panel's rerun leaves them alone. They look and read as tabs (``role="tab"``, the
arrow keys move along them); choosing one reruns the page, or the fragment the tabs are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import streamlit as st

from pages.widgets import components
from pages.widgets.ui import ShareableState

_TABS = components.register("neural_lens.lesson_tabs", "lesson_tabs")


def tab_strip_key(key: str) -> str:
    """The key of the tabs' element, for the tabs whose open name is ``st.session_state[key]``."""
    return f"_{key}_tabs"


def _on_open(key: str, names: tuple[str, ...]) -> None:
    """Open the tab the browser named, when it is one of ``names`` (anything else, sent by a stale or a tampered
    page, is ignored: the open tab stays)."""
    payload = (st.session_state.get(tab_strip_key(key)) or {}).get("open")
    if isinstance(payload, str) and payload in names:
        st.session_state[key] = payload


def lesson_tabs(url: ShareableState, key: str, names: Sequence[str], *, label: str = "Parts of the lesson") -> str:
    """Draw the tabs ``names`` and return the open one's name, kept in ``st.session_state[key]`` and the URL (the
    first tab unless the link or the session says otherwise). ``label`` names the row for screen readers."""
    names = tuple(names)
    url.bind(key, names[0], options=names)
    _TABS(key=tab_strip_key(key), data={"names": list(names), "open": st.session_state[key], "label": label},
          on_open_change=partial(_on_open, key, names))
    return st.session_state[key]
