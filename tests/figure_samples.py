"""Every figure builder of `quantviz.figures`, called on inputs that draw all its parts.

`SAMPLES` maps "module.function" to a callable returning that builder's figures (several when a
mode draws other parts: the student's own point, outliers, a notice). The plot checks
(tests/test_figures_contrast.py, tests/test_figures_colour_vision.py) walk them all, and fail
when a builder has no entry here, so a new figure cannot skip them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
from ollama_server import gemma_like_model
from test_board_figures import ROWS
from test_figures_probe import LABELS, make_run

import quantviz.figures
from quantviz.decision.facts import BUILTIN_LAYOUT, builtin_weights_bytes
from quantviz.decision.memory import fit_tags
from quantviz.decision.storage import StorageRow
from quantviz.figures import board, explorers, ggml, ollama, probe, schemes, weights
from quantviz.ollama.client import TensorInfo
from quantviz.ollama.metadata import tensor_type_mix
from quantviz.quant import absmax
from quantviz.quant.floats import encode_all
from quantviz.quant.schemes import (
    ClipSpec,
    compare_schemes,
    layer_states,
    pareto_front,
    scheme_sweep,
)
from quantviz.units import GB


def builders() -> set[str]:
    """Every public function of quantviz.figures' modules that returns a `go.Figure`."""
    found = set()
    for info in pkgutil.iter_modules(quantviz.figures.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"quantviz.figures.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            if inspect.signature(function).return_annotation in ("go.Figure", go.Figure):
                found.add(f"{info.name}.{name}")
    return found


def _board() -> dict[str, Callable[[], list[go.Figure]]]:
    return {
        "board.sizes_figure": lambda: [
            board.sizes_figure(ROWS),
            board.sizes_figure(ROWS, names=True),
        ],
        "board.speed_figure": lambda: [board.speed_figure(ROWS)],
        "board.probe_figure": lambda: [board.probe_figure(ROWS)],
        "board.decisions_figure": lambda: [board.decisions_figure(ROWS)],
        "board.paired_figure": lambda: [
            board.paired_figure(ROWS, "tokens_per_s", title="t", axis_title="tok/s")
        ],
        "board.speed_memory_figure": lambda: [board.speed_memory_figure(ROWS)],
    }


def _grid() -> np.ndarray:
    return np.random.default_rng(3).normal(0, 0.02, 256)


def _ggml() -> dict[str, Callable[[], list[go.Figure]]]:
    w = _grid()
    panels = [
        ggml.Panel("Q4_0: w − ŵ", w * 0.1, 32, 32),
        ggml.Panel("Q6_K: w − ŵ", w * 0.01, 256, 16),
    ]
    codes = np.arange(256) % 16 - 8
    return {
        "ggml.error_grid_figure": lambda: [
            ggml.error_grid_figure(w, panels),
            ggml.error_grid_figure(w, panels, shared_range=False),
        ],
        "ggml.code_grid_figure": lambda: [ggml.code_grid_figure(codes, w, w, 256, 32)],
    }


def _weights() -> dict[str, Callable[[], list[go.Figure]]]:
    rng = np.random.default_rng(0)
    q6 = rng.normal(0, 0.02, (4, 256))
    q4 = q6 + rng.normal(0, 0.002, q6.shape)
    values = np.concatenate([rng.normal(0, 0.02, 500), [0.2, -0.25]])
    types = ["Q4_K", "Q6_K", "Q5_0", "Q8_0", "F16", "F32", "BF16", "Q5_K", "Q4_0", "IQ4_XS"]
    points = [
        weights.ProfilePoint(f"blk.{i}.{t}", i % 5 - 1, t, "Q6_K", 1e-3 * (i + 1), 0.01 * i)
        for i, t in enumerate(types)
    ]
    return {
        "weights.tile_figure": lambda: [weights.tile_figure(q4, q6, 0, 0)],
        "weights.weight_histogram": lambda: [
            weights.weight_histogram(values, 0.0, 0.02, 3, (-0.3, 0.3))
        ],
        "weights.layer_profile": lambda: [weights.layer_profile(points, False, "blk.0.Q4_K")],
    }


def _ollama() -> dict[str, Callable[[], list[go.Figure]]]:
    rows = [
        StorageRow("Q4", "m:q4", 1_721_349_614, 2_665_786_880, "Q4_K_M"),
        StorageRow("Q6", "m:q6", 2_192_004_590, 2_665_786_880, "Q6_K"),
    ]

    def mix(quant: str):
        spec = gemma_like_model("m", quant)
        return tensor_type_mix(TensorInfo(t.name, t.type, t.shape) for t in spec.tensors)

    return {
        "ollama.storage_figure": lambda: [ollama.storage_figure(rows)],
        "ollama.type_mix_figure": lambda: [
            ollama.type_mix_figure({"Q4": mix("Q4_K_M"), "Q6": mix("Q6_K")})
        ],
    }


def _probe() -> dict[str, Callable[[], list[go.Figure]]]:
    with_lp, without = make_run(True), make_run(False)
    sizes = builtin_weights_bytes()
    fits = fit_tags(
        3_500_000_000, 8192, {"q4": sizes["Q4"], "q6": sizes["Q6"]}, layout=BUILTIN_LAYOUT,
        labels=LABELS, overhead_bytes=GB // 2,
    )  # fmt: skip
    return {
        "probe.probe_pass_figure": lambda: [probe.probe_pass_figure(with_lp.summary(), LABELS)],
        "probe.similarity_figure": lambda: [probe.similarity_figure(with_lp, LABELS)],
        "probe.logprob_diff_figure": lambda: [
            probe.logprob_diff_figure(with_lp, LABELS),
            probe.logprob_diff_figure(without, LABELS),
        ],
        "probe.token_logprob_figure": lambda: [
            probe.token_logprob_figure(with_lp.results[1], LABELS)
        ],
        "probe.memory_figure": lambda: [probe.memory_figure(fits), probe.memory_figure([])],
    }


def _explorers() -> dict[str, Callable[[], list[go.Figure]]]:
    w = absmax.toy_layer(7)
    clip = ClipSpec("percentile", 90.0)
    return {
        "explorers.weight_explorer_figure": lambda: [
            explorers.weight_explorer_figure(
                0.156347, 0.910203, absmax.weight_states(0.156347, 0.910203)
            )
        ],
        "explorers.grid_explorer_figure": lambda: [
            explorers.grid_explorer_figure(w, layer_states(w), "symmetric"),
            explorers.grid_explorer_figure(
                w, layer_states(w, "asymmetric", "group", 4, clip), "asymmetric", clipping=True
            ),
        ],
    }


def _schemes() -> dict[str, Callable[[], list[go.Figure]]]:
    layer = absmax.toy_layer(7)
    return {
        "schemes.comparison_figure": lambda: [
            schemes.comparison_figure(compare_schemes(layer, 4, 4))
        ],
        "schemes.bit_strip_figure": lambda: [schemes.bit_strip_figure(encode_all(0.156347))],
        "schemes.pareto_figure": lambda: [
            schemes.pareto_figure(sweep := scheme_sweep(layer, 4), pareto_front(sweep))
        ],
    }


SAMPLES: dict[str, Callable[[], list[go.Figure]]] = {
    **_board(),
    **_ggml(),
    **_weights(),
    **_ollama(),
    **_probe(),
    **_explorers(),
    **_schemes(),
}
