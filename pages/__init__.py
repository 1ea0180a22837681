"""Lesson scripts, run by app.py's st.navigation; their Streamlit helpers live in pages.widgets.

The pages-folder shim, one guarded block. Streamlit still has its old multipage mode: while a
folder named ``pages`` sits beside the main script, a server's first request runs
``pages/<name>.py`` directly, before app.py has ever called ``st.navigation``, and a shared link
opened on a freshly started server shows a raw file list in the sidebar. Every page imports this
package, so the first such run switches Streamlit to app.py's navigation and reruns the same URL.
It sets ``PagesManager.uses_pages_directory``, a Streamlit internal: verified on Streamlit
1.60 to 1.67. If a later version drops the attribute the block does nothing and the browser test
``test_shared_link_on_a_fresh_server_uses_the_app_navigation`` fails.
"""

# Whole, before any page draws: plotly looks pandas up in sys.modules without the import lock, so a
# session could meet the pandas another session is still importing ("partially initialized module
# 'pandas'"); importing it here makes every session wait until the import has finished.
import pandas  # noqa: F401
import streamlit as st

try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # a Streamlit without the internal: nothing to patch
    PagesManager = None

if PagesManager is not None and getattr(PagesManager, "uses_pages_directory", None) and st.runtime.exists():
    PagesManager.uses_pages_directory = False
    st.rerun()
