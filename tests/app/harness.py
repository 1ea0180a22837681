"""Shared by the AppTest files: run one page script with a URL query and no exception."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.testing.v1 import AppTest

from pages.widgets.lesson_tabs import tab_strip_key
from pages.widgets.slider_panel import panel_message
from pages.widgets.ui import SNIPPET_KEY

PAGES = Path(__file__).resolve().parents[2] / "pages"


def run_page(script: str, query: dict | None = None, *, timeout: float = 60) -> AppTest:
    """Run pages/<script> once with `query` as its URL parameters; assert it raised nothing."""
    at = AppTest.from_file(str(PAGES / script), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def slider(at: AppTest, label: str):
    """The slider with this label (StopIteration names a missing one in the traceback)."""
    return next(s for s in at.slider if s.label == label)


def _panel_element(at: AppTest, key: str):
    return next(e for e in at.get("bidi_component") if e.key == key)


def panel(at: AppTest, key: str) -> dict:
    """What the page sent to the browser panel `key` (pages/widgets/slider_panel.py): controls, picture, seq."""
    return json.loads(_panel_element(at, key).proto.json)


def panel_value(at: AppTest, key: str, name: str) -> float:
    """The value the panel `key` shows for its control `name` (a session-state key)."""
    return next(c["value"] for c in panel(at, key)["controls"] if c["name"] == name)


def move_panel(at: AppTest, key: str, values: dict, *, seq: int | None = None, click: dict | None = None
               ) -> AppTest:
    """Rerun as the browser does when the learner moves range inputs of the panel `key` (or, with `click`,
    clicks a ``data-nl-click`` element of its picture: ``{"target": name, "x": fraction, "y": fraction}``).

    The panel sends the values the learner moved, with a sequence number one past the last one the page
    applied (or `seq`). AppTest cannot press keys in a custom component, so this sends that widget state along
    with the others through AppTest's own (private) run with explicit widget states.
    """
    data = panel(at, key)
    unknown = set(values) - {c["name"] for c in data["controls"]}
    assert not unknown, f"the panel has no control {unknown}"
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = _panel_element(at, key).proto.id
    state.json_value = json.dumps(panel_message(data["seq"] + 1 if seq is None else seq, values, click))
    at._run(states)
    assert not at.exception, at.exception
    return at


def lesson_tabs(at: AppTest, key: str) -> tuple[list[str], str]:
    """The lesson tabs bound to `key` (pages/widgets/lesson_tabs.py) as the page sent them: (names, the open one)."""
    data = json.loads(_panel_element(at, tab_strip_key(key)).proto.json)
    return data["names"], data["open"]


def choose_tab(at: AppTest, key: str, name: str) -> AppTest:
    """Rerun as the browser does when the learner clicks the lesson tab `name`: the tabs send it as a trigger
    (``setTriggerValue("open", name)``), which AppTest cannot click, so it goes with the other widget states
    through AppTest's own (private) run."""
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = _make_trigger_id(_panel_element(at, tab_strip_key(key)).proto.id, "events")
    state.json_trigger_value = json.dumps([{"event": "open", "value": name}])
    at._run(states)
    assert not at.exception, at.exception
    return at


def open_snippets(at: AppTest) -> AppTest:
    """Open every "PyTorch equivalent" expander on the page, as a click on it does, and rerun.

    A closed snippet builds and sends no code (pages/widgets/ui.py ``pytorch_snippet``); an open one stays
    open on later runs, so a test opens them once before it reads ``at.code``."""
    keys = [e.key for e in at.expander if e.key and e.key.startswith(SNIPPET_KEY)]
    assert keys, "this page shows no PyTorch snippet"
    for key in keys:
        at.session_state[key] = True
    at.run()
    assert not at.exception, at.exception
    return at
