"""Streamlit helpers shared by the pages: shareable URL state and small teaching widgets.

The settings that define a page's picture are mirrored in ``st.query_params`` so a teacher
can share a link to an exact demo. Usage on a page::

    url = ShareableState("perc")                      # one per page, keys start with "perc_"
    url.bind("perc_n_inputs", 3, lo=2, hi=5)          # before the widget is created
    st.slider("Inputs", 2, 5, key="perc_n_inputs")    # the widget takes its value from state
    ...
    url.publish()                                     # after the bound widgets (in each fragment)

Widgets are created with ``key=`` only (never ``value=``), so the value seeded from the URL
(or kept from earlier in the session) is the one shown, and nothing is lost on a rerun or
when the learner visits another page and comes back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_KEEP = "_nl_kept_values"  # survives page switches, unlike widget state
_UNSET = object()  # a key with no value in the session (None is a value)


@dataclass(frozen=True)
class _Binding:
    default: Any
    options: tuple | None
    lo: float | None
    hi: float | None
    step: float | None = None  # a float value from the URL is put on the lo + k*step grid, as its slider shows it


MAX_URL_VALUE = 400  # characters; a longer value in a link is refused, not parsed


def finite(raw: str | float) -> float:
    """A float from a URL value (or a number a browser sent): finite and of sane size, else ValueError or
    OverflowError (never inf or NaN)."""
    value = float(raw)
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError(raw)
    return value


def _parse(raw: str, b: _Binding) -> Any:
    """Parse one URL value like its default; raise ValueError when it does not fit."""
    if len(raw) > MAX_URL_VALUE:
        raise ValueError("too long")
    d = b.default
    if isinstance(d, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if isinstance(d, (list, tuple)):
        parts = [p for p in raw.split(",") if p != ""]
        inner = _Binding(d[0] if d else "", b.options, b.lo, b.hi, b.step)
        return type(d)(_parse(p, inner) for p in parts)
    if isinstance(d, int):
        value: Any = int(finite(raw))
    elif isinstance(d, float):
        value = finite(raw)
    else:
        value = raw
    if b.options is not None and value not in b.options:
        raise ValueError(raw)
    if b.lo is not None:
        value = max(type(value)(b.lo), value)
    if b.hi is not None:
        value = min(type(value)(b.hi), value)
    if b.step and isinstance(value, (int, float)):  # bool never gets here (parsed above)
        # A range with a step shows a value off its grid on the grid (the browser snaps it): use that one too.
        value = type(value)(on_grid(value, b.lo if b.lo is not None else 0, b.hi, b.step))
    return value


def on_grid(value: float, lo: float, hi: float | None, step: float) -> float:
    """The nearest of lo, lo + step, ... to `value` that is not above `hi` (what a slider with this step shows)."""
    k = math.floor((value - lo) / step + 0.5)  # a half rounds up, as the browser's range input rounds it
    if hi is not None and lo + k * step > hi + 1e-9:  # a top that is not on the grid
        k -= 1
    return round(lo + k * step, 10)


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_encode(v) for v in value)
    return str(value)


class ShareableState:
    """Binds widget keys to ``st.query_params`` (read once per session, written every run)."""

    def __init__(self, page: str) -> None:
        self.page = page
        self._bindings: dict[str, _Binding] = {}
        self.rejected: list[str] = []  # URL values that were ignored, for a friendly note

    def bind(
        self,
        key: str,
        default: Any,
        *,
        options: Sequence | None = None,
        lo: float | None = None,
        hi: float | None = None,
        step: float | None = None,
    ) -> str:
        """Seed ``st.session_state[key]`` from the URL, the kept value, or ``default``."""
        b = _Binding(default, tuple(options) if options is not None else None, lo, hi, step)
        self._bindings[key] = b
        state = st.session_state
        value = state.get(key, _UNSET)  # read once: each read takes Streamlit's session lock
        raw = None if value is not _UNSET and not history_navigation() else st.query_params.get(key)
        if value is not _UNSET and raw is None:
            # The session's value wins, even over an address unlike it: a rerun carries the address the
            # browser had when it sent its request, which may be older than this session's last write (a
            # drawing made just after a tab switch came back with the old tab in its address; taken as Back,
            # it undid the switch). Re-assigning makes the value user state: Streamlit then keeps it even in
            # runs where its widget is not drawn (a closed lazy tab), instead of cleaning it up.
            state[key] = value
            return key
        # First visit, or the browser's Back/Forward through the history entries each settled change made:
        # the URL wins.
        if value is _UNSET:
            state[key] = state.setdefault(_KEEP, {}).get(key, default)
        if raw is not None:
            try:
                state[key] = _parse(raw, b)
            except (TypeError, ValueError, OverflowError):
                self.rejected.append(key)
        return key

    def publish(self) -> None:
        """Write every bound value to the URL and keep it for the next visit to this page."""
        state = st.session_state
        kept = state.setdefault(_KEEP, {})
        params = {}
        # Each value read once, and the address once: every read goes through Streamlit's session lock, and a
        # page with nested fragments publishes up to three times per change (ui.py was 25% of Convolution's
        # server time on a change of its bias with three reads per key).
        for key in self._bindings:
            value = state.get(key, _UNSET)
            if value is not _UNSET:
                kept[key] = value
                params[key] = _encode(value)
        # Only touch the URL when something changed: each write is one browser history entry, so
        # Back steps through settled changes (bind() follows the URL on Back and Forward).
        address = st.query_params.to_dict()
        if any(address.get(k) != v for k, v in params.items()):
            st.query_params.update(params)
        if self.rejected:
            names = ", ".join(sorted(set(self.rejected)))
            st.caption(f"Some settings in the link were not understood and were reset: {names}.")
            self.rejected.clear()


def rerun_of_fragments() -> bool:
    """True while Streamlit reruns fragments alone (a control inside one moved), False in a run of the page."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def history_navigation() -> bool:
    """True in a run the browser's Back or Forward started (the browser says so with its request), else False."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.is_history_navigation)


SNIPPET_KEY = "nl_snippet:"  # + the snippet's title: the key of its expander (open or closed)


@contextmanager
def lazy_expander(label: str, *, key: str, icon: str) -> Iterator[bool]:
    """An expander whose content is built only while it is open: ``with lazy_expander(...) as open_:`` and draw
    under ``if open_:``.

    Closed, it costs a slider move nothing: nothing is built on the server, and nothing is sent to or drawn by
    the browser (a closed ``st.code`` was still highlighted, about 7 ms per change on the Convolution page; a
    closed table still cost a pandas-to-Arrow conversion and a data grid). Opening or closing it reruns the
    fragment it is in (its state is kept under ``key``), which draws the content for the values on screen.
    """
    with st.expander(label, icon=icon, key=key, on_change="rerun") as box:
        yield bool(box.open)


def pytorch_snippet(code: Callable[[], str], *, title: str = "PyTorch equivalent") -> bool:
    """Show the exact PyTorch code behind the current picture in a ``lazy_expander`` -> whether it is open.

    ``code`` is the function that builds it, called only while it is open; an open snippet stays open and
    follows the sliders.
    """
    with lazy_expander(title, key=SNIPPET_KEY + title, icon=":material/code:") as open_:
        if open_:
            st.code(code(), language="python")
    return open_


def snippet_open(title: str = "PyTorch equivalent") -> bool:
    """Whether the ``pytorch_snippet`` of this title is open (its expander's state), without drawing it."""
    return bool(st.session_state.get(SNIPPET_KEY + title))


def try_this(text: str) -> None:
    """A short prompt that invites the learner to poke at the page."""
    st.info(text, icon=":material/lightbulb:")


# An absolute server path (/srv/app/data/mnist/raw, /root/.cache/torch): not preceded by a word
# character, ':' or '/', so the paths inside URLs (https://host/a/b) are left alone.
_SERVER_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)*[\w.@+-]+/?")


def visitor_text(message: object) -> str:
    """An error message as a visitor may see it: one line, absolute server paths reduced to their last part."""
    text = " ".join(str(message).split())

    def short(m: re.Match) -> str:
        parts = [p for p in m.group(0).split("/") if p]
        return parts[-1] if parts else "/"

    return _SERVER_PATH.sub(short, text)


def run_safely(fn: Callable[[], Any], *, what: str) -> Any | None:
    """Call ``fn``; a ValueError becomes a friendly one-line message on the page instead of a traceback."""
    try:
        return fn()
    except ValueError as exc:
        st.error(f"Can't {what}: {visitor_text(exc)}", icon=":material/error:")
        return None
