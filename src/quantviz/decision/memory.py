"""Deployment-decision math: do a tag's weights plus its KV cache fit a memory budget?

    KV cache bytes = Σ over the layers that hold a cache of
                     (K + V) × KV heads × head dimension × cells × bytes per element

with f16 as the default cache type (2 bytes per element, Ollama's default `OLLAMA_KV_CACHE_TYPE`).
The sum runs layer by layer so that newer architectures are honest: per-layer KV head counts and
head dimensions, sliding-window layers that keep only a window of tokens, and layers that reuse an
earlier layer's cache (they hold none).

How many cells a layer holds is the serving engine's choice, not the model's. `OLLAMA` sizes them
as Ollama runs llama.cpp's llama-server (`-c num_ctx·P -np P -b 512 -ub 512`, flash attention
auto), cited in docs/model-facts.md: the context is rounded up to a multiple of 256 cells, and a
sliding-window layer keeps `PAD256(min(context, window + n_ubatch))` cells with n_ubatch 512.
`TEXTBOOK` is the formula as written in the lab (cells = context, window cells = window).

Assumptions, stated wherever a figure is shown (`assumptions()`):
- weights take the model's file size, all resident;
- compute buffers and the runtime are one fixed `overhead_bytes`; the deployment decision's
  default is `DEFAULT_OVERHEAD_BYTES` (1.0 GB for this model class, derived in
  docs/model-facts.md, "Runtime overhead"); the OS and other programs are not counted;
- the context is the number of tokens the task needs per request, times `parallel` slots;
- GB means 10^9 bytes.

Without an endpoint, `quantviz.decision.facts` supplies a built-in layout and sizes (Gemma 4
E2B's text model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from types import MappingProxyType
from typing import Any

from quantviz.probe.binomial import can_tell_apart, interval_text
from quantviz.quant.ggml import bytes_per_element
from quantviz.units import format_bytes, format_tokens

# Runtime overhead of a Gemma 4 E2B-class model served by Ollama (docs/model-facts.md, "Runtime
# overhead"): llama.cpp's compute buffer at n_ubatch 512 (518 MiB in a real E2B load log, almost
# all of it the 512 × 262,144 float32 logits of the worst-case batch) plus the 457 MiB Ollama
# sets aside per GPU for runtime structures (ml/device.go MinimumMemory), 1.02 GB, rounded.
DEFAULT_OVERHEAD_BYTES = 1_000_000_000

# Bytes per cached element, from the GGUF type table (q8_0 and q4_0 store blocks of 32 values
# with an f16 scale: 34 and 18 bytes per block). The cache types Ollama's OLLAMA_KV_CACHE_TYPE
# accepts, and f32.
BYTES_PER_ELEMENT: Mapping[str, Fraction] = MappingProxyType(
    {name: bytes_per_element(name) for name in ("f32", "f16", "q8_0", "q4_0")}
)
DEFAULT_CACHE_TYPE = "f16"

# Upper bound for "max context that fits" when the model states no context length.
_UNBOUNDED_CONTEXT = 1 << 24

# The metadata keys (under `<arch>.`) a KV layout is read from: what a widget needs from
# /api/show, verbose or not.
LAYOUT_KEYS = (
    "block_count",
    "context_length",
    "embedding_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "attention.key_length_swa",
    "attention.value_length_swa",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "attention.shared_kv_layers",
)


class LayoutError(ValueError):
    """Model metadata does not give enough to compute a KV cache size; the message says what."""


@dataclass(frozen=True)
class CacheSizing:
    """How a serving engine turns a context length into cache cells."""

    name: str
    pad: int = 1  # cells are allocated in multiples of this
    n_ubatch: int = 0  # sliding layers keep window + n_ubatch cells (0: just the window)

    def cells(self, context: int, parallel: int, window: int) -> tuple[int, int]:
        """Cells per slot: (full-attention layers, sliding-window layers)."""
        if self.pad <= 1 and not self.n_ubatch:
            return context, min(context, window)
        total = context * parallel
        # llama_context: n_batch = min(n_ctx, -b), n_ubatch = min(n_batch, -ub), both 512
        n_ubatch = min(self.n_ubatch, total)
        # llama_context pads n_ctx to 256, then (one stream per slot) n_ctx_seq = PAD(n_ctx / P)
        per_slot = _pad(_pad(total, self.pad) // parallel, self.pad)
        # llama_kv_cache_iswa: size_swa = PAD(min(size_base, n_swa + n_ubatch), 256)
        return per_slot, _pad(min(per_slot, window + n_ubatch), self.pad)


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to if to > 1 else n


OLLAMA = CacheSizing(
    "Ollama running llama.cpp (cells padded to 256, sliding layers keep window + 512)",
    pad=256,
    n_ubatch=512,
)
TEXTBOOK = CacheSizing("the textbook formula (cells = context)")


@dataclass(frozen=True)
class KVLayout:
    """What the KV cache size depends on, one entry per layer."""

    n_layers: int
    kv_heads: tuple[int, ...]
    key_length: tuple[int, ...]
    value_length: tuple[int, ...]
    sliding: tuple[bool, ...]
    sliding_window: int | None = None
    shared_kv_layers: int = 0  # the last N layers reuse an earlier layer's cache
    context_length: int | None = None  # the model's maximum
    source: str = "model metadata"
    approximate: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.n_layers <= 0:
            raise LayoutError(f"a layout needs at least one layer, got {self.n_layers}")
        for name in ("kv_heads", "key_length", "value_length", "sliding"):
            values = getattr(self, name)
            if len(values) != self.n_layers:
                raise LayoutError(f"{name} has {len(values)} entries for {self.n_layers} layers")
        for name in ("kv_heads", "key_length", "value_length"):
            if any(v < 0 for v in getattr(self, name)):
                raise LayoutError(f"{name} must not be negative")
        if any(self.sliding) and not self.sliding_window:
            raise LayoutError("sliding-window layers need a sliding_window size")
        if not 0 <= self.shared_kv_layers <= self.n_layers:
            raise LayoutError(f"shared_kv_layers must be 0-{self.n_layers}")

    @classmethod
    def uniform(
        cls,
        n_layers: int,
        kv_heads: int,
        head_dim: int,
        *,
        context_length: int | None = None,
        source: str = "model metadata",
        approximate: bool = False,
    ) -> KVLayout:
        """Every layer alike: the textbook case of the formula."""
        return cls(
            n_layers=n_layers,
            kv_heads=(kv_heads,) * n_layers,
            key_length=(head_dim,) * n_layers,
            value_length=(head_dim,) * n_layers,
            sliding=(False,) * n_layers,
            context_length=context_length,
            source=source,
            approximate=approximate,
        )

    @property
    def cache_layers(self) -> range:
        """The layers that hold a cache of their own (llama.cpp's has_kv)."""
        return range(self.n_layers - self.shared_kv_layers)

    def per_token_elements(self) -> tuple[int, int]:
        """Cached elements per cell: (full-attention layers, sliding-window layers)."""
        full = swa = 0
        for i in self.cache_layers:
            elems = self.kv_heads[i] * (self.key_length[i] + self.value_length[i])
            if self.sliding[i]:
                swa += elems
            else:
                full += elems
        return full, swa


def _bpe(cache_type: str) -> Fraction:
    try:
        return BYTES_PER_ELEMENT[cache_type]
    except KeyError:
        known = ", ".join(BYTES_PER_ELEMENT)
        raise ValueError(f"unknown cache type {cache_type!r}; known: {known}") from None


def kv_cache_bytes(
    layout: KVLayout,
    context: int,
    *,
    cache_type: str = DEFAULT_CACHE_TYPE,
    parallel: int = 1,
    sizing: CacheSizing = OLLAMA,
) -> int:
    """KV cache size in bytes for `context` tokens in each of `parallel` slots.

    Full-attention layers hold a cell per token of context, sliding-window layers at most the
    window's worth; `sizing` says how the engine rounds both.
    """
    if context < 0 or parallel < 1:
        raise ValueError("context must be >= 0 and parallel >= 1")
    full, swa = layout.per_token_elements()
    full_cells, swa_cells = sizing.cells(context, parallel, layout.sliding_window or 0)
    elements = (full * full_cells + swa * swa_cells) * parallel
    return math.ceil(elements * _bpe(cache_type))


def max_context(
    layout: KVLayout,
    available_bytes: int,
    *,
    cache_type: str = DEFAULT_CACHE_TYPE,
    parallel: int = 1,
    sizing: CacheSizing = OLLAMA,
) -> int:
    """Largest context whose KV cache fits `available_bytes`, capped at the model's maximum.

    The cache grows with the context in steps (padding, the sliding window), never shrinking,
    so a bisection finds the exact largest fitting context.
    """
    cap = layout.context_length or _UNBOUNDED_CONTEXT
    if available_bytes < 0:
        return 0

    def fits(ctx: int) -> bool:
        size = kv_cache_bytes(layout, ctx, cache_type=cache_type, parallel=parallel, sizing=sizing)
        return size <= available_bytes

    if fits(cap):
        return cap
    lo, hi = 0, cap  # fits(lo) holds (an empty cache), fits(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


# --------------------------------------------------------------------------------------------
# Layout from Ollama's /api/show model_info (raw GGUF keys)


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LayoutError(f"{key} is {value!r}, not a whole number")
    return value


def _per_layer(value: Any, n_layers: int, key: str) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise LayoutError(f"{key} lists {len(value)} values for {n_layers} layers")
        return tuple(_count(v, key) for v in value)
    return (_count(value, key),) * n_layers


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and not value)


