"""Plotly figures: arrays and results in, `go.Figure` out (no streamlit)."""
