"""The teacher's running counters, and their difference between two snapshots (what a node reports in ``usage``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from ioa.teacher.retries import FAULT_KINDS


@dataclass
class TeacherStats:
    """Running totals, reported into the state's ``usage`` counters."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    parse_failures: int = 0
    repaired: int = 0
    dropped: int = 0
    failed_requests: int = 0
    retries: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        flat = {k: v for k, v in asdict(self).items() if k != "faults"}
        return flat | {f"fault_{kind}": self.faults.get(kind, 0) for kind in FAULT_KINDS}


def usage_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """The teacher counters that changed between two snapshots, keyed for the state's ``usage`` reducer."""
    return {f"teacher_{k}": after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
