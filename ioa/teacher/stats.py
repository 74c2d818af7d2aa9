"""The teacher's running counters (``Teacher.snapshot``)."""

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
    truncated: int = 0
    """Paid completions that stopped at their token cap."""
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
