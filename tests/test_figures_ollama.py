"""Storage arithmetic and the plotly figures of the Ollama widgets."""

import math

import plotly.graph_objects as go
import pytest
from ollama_server import gemma_like_model

from quantviz.decision.storage import StorageRow, compare_sizes, nominal_bits_per_weight
from quantviz.figures.ollama import storage_figure, type_mix_figure, type_order
from quantviz.ollama.client import TensorInfo
from quantviz.ollama.metadata import TypeShare, tensor_type_mix

Q4 = StorageRow("Q4", "m:q4", 1_721_349_614, 2_665_786_880, "Q4_K_M")
Q6 = StorageRow("Q6", "m:q6", 2_192_004_590, 2_665_786_880, "Q6_K")


def _validated(fig: go.Figure) -> go.Figure:
    """Rebuild with plotly's validation on: a misspelt property raises here."""
    return go.Figure(fig.to_dict())


def _mix(quant: str) -> dict[str, TypeShare]:
    spec = gemma_like_model("m", quant)
    return tensor_type_mix(TensorInfo(t.name, t.type, t.shape) for t in spec.tensors)


def test_savings_follow_the_labs_formulas():
    """Bytes saved, percent saved and size ratio are the lab's three formulas, Q6 as reference."""
    savings = compare_sizes(Q4, Q6)
    assert savings.smaller is Q4 and savings.larger is Q6
    assert savings.bytes_saved == 2_192_004_590 - 1_721_349_614 == 470_654_976
    assert savings.percent_saved == pytest.approx(470_654_976 / 2_192_004_590 * 100)
    assert savings.size_ratio == pytest.approx(1_721_349_614 / 2_192_004_590)
    assert savings.nominal_ratio == pytest.approx(4.8 / 6.6)


def test_savings_order_does_not_depend_on_argument_order():
    """The larger file is the reference whichever way round the tags are given."""
    assert compare_sizes(Q6, Q4) == compare_sizes(Q4, Q6)


def test_bits_per_weight_is_size_times_eight_over_parameters():
    """Estimated bits per weight = size × 8 / parameter count; no count means no estimate."""
    assert Q4.bits_per_weight == pytest.approx(1_721_349_614 * 8 / 2_665_786_880)
    assert Q4.bits_per_weight == pytest.approx(5.17, abs=0.005)
    assert Q6.bits_per_weight == pytest.approx(6.58, abs=0.005)
    assert StorageRow("x", "x", 100, None).bits_per_weight is None
    assert StorageRow("x", "x", 100, 0).bits_per_weight is None


def test_nominal_figures_are_the_labs():
    """Q4_K_M ≈ 4.8 and Q6_K ≈ 6.6 bits per weight; unknown levels have no nominal figure."""
    assert nominal_bits_per_weight("Q4_K_M") == 4.8
    assert nominal_bits_per_weight("q6_k") == 6.6
    assert nominal_bits_per_weight("Q3_K_S") is None
    assert nominal_bits_per_weight(None) is None
    assert Q6.nominal_size == pytest.approx(6.6 * 2_665_786_880 / 8)


def test_zero_sized_reference_gives_no_ratio():
    """Two empty sizes give no percentage or ratio instead of dividing by zero."""
    savings = compare_sizes(StorageRow("a", "a", 0), StorageRow("b", "b", 0))
    assert savings.percent_saved is None and savings.size_ratio is None


def test_storage_figure_bars_are_the_sizes_and_markers_the_nominal_sizes():
    """One bar per tag at its size in GB; nominal markers where nominal bits × params / 8 lands."""
    fig = _validated(storage_figure([Q4, Q6]))
    bars, nominal = fig.data
    assert list(bars.x) == ["Q4", "Q6"]
    assert list(bars.y) == pytest.approx([1.721349614, 2.19200459])
    assert [row[0] for row in bars.customdata] == ["m:q4", "m:q6"]
    assert list(nominal.y) == pytest.approx([4.8 * 2_665_786_880 / 8e9, 6.6 * 2_665_786_880 / 8e9])


def test_storage_figure_without_parameter_counts_has_no_nominal_markers():
    """Without a parameter count there is nothing to place a nominal marker at."""
    fig = _validated(storage_figure([StorageRow("a", "a", 10), StorageRow("b", "b", 20)]))
    assert [trace.type for trace in fig.data] == ["bar"]


def test_type_mix_figure_stacks_every_type_for_every_tag():
    """Q4_K_M mixes Q4_K, Q6_K and F32; Q6_K is Q6_K plus F32; bytes and counts add up."""
    mixes = {"Q4": _mix("Q4_K_M"), "Q6": _mix("Q6_K")}
    fig = _validated(type_mix_figure(mixes))
    assert fig.layout.barmode == "stack"
    assert type_order(mixes) == ["Q6_K", "Q4_K", "F32"]
    by_name = {}
    for trace in fig.data:
        panel = "count" if trace.xaxis == "x2" else "bytes"
        by_name[(trace.name, panel)] = dict(zip(trace.x, trace.y, strict=True))
    assert by_name[("Q4_K", "count")] == {"Q4": 211, "Q6": 0}
    assert by_name[("Q6_K", "count")] == {"Q4": 35, "Q6": 246}
    assert by_name[("F32", "count")] == {"Q4": 211, "Q6": 211}
    for label, mix in mixes.items():
        total_gb = sum(by_name[(t, "bytes")][label] for t in type_order(mixes))
        known = [s.n_bytes for s in mix.values() if s.n_bytes is not None]
        assert total_gb == pytest.approx(sum(known) / 1e9) and len(known) == len(mix)
    assert sum(bool(t.showlegend is not False) for t in fig.data) == 3  # a legend entry per type


def test_type_mix_figure_with_an_unknown_type_plots_zero_bytes_but_counts_it():
    """A type gguf does not know has no byte size: its bytes bar is 0, its count is kept."""
    mixes = {"a": tensor_type_mix([TensorInfo("x", "Q9_Z", (256, 4))])}
    fig = _validated(type_mix_figure(mixes))
    bytes_trace, count_trace = fig.data
    assert list(bytes_trace.y) == [0] and list(count_trace.y) == [1]
    assert not any(math.isnan(v) for v in bytes_trace.y)


def test_storage_and_type_mix_texts_carry_the_plotted_numbers():
    """The storage chart's text names each tag's size and bits per weight (1,721,349,614 bytes
    x 8 / 2,665,786,880 weights = 5.17) with its GB in the table; the type mix's gives each
    tag's largest types by share of bytes (two made-up types: 3 GB and 1 GB, 75 % and 25 %)."""
    from quantviz.figures.ollama import storage_text, type_mix_text

    alt = storage_text([Q4, Q6])
    assert "Q4 1.72 GB (5.17 bits per weight)" in alt.summary
    assert alt.rows[0][:3] == ("Q4", "m:q4", 1.721349614)
    mix = type_mix_text({"Q4": {"Q4_K": TypeShare("Q4_K", 10, 6, 3_000_000_000),
                                "F32": TypeShare("F32", 30, 2, 1_000_000_000)}})  # fmt: skip
    assert mix.summary == (
        "Tensor types per tag, by bytes and by tensor count: Q4: Q4_K 75 %, F32 25 % of the bytes."
    )
    assert mix.rows == (("Q4", "Q4_K", 10, 3.0), ("Q4", "F32", 30, 1.0))
