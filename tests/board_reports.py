"""Evidence reports shaped like the ones the lab widgets record, for the class board tests."""

from __future__ import annotations

from typing import Any

from quantviz.report.evidence import EvidenceLog, ReportContext, report_dict

Q4_TAG = "batiai/gemma4-e2b:q4"
Q6_TAG = "batiai/gemma4-e2b:q6"


def evidence_log(
    *,
    q4_size: int = 3_110_000_000,
    q6_size: int = 4_080_000_000,
    q4_bpw: float = 4.97,
    q6_bpw: float = 6.52,
    q4_speed: float = 42.0,
    q6_speed: float = 31.5,
    q4_passes: tuple[int, int] = (6, 8),
    q6_passes: tuple[int, int] = (7, 8),
    choice: str | None = Q4_TAG,
    note: str | None = None,
) -> EvidenceLog:
    """Storage, probe and decision records as the widgets write them (payloads abridged)."""
    log = EvidenceLog()
    log.append(
        "storage",
        "Storage: Q4 3.11 GB vs Q6 4.08 GB",
        {
            "endpoint": "http://127.0.0.1:11434",
            "tags": [
                {"label": "Q4", "tag": Q4_TAG, "quantization_level": "Q4_K_M",
                 "size_bytes": q4_size, "parameter_count": 5_000_000_000,
                 "bits_per_weight": q4_bpw, "nominal_bits_per_weight": 4.8},
                {"label": "Q6", "tag": Q6_TAG, "quantization_level": "Q6_K",
                 "size_bytes": q6_size, "parameter_count": 5_000_000_000,
                 "bits_per_weight": q6_bpw, "nominal_bits_per_weight": 6.6},
            ],
            "missing": [],
        },
    )  # fmt: skip
    log.append(
        "probe",
        "Quality probe: Q4 6/8, Q6 7/8",
        {
            "status": "finished",
            "models": {"Q4": Q4_TAG, "Q6": Q6_TAG},
            "completed": 8,
            "total": 8,
            "passes": {Q4_TAG: list(q4_passes), Q6_TAG: list(q6_passes)},
        },
    )
    log.append(
        "decision",
        "Decision at 4.00 GB and 8k context: choose Q4",
        {
            "budget_bytes": 4_000_000_000,
            "context": 8192,
            "fits": [
                {"tag": Q4_TAG, "label": "Q4", "weights_bytes": q4_size, "fits": True},
                {"tag": Q6_TAG, "label": "Q6", "weights_bytes": q6_size, "fits": False},
            ],
            "tokens_per_s": {Q4_TAG: q4_speed, Q6_TAG: q6_speed},
            "probe_passes": {Q4_TAG: list(q4_passes), Q6_TAG: list(q6_passes)},
            "choice": choice,
            "decision": "Q4 fits with 0.4 GB to spare; Q6 does not fit.",
        },
    )
    if note is not None:
        log.append("note", "Note", {"text": note})
    return log


def report(secrets: tuple[str, ...] = (), **kwargs: Any) -> dict[str, Any]:
    """`report_dict` of `evidence_log(**kwargs)`, redacting `secrets` as the app does."""
    context = ReportContext(
        endpoint="http://127.0.0.1:11434",
        models={"Q4": Q4_TAG, "Q6": Q6_TAG},
        generated_at="2025-10-01T10:00:00Z",
        secrets=secrets,
    )
    return report_dict(evidence_log(**kwargs), context)
