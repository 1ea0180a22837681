"""Neural Lens entry point: page navigation (and one clean-up per server start). `streamlit run app.py`."""

from pathlib import Path

import streamlit as st

from pages.widgets.catalog import HOME, LESSONS, SECTIONS
from pages.widgets.startup import clean_up_after_dead_servers

# A local file: a material-icon favicon is fetched from a font server, which fails offline.
FAVICON = str(Path(__file__).resolve().parent / "assets" / "favicon.png")
st.set_page_config(page_title="Neural Lens", page_icon=FAVICON, layout="wide")

clean_up_after_dead_servers()  # once per server process, in the background
navigation = {section: [] for section in SECTIONS}
for info in [HOME, *LESSONS]:
    navigation[info.section].append(
        st.Page(info.path, title=info.title, icon=info.icon, url_path=info.url_path, default=info is HOME)
    )

with st.sidebar:
    st.caption("Every picture here is computed by code that is tested against PyTorch.")

st.navigation({s: pages for s, pages in navigation.items() if pages}).run()
