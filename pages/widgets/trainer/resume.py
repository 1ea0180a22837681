"""Finding a run again after a page reload: the run's resume code rides in the URL (``?trainer_run=``).

A reload, or the page's address opened again after the tab closed, starts a new Streamlit session. The
old session lingers for the reconnect window (``server.disconnectedSessionTTL``) and still holds the
run. Starting a run writes an unguessable code for it into the URL; a new session whose URL carries
the code adopts the run (its session-end watcher and its owner token move over, so the run no longer
stops with the old session) once the session that held it has disconnected. The code is no share
link: while the tab that started the run is still connected, nobody else can take it.
Works for both runners: the page keeps a RunHandle, wherever it executes.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from dataclasses import dataclass

import streamlit as st

from pages.widgets import sessions
from pages.widgets.trainer.state import TrainerState

RESUME_KEY = "trainer_run"  # the URL key


@dataclass
class _Parked:
    run: weakref.ref  # the RunHandle: weak, the registry never keeps a run (or its model) alive
    token: weakref.ref  # the owner SessionToken: its session ending (garbage-collected) stops the run
    session: str | None  # the session that holds it now


_LOCK = threading.Lock()
_PARKED: dict[str, _Parked] = {}


def _prune() -> None:
    for code in [c for c, p in _PARKED.items() if p.run() is None or p.token() is None]:
        del _PARKED[code]


def park(state: TrainerState, run, sid: str | None) -> str:
    """Register ``run`` (just started by this session) and put its resume code in the URL -> the code."""
    code = secrets.token_urlsafe(12)
    with _LOCK:
        _prune()
        _PARKED[code] = _Parked(weakref.ref(run), weakref.ref(state.token), sid)
    st.query_params[RESUME_KEY] = code
    return code


def adopt(state: TrainerState) -> str | None:
    """When the URL carries the code of a run whose session has disconnected, make it this session's run
    -> the id of the session it came from (whose end must no longer stop it), else None.

    An unknown or expired code leaves the URL quietly; a code whose tab is still connected is ignored."""
    code = st.query_params.get(RESUME_KEY)
    if not code or state.active:
        return None
    sid = sessions.session_id()
    with _LOCK:
        _prune()
        parked = _PARKED.get(code)
        if parked is None:
            del st.query_params[RESUME_KEY]  # a run that ended long ago, or a code typed by hand
            return None
        run, token = parked.run(), parked.token()
        if run is None or token is None or parked.session == sid or sessions.is_connected(parked.session):
            return None
        old, parked.session = parked.session, sid
    state.token = token  # this session owns the run now: it lives as long as this session
    state.run, state.archived_run = run, None
    return old or ""
