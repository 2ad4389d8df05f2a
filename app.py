"""quantviz entry point: `streamlit run app.py`. It only declares the pages."""

import sys
from pathlib import Path

ROOT = Path(__file__).parent
# Community Cloud installs requirements.txt only; the package itself is read from src/. Every
# rerun of every session executes this file: add the path once, not once per rerun.
SRC = str(ROOT / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

# Before any page code: the first session's thread imports every page's modules under a lock
# while the other sessions' threads wait (see quantviz/ui/preload.py).
from quantviz.ui.preload import ensure_loaded  # noqa: E402

ensure_loaded()

import streamlit as st  # noqa: E402

from quantviz.ui.shell import build_navigation  # noqa: E402

# No page_title here: every page sets its own (quantviz.ui.shell.document_title, WCAG 2.4.2).
st.set_page_config(page_icon="🧮", layout="wide")
build_navigation().run()
