"""summary.json's sections that count over the run: synthesis and lengths (docs/design.md §8)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ioa.lengths import truncation_note
from ioa.state import IOAState

STAGES = ("asked", "parsed", "verified", "kept")
"""The synthesis funnel: exercises asked for, parsed from the replies, verified, kept by the adapter."""
TRUNCATED = ("student_answer", "train_seq")
"""The student's caps, which count what they cut (``usage`` keys ``truncated_<name>`` over ``items_<name>``). The
teacher's completions that hit their cap are counted by the teacher (``teacher_truncated`` of ``teacher_calls``);
the adapter never cuts a target (one too long is rewritten or dropped, counted under synthesis ``dropped``)."""


def synthesis_summary(state: IOAState) -> dict[str, Any]:
    """``{asked, parsed, verified, kept}`` in total, by module and by round, plus the adapter's drop reasons."""
    total: Counter[str] = Counter()
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    by_round: dict[str, Counter[str]] = defaultdict(Counter)
    dropped: Counter[str] = Counter()
    for record in state.synthesis:
        counts = {k: int(record.get(k, 0)) for k in (*STAGES, "requests")}
        total.update(counts)
        by_module[record["module"]].update(counts)
        by_round[str(record["round"])].update(counts)
        dropped.update(record.get("dropped", {}))

    def funnel(c: Counter[str]) -> dict[str, int]:
        return {k: c[k] for k in ("requests", *STAGES)}

    return {
        **funnel(total),
        "by_module": {m: funnel(c) for m, c in sorted(by_module.items())},
        "by_round": {r: funnel(c) for r, c in sorted(by_round.items(), key=lambda kv: int(kv[0]))},
        "dropped": dict(dropped),
    }


def lengths_summary(state: IOAState) -> dict[str, Any]:
    """The caps in force, what each cut and of how many items, and the one-line note when a cap cut over 1%."""
    truncated = {k: int(state.usage.get(f"truncated_{k}", 0)) for k in TRUNCATED}
    items = {k: int(state.usage.get(f"items_{k}", 0)) for k in TRUNCATED}
    truncated["teacher"] = int(state.usage.get("teacher_truncated", 0))
    items["teacher"] = int(state.usage.get("teacher_calls", 0))
    return {
        "caps": dict(state.lengths),
        "truncated": truncated,
        "items": items,
        "note": truncation_note(truncated, items),
    }
