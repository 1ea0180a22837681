"""Range inputs beside or above a picture, drawn by a small browser component: a lesson control that answers
at once.

Streamlit re-renders each of its sliders on every rerun of their fragment, and thirteen of them cost
more than the target round trip (benchmarks/RESULTS.md: 1.36x the one-slider app for sliders alone,
1.03x for the same controls in one component). This panel draws the range inputs in the browser,
which moves a thumb and its number as the key is pressed, and shows the picture (HTML) that Python
computed from the values, so the explainers stay the one place where the maths is done.

Each value lives in ``st.session_state[control.key]``, as a slider's would: bind it with
``ShareableState.bind()`` before the panel, and the URL, Back/Forward and the kept settings work as
they do for Streamlit's widgets. A change from the browser reruns the panel's fragment.

A map in the picture (``figures.style.figure_html(..., pick=...)``) moves its row and column ranges to the
clicked cell in the browser, as a key press would. Other elements may be marked ``data-nl-click="name"``: a
click on one is sent to Python, and ``on_click(name, x, y)`` (x and y as fractions of the element's width and
height) decides what it picks (the CNN's unit under the pointer, layer included) by writing the controls'
session-state keys. A message carries that click, then the ranges moved after it (only those the learner
moved: the others keep Python's values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import streamlit as st

from pages.widgets import components
from pages.widgets.ui import ShareableState, finite, on_grid

COMPONENT = "neural_lens.slider_panel"  # the name its elements carry (benchmarks/classroom.py looks for it)
_PANEL = components.register(COMPONENT, "slider_panel")


MAX_SEQ = 2**53 - 1  # the browser counts in doubles: a larger number is not a count it could have sent
# controls beside the picture (in pairs), in one row above it, or one under the other above it (a narrow column)
LAYOUTS = ("side", "stack", "column")

OnClick = Callable[[str, float, float], None]  # (the clicked element's data-nl-click, x, y as fractions)
Rerun = Callable[[], str | None]  # after a change: the key of the fragment to rerun, or None for the panel's own


@dataclass(frozen=True)
class ShownOutside:
    """What a larger fragment (``@st.fragment(key=fragment)``) shows of a panel's values outside the panel, as
    ``shown()`` reads it from the session. The larger fragment calls ``drawn()`` at its end; given as the panel's
    ``rerun``, it reruns the panel alone while ``shown()`` is still what was drawn, else the larger fragment."""

    fragment: str
    shown: Callable[[], Hashable]

    def drawn(self) -> None:
        st.session_state[self._key] = self.shown()

    def __call__(self) -> str | None:
        return None if self.shown() == st.session_state.get(self._key) else self.fragment

    @property
    def _key(self) -> str:
        return f"_{self.fragment}_shown"


@dataclass(frozen=True)
class RangeControl:
    key: str  # the session-state key that holds the value (bound to the URL by the page)
    label: str  # shown above the range, and its accessible name
    lo: float
    hi: float
    step: float
    wide: bool = False  # spans both columns of the controls (the others sit in pairs)
    help: str = ""  # what the control means: a tooltip, and the input's accessible description
    options: tuple[float | str, ...] = ()  # a select slider's choices (see ``choices``); lo/hi/step count them
    names: tuple[str, ...] = ()  # how each choice is shown, when not as ``labels`` writes it ("all 60,000")

    @classmethod
    def choices(cls, key: str, label: str, options: Sequence[float | str], *,
                format_func: Callable[[Any], str] | None = None, **kw) -> RangeControl:
        """A range over a list of values, as ``st.select_slider`` offers them (1, 2, 4, 8, ... or "0", "1",
        "same"): the value is always one of ``options``, shown as ``format_func`` writes it (as the select
        slider's argument of that name) or else as ``labels`` does."""
        options = tuple(options)  # as given: an int option stays an int for the page's code
        if not options:
            raise ValueError(f"{label}: a range of choices needs at least one option")
        names = tuple(str(format_func(o)) for o in options) if format_func else ()
        return cls(key, label, 0, len(options) - 1, 1, options=options, names=names, **kw)

    @property
    def labels(self) -> list[str]:
        """How each option is shown: 4, 0.05, 1e-05, same (an int or text as it is, a float as ``:g`` writes
        it), unless the page named them."""
        if self.names:
            return list(self.names)
        return [f"{o:g}" if isinstance(o, float) else str(o) for o in self.options]

    @property
    def digits(self) -> int:
        """Decimals shown for a value: two for 0.1 steps, as Streamlit's float sliders show them."""
        return max(2, -math.floor(math.log10(self.step))) if self.step < 1 else 0

    def bind(self, url: ShareableState, default: float | str) -> str:
        """Seed this control's value from the URL (or ``default``) within its own range or choices."""
        if self.options:
            return url.bind(self.key, default, options=self.options)
        return url.bind(self.key, default, lo=self.lo, hi=self.hi, step=self.step)  # the step grids floats only

    def snap(self, raw: Any) -> float | None:
        """A value from the browser, clamped to the range and put on the step grid (or the nearest of the
        choices, a text choice only as itself); None when it is none of these."""
        if self.options and isinstance(raw, str):
            return raw if raw in self.options else None
        value = _number(raw)
        if value is None:
            return None
        if self.options:  # the nearest choice (the browser sends one of them)
            numbers = [o for o in self.options if not isinstance(o, str)]
            return min(numbers, key=lambda o: abs(o - value)) if numbers else None
        return on_grid(min(max(value, self.lo), self.hi), self.lo, self.hi, self.step)


def _number(raw: Any) -> float | None:
    """A number the browser sent, as a finite float; None for anything else (text, a bool, NaN, 10**400)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    try:
        return finite(raw)
    except (ValueError, OverflowError):
        return None


def panel_message(seq: int, values: dict[str, float], click: dict | None = None) -> dict:
    """The state the panel sends on a change (its JavaScript builds the same): a sequence number, the values
    the learner moved, and for a click sent to Python ``{"target": name, "x": fraction, "y": fraction}``."""
    message = {"seq": seq, "values": values}
    if click is not None:
        message["click"] = click
    return {"values": message}


def _shown(control: RangeControl, value: Any) -> float | str:
    """The value as the browser gets it: a choice as it is (text stays text), a number as a float."""
    return value if control.options and isinstance(value, str) else float(value)


def _seq_key(key: str) -> str:
    return f"_{key}_seq"


def _fraction(raw: Any) -> float | None:
    """A click position from the browser as a fraction in [0, 1], or None when it is not a number."""
    value = _number(raw)
    return None if value is None else min(max(value, 0.0), 1.0)


def apply_change(key: str, controls: Sequence[RangeControl], payload: Any, on_click: OnClick | None = None) -> None:
    """Write a change sent by the panel (``{"seq": int, "values": {key: number}, "click"?: {...}}``) into
    session state: first the click on the picture, through ``on_click(target, x, y)``, then the values of
    the ranges the learner moved after it (a message names only the moved ones).

    A message older than one already applied (sent by a panel the page has since redrawn) is dropped;
    anything malformed (not a mapping, unknown keys, text, NaN, huge numbers) is ignored rather than
    trusted: the payload comes from the browser.
    """
    if not isinstance(payload, dict):
        return
    seq, values = payload.get("seq"), payload.get("values")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq <= MAX_SEQ:
        return
    if seq <= st.session_state.get(_seq_key(key), 0):
        return
    st.session_state[_seq_key(key)] = seq  # answered even when its values are refused: the browser waits for it
    click = payload.get("click")
    if on_click is not None and isinstance(click, dict):
        target, x, y = click.get("target"), _fraction(click.get("x")), _fraction(click.get("y"))
        if isinstance(target, str) and len(target) <= 64 and x is not None and y is not None:
            on_click(target, x, y)
    if not isinstance(values, dict):
        return
    for control in controls:
        value = control.snap(values.get(control.key))
        if value is not None:
            st.session_state[control.key] = value


def _on_change(key: str, controls: tuple[RangeControl, ...], on_click: OnClick | None,
               rerun: Rerun | None) -> None:
    apply_change(key, controls, (st.session_state.get(key) or {}).get("values"), on_click)
    if rerun is not None and (scope := rerun()) is not None:
        st.rerun(scope)  # from a callback: this fragment (by its key) reruns instead of the panel's own


def slider_panel(key: str, controls: Sequence[RangeControl], picture_html: str, *, announce: str = "",
                 split: tuple[float, float] = (2, 3), layout: str = "side", on_click: OnClick | None = None,
                 rerun: Rerun | None = None) -> None:
    """Draw ``controls`` beside ``picture_html`` (HTML we built) as one element: in pairs on the left
    (``layout="side"``, widths in the ratio ``split``), in one row above it (``"stack"``) or one under the
    other above it (``"column"``, for a narrow column of the page: the Trainer's settings).

    The values are read from ``st.session_state``; a change in the browser writes them back there
    (``apply_change``) before the fragment holding the panel reruns. ``announce`` is the one line a screen
    reader says after each change (the result, e.g. "z = 0.97, a = 0.7251"). ``on_click`` receives clicks on
    the picture's ``data-nl-click`` elements.

    Either part may be empty: ranges whose picture is drawn elsewhere (Backprop's step, in the row of its
    buttons), or a picture Python redraws with no ranges of its own (Backprop's graph, patched in place).

    A change reruns the fragment the panel is in. A panel in a fragment of its own, inside a larger one, reruns
    alone: ``rerun()``, asked after each change is applied, names (by its ``key=``) the larger fragment to rerun
    instead when the change shows outside the panel too, or returns None.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    controls = tuple(controls)
    data = {
        "controls": [{"name": c.key, "label": c.label, "lo": c.lo, "hi": c.hi, "step": c.step, "wide": c.wide,
                      "digits": c.digits, "help": c.help, "options": list(c.options), "labels": c.labels,
                      "value": _shown(c, st.session_state[c.key])} for c in controls],
        "picture": picture_html,
        "announce": announce,
        "seq": st.session_state.get(_seq_key(key), 0),
        "split": list(split),
        "layout": layout,
    }
    _PANEL(key=key, data=data, on_values_change=partial(_on_change, key, controls, on_click, rerun))
