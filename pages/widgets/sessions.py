"""Who is this visitor, and when have they left? Sessions as plain values for the layers below.

``session_id()`` is Streamlit's id for the browser tab's session (a string the data and training
layers take as a value). ``on_session_end(fn)`` calls ``fn()`` once the session has been gone for
longer than Streamlit's reconnect window (``server.disconnectedSessionTTL``, 120 s, plus a margin;
$NEURAL_LENS_SESSION_GRACE_S overrides it): a tab that reconnects after a network blip keeps its
runs and uploads, a closed tab releases them, whether or not Python has freed the session yet.
One daemon thread per process polls the runtime's table of connected sessions (a dict lookup).
``start_server_housekeeping()`` removes uploads that a dead server process left behind, once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

import streamlit as st

from explainers.training import data as dsets

_LOG = logging.getLogger(__name__)
POLL_S = 1.0
MARGIN_S = 10.0


def session_id() -> str | None:
    """This script run's session id (None outside a Streamlit script run)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
    except Exception:  # noqa: BLE001 - no runtime: no session
        return None
    return getattr(ctx, "session_id", None) if ctx is not None else None


def grace_seconds() -> float:
    """How long a disconnected session may come back before its runs stop and its uploads go."""
    raw = os.environ.get("NEURAL_LENS_SESSION_GRACE_S")
    if raw:
        with contextlib.suppress(ValueError):
            return max(0.0, float(raw))
    try:
        ttl = float(st.get_option("server.disconnectedSessionTTL"))
    except Exception:  # noqa: BLE001 - an older Streamlit without the option: its default
        ttl = 120.0
    return ttl + MARGIN_S


def _runtime_says_active(sid: str) -> bool | None:
    """True/False from the running server; None when there is no server (AppTest, scripts)."""
    try:
        from streamlit import runtime

        if not runtime.exists():
            return None
        return bool(runtime.get_instance().is_active_session(sid))
    except Exception:  # noqa: BLE001 - never let the watcher die on a runtime quirk
        return None


def is_connected(sid: str | None) -> bool | None:
    """Is session ``sid`` connected to this server right now? None when unknown (no server, no id)."""
    return _runtime_says_active(sid) if sid else None


class _Watcher:
    """Sessions with end callbacks; a daemon thread fires them after the grace period."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[str, dict[str, Callable[[], None]]] = {}
        self._gone_since: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def add(self, sid: str, name: str, fn: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.setdefault(sid, {})[name] = fn
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="neural-lens-sessions", daemon=True)
                self._thread.start()

    def discard(self, sid: str, name: str) -> None:
        with self._lock:
            self._callbacks.get(sid, {}).pop(name, None)

    def _loop(self) -> None:
        while True:
            time.sleep(POLL_S)
            try:
                self.check(time.monotonic(), grace_seconds())
            except Exception:  # noqa: BLE001 - keep watching; the error goes to the server log
                _LOG.exception("session watcher")

    def check(self, now: float, grace: float) -> list[str]:
        """One pass: fire the callbacks of sessions gone for more than ``grace`` s -> their ids."""
        with self._lock:
            sids = list(self._callbacks)
        ended = []
        for sid in sids:
            active = _runtime_says_active(sid)
            if active is None or active:
                self._gone_since.pop(sid, None)
                continue
            since = self._gone_since.setdefault(sid, now)
            if now - since >= grace:
                ended.append(sid)
        for sid in ended:
            with self._lock:
                fns = self._callbacks.pop(sid, {})
            self._gone_since.pop(sid, None)
            for fn in fns.values():
                try:
                    fn()
                except Exception:  # noqa: BLE001 - one failing clean-up must not stop the others
                    _LOG.exception("session end callback")
        return ended


_WATCHER = _Watcher()


def on_session_end(name: str, fn: Callable[[], None], sid: str | None = None) -> None:
    """Call ``fn()`` once when this session has ended (``name`` replaces an earlier callback of that name)."""
    sid = sid or session_id()
    if sid:
        _WATCHER.add(sid, name, fn)


def forget(name: str, sid: str | None = None) -> None:
    """Drop the callback ``name`` of this session (its job finished on its own)."""
    sid = sid or session_id()
    if sid:
        _WATCHER.discard(sid, name)


@st.cache_resource(show_spinner=False)
def start_server_housekeeping() -> list[str]:
    """Once per server process: remove upload folders of server processes that are gone -> their names."""
    try:
        return dsets.remove_orphans(dsets.data_dir())
    except OSError:
        return []


def watch_uploads(sid: str | None = None) -> None:
    """This session's uploads are removed when it ends."""
    sid = sid or session_id()
    if sid:
        root = dsets.data_dir()
        on_session_end("uploads", lambda: dsets.remove_session(root, sid), sid)