def layout_from_model_info(
    model_info: Mapping[str, Any], *, source: str = "model metadata (/api/show)"
) -> KVLayout:
    """Read the KV layout from GGUF metadata keys as `/api/show` returns them.

    Uses `<arch>.block_count`, `.attention.head_count_kv` (number or per-layer list; falls back
    to `head_count`), `.attention.key_length` / `value_length` (falls back to
    `embedding_length / head_count`), their `_swa` variants for sliding layers,
    `.attention.sliding_window`, `.attention.sliding_window_pattern` (per-layer booleans, true =
    sliding, or an int n: every n-th layer is full attention), `.attention.shared_kv_layers` and
    `.context_length`. A per-layer array that arrives as null (a non-verbose `/api/show`) is
    missing: ask with `verbose: true` (`ollama.client.show(..., needs=LAYOUT_KEYS)` does).
    """
    arch = model_info.get("general.architecture")
    if not arch:
        raise LayoutError("model metadata has no general.architecture")

    def get(name: str) -> Any:
        return model_info.get(f"{arch}.{name}")

    def elided(name: str) -> bool:
        key = f"{arch}.{name}"
        return key in model_info and model_info[key] is None

    notes: list[str] = []
    blocks = get("block_count")
    if _missing(blocks):
        raise LayoutError(f"model metadata has no {arch}.block_count")
    n = _count(blocks, f"{arch}.block_count")
    if n == 0:
        raise LayoutError(f"{arch}.block_count is 0")
    head_count = get("attention.head_count")
    kv_raw = get("attention.head_count_kv")
    if _missing(kv_raw):
        if elided("attention.head_count_kv"):
            raise LayoutError(
                f"the server left {arch}.attention.head_count_kv out (null): ask with verbose"
            )
        if _missing(head_count):
            raise LayoutError(f"model metadata has no {arch}.attention.head_count_kv")
        kv_raw = head_count
        notes.append("no KV head count in the metadata: assumed one KV head per attention head")
    kv_heads = _per_layer(kv_raw, n, f"{arch}.attention.head_count_kv")

    key_len = get("attention.key_length")
    if _missing(key_len):
        emb = get("embedding_length")
        heads = (
            [h for h in _per_layer(head_count, n, "head_count") if h]
            if not _missing(head_count)
            else []
        )
        if _missing(emb) or not heads:
            raise LayoutError(
                f"model metadata has neither {arch}.attention.key_length nor "
                "embedding_length and head_count to derive the head dimension"
            )
        key_len = _count(emb, f"{arch}.embedding_length") // max(heads)
        notes.append(f"head dimension derived as embedding_length / head_count = {key_len}")
    key_len = _count(key_len, f"{arch}.attention.key_length")
    value_len = get("attention.value_length")
    value_len = key_len if _missing(value_len) else _count(value_len, f"{arch}.value_length")
    key_swa = get("attention.key_length_swa")
    value_swa = get("attention.value_length_swa")
    key_swa = key_len if _missing(key_swa) else _count(key_swa, f"{arch}.key_length_swa")
    value_swa = value_len if _missing(value_swa) else _count(value_swa, f"{arch}.value_length_swa")

    window = get("attention.sliding_window")
    window = None if _missing(window) else _count(window, f"{arch}.attention.sliding_window")
    window = window or None
    pattern = get("attention.sliding_window_pattern")
    if window is None:
        sliding = (False,) * n
    elif isinstance(pattern, (list, tuple)) and pattern:
        if len(pattern) != n:
            raise LayoutError(f"sliding_window_pattern lists {len(pattern)} values for {n} layers")
        sliding = tuple(bool(v) for v in pattern)
    elif isinstance(pattern, int) and not isinstance(pattern, bool) and pattern > 0:
        sliding = tuple(i % pattern < pattern - 1 for i in range(n))  # llama.cpp's set_swa_pattern
    elif elided("attention.sliding_window_pattern"):
        raise LayoutError(
            f"the server left {arch}.attention.sliding_window_pattern out (null): which layers "
            "use the sliding window is unknown; ask with verbose"
        )
    else:
        sliding = (False,) * n
        notes.append(
            "the metadata gives a sliding window but not which layers use it: every "
            "layer counted at full context (an overestimate)"
        )

    shared = get("attention.shared_kv_layers")
    shared = 0 if _missing(shared) else _count(shared, f"{arch}.attention.shared_kv_layers")
    context_length = get("context_length")
    return KVLayout(
        n_layers=n,
        kv_heads=kv_heads,
        key_length=tuple(key_swa if s else key_len for s in sliding),
        value_length=tuple(value_swa if s else value_len for s in sliding),
        sliding=sliding,
        sliding_window=window,
        shared_kv_layers=shared,
        context_length=None
        if _missing(context_length)
        else _count(context_length, f"{arch}.context_length"),
        source=source,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Fit against a budget


@dataclass(frozen=True)
class FitResult:
    """One tag's memory need at one context against one budget."""

    tag: str
    label: str
    context: int
    budget_bytes: int
    weights_bytes: int
    kv_bytes: int
    overhead_bytes: int
    max_context: int  # largest context that fits the budget (0: the weights alone do not)
    max_context_is_model_limit: bool  # the model's own context length capped max_context
    cache_type: str = DEFAULT_CACHE_TYPE
    parallel: int = 1

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def headroom_bytes(self) -> int:
        """Budget minus need; negative when it does not fit."""
        return self.budget_bytes - self.total_bytes

    @property
    def fits(self) -> bool:
        return self.headroom_bytes >= 0

    @property
    def shortfall_bytes(self) -> int:
        return max(0, -self.headroom_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "label": self.label,
            "context": self.context,
            "budget_bytes": self.budget_bytes,
            "weights_bytes": self.weights_bytes,
            "kv_bytes": self.kv_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "headroom_bytes": self.headroom_bytes,
            "fits": self.fits,
            "max_context": self.max_context,
            "max_context_is_model_limit": self.max_context_is_model_limit,
            "cache_type": self.cache_type,
            "parallel": self.parallel,
        }


def fit(
    budget_bytes: int,
    context: int,
    *,
    weights_bytes: int,
    layout: KVLayout,
    tag: str = "",
    label: str | None = None,
    cache_type: str = DEFAULT_CACHE_TYPE,
    overhead_bytes: int = 0,
    parallel: int = 1,
    sizing: CacheSizing = OLLAMA,
) -> FitResult:
    """Weights + KV cache (+ overhead) for `context` tokens against `budget_bytes`."""
    if budget_bytes < 0 or weights_bytes < 0 or overhead_bytes < 0:
        raise ValueError("budget, weights and overhead must not be negative")
    available = budget_bytes - weights_bytes - overhead_bytes
    best = max_context(layout, available, cache_type=cache_type, parallel=parallel, sizing=sizing)
    return FitResult(
        tag=tag,
        label=label if label is not None else tag,
        context=context,
        budget_bytes=budget_bytes,
        weights_bytes=weights_bytes,
        kv_bytes=kv_cache_bytes(
            layout, context, cache_type=cache_type, parallel=parallel, sizing=sizing
        ),
        overhead_bytes=overhead_bytes,
        max_context=best,
        max_context_is_model_limit=(
            layout.context_length is not None and best == layout.context_length and available >= 0
        ),
        cache_type=cache_type,
        parallel=parallel,
    )


def fit_tags(
    budget_bytes: int,
    context: int,
    weights: Mapping[str, int],
    *,
    layout: KVLayout | Mapping[str, KVLayout],
    labels: Mapping[str, str] | None = None,
    cache_type: str = DEFAULT_CACHE_TYPE,
    overhead_bytes: int = 0,
    parallel: int = 1,
    sizing: CacheSizing = OLLAMA,
) -> list[FitResult]:
    """`fit` for every tag in `weights` (tag -> bytes), one layout for all or one per tag."""
    out = []
    for tag, size in weights.items():
        lay = layout if isinstance(layout, KVLayout) else layout[tag]
        out.append(
            fit(
                budget_bytes,
                context,
                weights_bytes=size,
                layout=lay,
                tag=tag,
                label=(labels or {}).get(tag, tag),
                cache_type=cache_type,
                overhead_bytes=overhead_bytes,
                parallel=parallel,
                sizing=sizing,
            )
        )
    return out


def assumptions(
    layout: KVLayout,
    *,
    cache_type: str = DEFAULT_CACHE_TYPE,
    overhead_bytes: int = 0,
    parallel: int = 1,
    sizing: CacheSizing = OLLAMA,
) -> list[str]:
    """The assumptions behind a fit, in plain sentences, for display beside the figures."""
    bpe = _bpe(cache_type)
    bpe_text = f"{float(bpe):g}"
    n_cache = len(layout.cache_layers)
    out = [
        f"KV cache stored as {cache_type} ({bpe_text} bytes per element; Ollama's default is f16)",
        "KV cache = 2 (K and V) × KV heads × head dimension × cells × bytes per element, "
        f"summed over the {n_cache} layers that hold a cache",
    ]
    if sizing.pad > 1:
        out.append(
            f"cells as Ollama runs llama.cpp: the context rounded up to a multiple of "
            f"{sizing.pad}"
            + (
                f"; sliding-window layers hold min(context, window + {sizing.n_ubatch}) cells "
                f"(the window plus one {sizing.n_ubatch}-token batch), also rounded up to "
                f"{sizing.pad}"
                if any(layout.sliding)
                else ""
            )
        )
        out.append(
            "flash attention on or auto (Ollama's default); with it off llama.cpp pads every "
            "layer's V cache to the widest head, and quantized caches need it on"
        )
    elif any(layout.sliding):
        out.append("cells = the context; sliding-window layers hold at most the window")
    out += [
        "weights take the model's file size and stay resident in memory",
        (
            f"compute buffers and runtime: a fixed overhead of {format_bytes(overhead_bytes)} "
            "(the default, 1.0 GB, is llama.cpp's compute buffer for this model plus Ollama's "
            "runtime reserve); the operating system and other programs are not counted"
            if overhead_bytes
            else "no compute buffers, runtime or operating-system memory are counted"
        ),
        "GB means 10^9 bytes",
    ]
    if parallel > 1:
        out.append(
            f"{parallel} parallel request slots (OLLAMA_NUM_PARALLEL), each with its own cache"
        )
    if any(layout.sliding):
        n_swa = sum(layout.sliding[i] for i in layout.cache_layers)
        out.append(
            f"{n_swa} sliding-window layers attend to the last {layout.sliding_window} tokens "
            f"only; the other {n_cache - n_swa} cache layers see the whole context"
        )
    if layout.shared_kv_layers:
        out.append(
            f"the last {layout.shared_kv_layers} layers reuse an earlier layer's cache and hold "
            "none of their own"
        )
    out.append(f"layout: {layout.source}")
    out.extend(layout.notes)
    return out


# --------------------------------------------------------------------------------------------
# Words


def _quality(probe_passes: Mapping[str, tuple[int, int]] | None, tag: str) -> float | None:
    if not probe_passes or tag not in probe_passes:
        return None
    passed, total = probe_passes[tag]
    return passed / total if total else None


def probe_separates(
    probe_passes: Mapping[str, tuple[int, int]] | None, tags: Sequence[str]
) -> bool:
    """True when the probe scored every one of `tags` and their pass counts' 95 % intervals do
    not overlap pairwise (`probe.binomial.can_tell_apart`): only then is a difference in passes
    more than noise. 1 of 8 against 1 of 8, or 6 of 8 against 8 of 8, is not."""
    if not probe_passes or len(tags) < 2:
        return False
    counts = [probe_passes.get(t) for t in tags]
    if any(c is None or c[1] <= 0 for c in counts):
        return False
    return all(can_tell_apart(a, b) for a, b in combinations(counts, 2) if a and b)


def recommend(
    fits: Sequence[FitResult],
    *,
    tokens_per_s: Mapping[str, float | None] | None = None,
    probe_passes: Mapping[str, tuple[int, int]] | None = None,
) -> FitResult | None:
    """The tag to deploy: among those that fit, the better probe score when the probe can tell
    them apart, then speed, then smallest."""
    fitting = [f for f in fits if f.fits]
    if not fitting:
        return None
    separates = probe_separates(probe_passes, [f.tag for f in fitting])

    def key(f: FitResult) -> tuple[float, float, int]:
        q = _quality(probe_passes, f.tag) if separates else None
        s = (tokens_per_s or {}).get(f.tag)
        return (-(q if q is not None else 0.0), -(s or 0.0), f.total_bytes)

    return min(fitting, key=key)


def _figures(
    f: FitResult,
    tokens_per_s: Mapping[str, float | None] | None,
    probe_passes: Mapping[str, tuple[int, int]] | None,
) -> str:
    """' at 41.3 tok/s with 7 of 8 probe checks', naming what was not measured."""
    shown, missing = [], []
    speed = (tokens_per_s or {}).get(f.tag)
    if speed:
        shown.append(f"at {speed:.1f} tok/s")
    else:
        missing.append("speed not measured")
    if probe_passes and f.tag in probe_passes:
        passed, total = probe_passes[f.tag]
        shown.append(f"with {passed} of {total} probe checks")
    else:
        missing.append("probe not run")
    text = "".join(" " + part for part in shown)
    return text + (f" ({'; '.join(missing)})" if missing else "")


def _tag_sentence(f: FitResult, figures: str) -> str:
    ctx = format_tokens(f.context)
    if f.fits:
        return (
            f"{f.label} fits with {ctx} context ({format_bytes(f.total_bytes)} of "
            f"{format_bytes(f.budget_bytes)}, {format_bytes(f.headroom_bytes)} to spare)"
            f"{figures}"
        )
    if f.max_context > 0:
        reach = f"it fits up to {format_tokens(f.max_context)} tokens of context"
    else:
        reach = "its weights alone exceed the budget"
    return (
        f"{f.label} needs {format_bytes(f.shortfall_bytes)} more "
        f"({format_bytes(f.total_bytes)} against {format_bytes(f.budget_bytes)} at {ctx} "
        f"context; {reach}){figures}"
    )


def decision_text(
    fits: Sequence[FitResult],
    *,
    tokens_per_s: Mapping[str, float | None] | None = None,
    probe_passes: Mapping[str, tuple[int, int]] | None = None,
) -> str:
    """A reasoned choice, e.g. 'Q4 fits with 8k context … ; Q6 needs 0.12 GB more …. Choose Q4:
    …'. `probe_passes` maps tag -> (passed, total); missing speeds or probe figures are named
    as missing rather than guessed."""
    if not fits:
        return "No model to decide between."
    sentences = "; ".join(_tag_sentence(f, _figures(f, tokens_per_s, probe_passes)) for f in fits)
    choice = recommend(fits, tokens_per_s=tokens_per_s, probe_passes=probe_passes)
    budget = format_bytes(fits[0].budget_bytes)
    ctx = format_tokens(fits[0].context)
    if choice is None:
        closest = min(fits, key=lambda f: f.shortfall_bytes)
        if closest.max_context > 0:
            fix = (
                f"reduce the context to {format_tokens(closest.max_context)} tokens or raise "
                "the budget"
            )
        else:
            fix = "raise the budget: even the weights do not fit"
        verdict = (
            f"Neither fits {budget} at {ctx} context: {closest.label} comes closest, "
            f"needing {format_bytes(closest.shortfall_bytes)} more; {fix}."
        )
        return f"{sentences}. {verdict}"
    fitting = [f for f in fits if f.fits]
    if len(fitting) == 1:
        reason = f"it is the only one that fits {budget} at {ctx} context"
    else:
        others = [f for f in fitting if f is not choice]
        reason = _why_among_fitting(choice, others, tokens_per_s, probe_passes)
    return f"{sentences}. Choose {choice.label}: {reason}."


def _indistinct(a: FitResult, b: FitResult, probe_passes: Mapping[str, tuple[int, int]]) -> str:
    """'the probe cannot tell apart (Q4 1 of 8, 95 % interval 2–48 %; Q6 …)'."""
    parts = [
        f"{f.label} {probe_passes[f.tag][0]} of {probe_passes[f.tag][1]}, 95 % interval "
        f"{interval_text(*probe_passes[f.tag])}"
        for f in (a, b)
    ]
    return f"the probe cannot tell apart ({'; '.join(parts)})"


def _why_among_fitting(
    choice: FitResult,
    others: Sequence[FitResult],
    tokens_per_s: Mapping[str, float | None] | None,
    probe_passes: Mapping[str, tuple[int, int]] | None,
) -> str:
    other = others[0]
    q_choice, q_other = _quality(probe_passes, choice.tag), _quality(probe_passes, other.tag)
    s_choice = (tokens_per_s or {}).get(choice.tag)
    s_other = (tokens_per_s or {}).get(other.tag)
    extra = choice.total_bytes - other.total_bytes
    size_text = (
        f"{format_bytes(extra)} more memory" if extra > 0 else f"{format_bytes(-extra)} less memory"
    )
    separates = probe_separates(probe_passes, [choice.tag, other.tag])
    if separates and q_choice is not None and q_other is not None and q_choice > q_other:
        assert probe_passes is not None
        return (
            f"both fit, and {choice.label} passes more probe checks "
            f"({probe_passes[choice.tag][0]} vs {probe_passes[other.tag][0]}) for {size_text}"
        )
    if q_choice is None or q_other is None:
        lead = "both fit, but the probe has not scored both"
    else:
        assert probe_passes is not None
        apart = _indistinct(choice, other, probe_passes)
        lead = (
            f"both fit and pass the same share of probe checks, which {apart}"
            if q_choice == q_other
            else f"both fit, and {apart}"
        )
    if s_choice and s_other and s_choice > s_other:
        return (
            f"{lead}, and {choice.label} is faster ({s_choice:.1f} vs {s_other:.1f} tok/s) "
            f"with {size_text}"
        )
    return f"{lead}, and {choice.label} needs {size_text}, leaving more headroom for context"


_PROBE_WORDS = ("probe", "pass", "check", "quality", "accura")


def disagreements(
    chosen: str | None,
    fits: Sequence[FitResult],
    *,
    reason: str = "",
    tokens_per_s: Mapping[str, float | None] | None = None,
    probe_passes: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[str, ...]:
    """Where the student's choice (`chosen`, a tag, or None for neither) and reason differ from
    the figures: a tag that does not fit, 'neither' when one fits, another tag than the
    widget's reading, a reason that leans on a probe difference the probe cannot show."""
    by_tag = {f.tag: f for f in fits}
    fitting = [f for f in fits if f.fits]
    out: list[str] = []
    pick = recommend(fits, tokens_per_s=tokens_per_s, probe_passes=probe_passes)
    if fits:
        at = f"{format_bytes(fits[0].budget_bytes)} at {format_tokens(fits[0].context)} context"
    else:
        at = "this budget"
    if chosen is None:
        if fitting:
            names = " and ".join(f.label for f in fitting)
            out.append(
                f"You chose neither, but {names} {'fits' if len(fitting) == 1 else 'fit'} {at}."
            )
    elif chosen in by_tag and not by_tag[chosen].fits:
        f = by_tag[chosen]
        out.append(
            f"You chose {f.label}, but it does not fit {at}: it needs "
            f"{format_bytes(f.shortfall_bytes)} more (runtime overhead included)."
        )
    if chosen is not None and pick is not None and chosen != pick.tag and by_tag[chosen].fits:
        out.append(
            f"The reading picks {pick.label}, you picked {by_tag[chosen].label}: check the "
            "figures it gives for why, and say in your reason what outweighs them."
        )
    words = reason.lower()
    tags = [f.tag for f in fits]
    if (
        any(w in words for w in _PROBE_WORDS)
        and probe_passes
        and all(t in probe_passes for t in tags)
        and len(tags) >= 2
        and not probe_separates(probe_passes, tags)
    ):
        counts = ", ".join(
            f"{f.label} {probe_passes[f.tag][0]} of {probe_passes[f.tag][1]}" for f in fits
        )
        out.append(
            f"Your reason cites the probe, but it cannot tell the tags apart ({counts}: their "
            "95 % intervals overlap), so it is no ground for either."
        )
    return tuple(out)
