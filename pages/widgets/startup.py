"""What a server process does once, on its first page view (Streamlit has no start-up hook)."""

from __future__ import annotations

import threading

import streamlit as st


@st.cache_resource(show_spinner=False)
def clean_up_after_dead_servers() -> threading.Thread:
    """In the background, once per server process: remove the uploads that a server process which is gone
    left behind (its sessions never ended), before anyone lists uploads. The first page does not wait."""

    def clean() -> None:
        # imported here, in the background thread (no torch): the first page does not wait for it
        from explainers.training import data as dsets

        try:
            dsets.remove_orphans(dsets.data_dir())
        except OSError:  # an unreadable data folder: the uploads panel says so when someone opens it
            pass

    thread = threading.Thread(target=clean, name="neural-lens-startup-clean-up", daemon=True)
    thread.start()
    return thread
