"""Import everything a page needs once, before two script threads can race for it.

Streamlit runs every session's script in its own thread. Right after a start (a Community Cloud
app wakes up when the class opens the link) thirty to a hundred sessions arrive at once, and each
would import the widget modules and the heavy libraries behind them on first use. Python's
per-module import locks do not make that safe: when two threads import a package with circular
imports (pandas, pyarrow) they can be handed a partially initialised module, and plotly reads
`sys.modules["pandas"]` directly (`_plotly_utils.optional_imports.get_module(...,
should_load=False)`), so one session's `st.plotly_chart` saw another session's half-imported
pandas: `partially initialized module 'pandas' has no attribute 'Series'` (issue 17).

So `app.py` calls `ensure_loaded()` before anything else. The first caller imports everything
below while holding a lock; every other script thread blocks on the lock until that
is done, and later calls cost a flag check. This module itself imports only the standard
library, so the `import` of it in app.py (which every session's thread executes) cannot race.

Why eager, and why in the first session rather than in a thread at server start: `streamlit run`
has no hook before the first session, and importing all pages' modules costs little more than
what Objective 1 alone pulls in (it already needs numpy, plotly, pandas, pyarrow, gguf and, for
the evidence button, ollama/httpx/pydantic). Loading a page's widgets on demand would need the
same lock around every import in every thread, plus a guard on the libraries Streamlit itself
imports lazily inside elements, which the app does not control.

What is listed: every module of the quantviz package (the widgets behind `ui/registry.py`, the
pure core, the tool pages' imports), and the libraries that Streamlit and plotly import lazily
while rendering an element. `tests/test_preload.py` renders every page in a fresh interpreter
after `ensure_loaded()` and fails if any page still imports a module, so this list stays
complete when a widget or a Streamlit upgrade adds one. The one exception is plotly's
graph-object classes (LAZY_SAFE_PREFIXES below), whose import graph that test checks instead.

Cost: the first page after a start pays for all pages' imports, not only its own (SQLAlchemy
for the class board above all), 0.07-0.21 s more than Objective 1 cost before (README,
Performance). Three cheap measures keep the difference that small: the garbage collector pauses
while the modules load, Streamlit's one-time REPL check is skipped, and the objects the imports
created are frozen for the collector, which also makes the full collections of a burst several
times cheaper.
"""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterable
from functools import partial

log = logging.getLogger(__name__)

# Imported lazily by Streamlit (st.dataframe, st.plotly_chart, material icons ...), plotly,
# pyarrow and the URL code behind the Ollama client, on first use inside some session's script
# thread. Found by tests/test_preload.py, which fails when a page still imports anything.
LIBRARIES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.pandas_compat",
    "pyarrow.vendored.version",
    "narwhals._interchange.dataframe",
    "plotly.graph_objects",
    "plotly.io",
    "plotly.animation",
    "plotly.io._json",
    "orjson",  # plotly.io.to_json picks it up when installed (engine "auto")
    "plotly.tools",
    "streamlit.material_icon_names",
    "streamlit.emojis",  # the page icon is an emoji
    "encodings.idna",
)
# Left out on purpose: plotly's graph-object classes (`plotly.graph_objs._bar`,
# `...layout._legend`, the ~140 that a named template such as "plotly_white" styles). plotly
# imports one module per class on first use, and each of those imports only
# plotly.basedatatypes, `copy` and other graph-object classes: no cycle, so a thread that wants
# a class another thread is importing waits on the module's import lock and gets it whole.
# tests/test_preload.py checks that property on every such module the pages load. No page draws
# a named template any more (figures._base), so few of them load; importing all here would add
# ~110 ms to the first page.
LAZY_SAFE_PREFIXES: tuple[str, ...] = ("plotly.graph_objs.",)

Step = tuple[str, Callable[[], object]]


def modules() -> list[str]:
    """The libraries above, then every module of the quantviz package."""
    import quantviz

    names = [
        info.name
        for info in pkgutil.walk_packages(quantviz.__path__, prefix="quantviz.")
        if info.name != __name__
    ]
    return [*LIBRARIES, *sorted(names)]


def _skip_streamlit_repl_check() -> None:
    """Spare the first page Streamlit's one-time "are we in a REPL?" check.

    The first element any session sends makes Streamlit call `inspect.stack()` once per
    process (`delta_generator._maybe_print_use_warning`), which resolves the real path of every
    loaded module's file: some 1,600 after the preload, tens of milliseconds of the first page.
    The check only warns when Streamlit runs outside `streamlit run` (a REPL, bare mode); this
    app's entry point runs under `streamlit run` or AppTest, where it prints nothing. Streamlit
    has no option for it, so its once-flag is set; a version without the flag is left alone.
    """
    from streamlit import delta_generator

    if hasattr(delta_generator, "_use_warning_has_been_displayed"):
        delta_generator._use_warning_has_been_displayed = True


def steps() -> list[Step]:
    """Everything the preload does, in order: (what, how)."""
    imports = [(name, partial(importlib.import_module, name)) for name in modules()]
    return [
        ("streamlit's REPL check", _skip_streamlit_repl_check),
        *imports,
        # The ~190,000 objects the imports created (modules, classes, functions, plotly's
        # validators) live as long as the process. Frozen, the full collections that a burst
        # of sessions triggers no longer walk them each time: measured with gc.callbacks and
        # thread CPU time over a 100-session burst, 470-530 ms of full collections became
        # 90-130 ms. Only cyclic garbage among them would never be freed; there is none to
        # speak of at this point.
        ("freeze import-time objects for the garbage collector", gc.freeze),
    ]


class Preloader:
    """Runs every step once; concurrent callers wait until the first caller is done."""

    def __init__(self, steps: Callable[[], Iterable[Step]] = steps) -> None:
        self._steps = steps
        self._lock = threading.Lock()
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    def ensure_loaded(self) -> None:
        if self._loaded:  # the common case: one attribute read, no lock
            return
        with self._lock:
            if self._loaded:
                return
            # Imports make objects that live as long as the process, hardly any garbage: the
            # ~200 collections they would trigger cost 60-120 ms of the first page (measured
            # with process_time over the steps, collector on and off). Other threads allocate
            # little in that second; the collector resumes right after.
            collecting = gc.isenabled()
            gc.disable()
            try:
                for what, step in self._steps():
                    try:
                        step()
                    except Exception:
                        # As before the preload: the widget that needs the module shows the
                        # registry's "widget failed" notice; every other page keeps working.
                        log.exception("preloading %s failed", what)
            finally:
                if collecting:
                    gc.enable()
            self._loaded = True


_preloader = Preloader()


def ensure_loaded() -> None:
    """Import every module a page may need, exactly once per process; others wait for it."""
    _preloader.ensure_loaded()
