"""The browser components' code: each is a JavaScript module and its CSS, ``<stem>.js`` and ``<stem>.css`` here."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).parent


def register(name: str, stem: str):
    """Register with Streamlit the component ``name`` whose code is ``<stem>.js`` and ``<stem>.css`` in this folder;
    the returned callable draws it."""
    return st.components.v2.component(
        name,
        js=(_HERE / f"{stem}.js").read_text(encoding="utf-8"),
        css=(_HERE / f"{stem}.css").read_text(encoding="utf-8"),
    )
