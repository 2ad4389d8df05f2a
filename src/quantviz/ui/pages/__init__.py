"""Tool pages: one module per page, each with a typed `page()` that `quantviz.ui.shell` registers.

They live in the package, not in a top-level `pages/` folder next to app.py: Streamlit runs the
first session after every start in its legacy multipage mode when such a folder exists, and the
first visitor's deep link then opens under a "Page not found" dialog (see README, Layout).
"""
