"""Drive a probe run to its end, as the widget does one event at a time."""

from __future__ import annotations

from collections.abc import Sequence

from quantviz.probe.battery import Probe
from quantviz.probe.run import AskFn, CancelSignal, ProbeRun, run_probes


def run_to_end(
    battery: Sequence[Probe], tags: Sequence[str], ask: AskFn, *, cancel: CancelSignal = None
) -> ProbeRun:
    """Every progress event of `run_probes` taken; the run as the last one left it."""
    run = ProbeRun(tags=tuple(tags), probes=tuple(battery))
    for _ in run_probes(battery, tags, ask, cancel=cancel, run=run):
        pass
    return run
