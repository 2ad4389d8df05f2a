"""The class board: students submit their evidence, the instructor sees the whole class.

Pure core (no streamlit): `passcode` hashes and checks the instructor passcode, `extract` reads the
board's figures out of an evidence report, `schema` holds the tables and migrations, and `store` the
submissions on any SQLAlchemy engine. The plotly figures of a class are `quantviz.figures.board`,
its `[board]` secrets `quantviz.config.board`; the pages live in `quantviz.ui.pages`.
"""
