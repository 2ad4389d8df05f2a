"""Pull progress for people: one computation gives every bar both its value and its text.

A bar and the words beside it used to come from two places: the bar from a high-water fraction
(so it never went back), the words from the bytes of the layers announced so far. They could
disagree ("3.42 GB / 3.42 GB" beside a bar at 28 %). Here each bar is a `LayerProgress` or a
`PullFigures`: whole bytes done and total, and `percent`, the integer floor of done / total
(exactly what `st.progress` draws from an int); its `text` prints those same numbers. The UI
passes `percent` and `text` on and computes nothing.

Why the total comes from the manifest: Ollama announces a pull's blobs one after another
(`server/images.go` `PullModel` calls `downloadBlob` per layer, then the config; ollama commit
fb30760996871fa9460115c753afd2c60d4ab0f7), so bytes done over bytes announced drops each time a
new blob appears. With the tag's manifest read first (as `ollama pull` reads it), every blob is
counted from the start and the overall bar only moves forward. Without it (the registry cannot
be reached from the app), the total is what was announced so far: the bar may step back when a
new blob is announced, and the text says "so far". A manifest that does not describe what the
server pulls (another registry, a tag that changed since) is not used for the total; its layer
names are still used for the digests it shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from quantviz.ollama.client import PullProgress
from quantviz.ollama.registry import Manifest
from quantviz.text import code_span, plain
from quantviz.units import format_bytes

UNNAMED = "layer"  # a blob the manifest does not list (or no manifest was read)


def percent(done: int, total: int) -> int:
    """Whole percent done, rounded down (100 only when done reaches total); 0 for no total."""
    if total <= 0:
        return 0
    return max(0, min(100, done * 100 // total))


@dataclass(frozen=True)
class LayerProgress:
    """One blob's bar: bytes done of its size, and its media-type name when known."""

    digest: str
    kind: str | None
    completed: int
    total: int
    already_present: bool  # complete in its first progress line: the endpoint had it

    @property
    def short(self) -> str:
        """The 12 hex digits `ollama pull` shows ('pulling c1864a5eb193')."""
        return self.digest.removeprefix("sha256:")[:12]

    @property
    def percent(self) -> int:
        return percent(self.completed, self.total)

    @property
    def text(self) -> str:
        note = " · already on the endpoint" if self.already_present else ""
        return (
            f"{plain(self.kind or UNNAMED)} {code_span(self.short)} · {self.percent} % · "
            f"{format_bytes(self.completed)} / {format_bytes(self.total)} "
            f"({self.completed:,} / {self.total:,} bytes){note}"
        )


@dataclass(frozen=True)
class PullFigures:
    """The whole pull's bar: bytes done of the total, `percent` and the text that prints them.

    `total_known`: the total is the manifest's (every blob of the tag, announced or not), so
    the bar only moves forward; otherwise it is the blobs announced so far.
    """

    completed: int
    total: int
    percent: int
    layers: tuple[LayerProgress, ...]
    total_known: bool
    succeeded: bool
    n_blobs: int  # blobs in the total: announced ones, plus the manifest's others if known

    @property
    def text(self) -> str:
        if not self.total:
            return "All layers: waiting for the manifest"
        where = "All layers" if self.total_known or self.succeeded else "Layers announced so far"
        return (
            f"{where}: {format_bytes(self.completed)} / {format_bytes(self.total)} "
            f"({self.n_blobs} layers) · {self.percent} %"
        )


@dataclass
class PullTracker:
    """Collects `/api/pull` lines; `figures()` is what every bar shows at this moment.

    `expected` maps each blob's digest to its size and `kinds` to its media-type name, from the
    tag's manifest (`from_manifest`); both may be empty.
    """

    expected: Mapping[str, int] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)  # digest -> (done, total)
    present: set[str] = field(default_factory=set)
    status: str = ""
    succeeded: bool = False

    @classmethod
    def from_manifest(cls, manifest: Manifest | None) -> PullTracker:
        if manifest is None:
            return cls()
        return cls(
            expected={b.digest: b.size for b in manifest.blobs},
            kinds={b.digest: b.kind for b in manifest.blobs},
        )

    def add(self, progress: PullProgress) -> None:
        self.status = progress.status
        digest, total = progress.digest, progress.total
        if digest and total:
            done = progress.completed or 0
            if digest not in self.layers and done >= total:
                self.present.add(digest)
            self.layers[digest] = (done, total)
        if progress.status == "success":
            self.succeeded = True

    def _manifest_fits(self) -> bool:
        """Every announced blob is in the manifest with the manifest's size."""
        return bool(self.expected) and all(
            self.expected.get(digest) == total for digest, (_, total) in self.layers.items()
        )

    def figures(self) -> PullFigures:
        """Every bar's value and text, from the lines received so far.

        Once the pull succeeded, every announced blob counts as complete and the total is the
        announced blobs (a blob the manifest lists but the server never announced was not
        needed); before that, with a manifest that fits, the total is every blob it lists.
        """
        layers = tuple(
            LayerProgress(
                digest,
                self.kinds.get(digest),
                total if self.succeeded else min(done, total),
                total,
                digest in self.present,
            )
            for digest, (done, total) in self.layers.items()
        )
        completed = sum(layer.completed for layer in layers)
        known = not self.succeeded and self._manifest_fits()
        if known:
            total = sum(self.expected.values())
            n_blobs = len(self.expected)
        else:
            total = sum(layer.total for layer in layers)
            n_blobs = len(layers)
        value = 100 if self.succeeded and total else percent(completed, total)
        return PullFigures(completed, total, value, layers, known, self.succeeded, n_blobs)
