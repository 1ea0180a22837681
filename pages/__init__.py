"""Page scripts (run by app.py's st.navigation) and the Streamlit helpers they share.

Streamlit still has its old multipage mode: while a folder named ``pages`` sits beside the main
script, a server's first request runs ``pages/<name>.py`` directly, before app.py has ever
called ``st.navigation``. A shared link opened on a freshly started server would then show a
raw file list in the sidebar. Every page imports this package, so the first such run switches
Streamlit to app.py's navigation and reruns the same URL.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory and st.runtime.exists():
    PagesManager.uses_pages_directory = False
    st.rerun()
