"""The latency baseline: the smallest Streamlit app with one slider. Pages are compared to it."""

import streamlit as st

st.title("Baseline")
value = st.slider("Value", 0, 100, 50)
st.write(f"The slider is at {value}.")
