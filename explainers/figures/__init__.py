"""Plotly figure builders, one module per lesson; no torch and no Streamlit."""
