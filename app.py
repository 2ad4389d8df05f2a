"""quantviz entry point: `streamlit run app.py`. It only declares the pages."""

import sys
from pathlib import Path

ROOT = Path(__file__).parent
# Community Cloud installs requirements.txt only; the package itself is read from src/.
sys.path.insert(0, str(ROOT / "src"))

import streamlit as st  # noqa: E402

from quantviz.ui.shell import build_navigation  # noqa: E402

st.set_page_config(page_title="quantviz", page_icon="🧮", layout="wide")
build_navigation().run()
