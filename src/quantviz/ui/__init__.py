"""The Streamlit layer: renders labs and widgets by composing the pure core."""
