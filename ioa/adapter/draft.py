"""One teacher-written exercise on its way to a training example, and the batch's shared context.

A ``Draft`` holds the exercise's solution as lines, the verified answer (or verified code) its target
ends in, and a history of every step applied to it with the target before and after, which the trace
shows. A draft is never cut: a step changes its lines, or drops it with a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ioa.adapter.text import solution_lines

if TYPE_CHECKING:
    from ioa.context import Services

REQUIRED = ("module", "problem", "steps", "answer")
"""Teach-row fields without which there is no exercise to adapt."""


@dataclass
class Draft:
    """A teacher-written exercise being verified and adapted (see the module docstring)."""

    row: dict[str, Any]
    """The teach row as read."""
    module: str
    level: int
    mode: str
    problem: str
    answer: str
    """The final answer the target ends in; after verification, the verified one."""
    check: str
    """The teacher's independent check (a code exercise's tests)."""
    lines: list[str]
    """The worked solution, one line each; the target is these lines, then ``Answer: X``."""
    code: str = ""
    """A code exercise's verified code: its target is the steps as comments, then this code."""
    scaffold: str = ""
    """A ``Recall:`` line from the nearest mastered module, put first."""
    verified_by: str | None = None
    """checker | self_consistency | sandbox, once verified."""
    entry: dict[str, Any] = field(default_factory=dict)
    """What the checker parsed from the problem (the Verdict's entry)."""
    verdict: str = ""
    """Why it was verified or refuted, in a few words."""
    size: float = 0.0
    """The size of its instance (small_instances_first orders by it)."""
    history: list[dict[str, str]] = field(default_factory=list)
    """Each step applied: {step, before, after} and a note where the step explains itself."""
    applied: list[str] = field(default_factory=list)
    """The adaptation strategies that changed or checked it, in order."""
    dropped: str | None = None
    """Why it was dropped (a counted reason), or None while kept."""
    why: str = ""
    """The details of the drop, for the trace."""

    def target(self) -> str:
        """What the student trains on: the adapted solution ending in its final answer (or its code)."""
        head = [self.scaffold] if self.scaffold else []
        if self.code:
            return "\n".join([*(f"# {line}" for line in [*head, *self.lines]), self.code])
        return "\n".join([*head, *self.lines, f"Answer: {' '.join(self.answer.split())}"])

    def change(self, step: str, lines: list[str], note: str = "", *, strategy: bool = True) -> None:
        """Apply a step's new lines, recording the target before and after."""
        before = self.target()
        self.lines = lines
        self.record(step, before, note, strategy=strategy)

    def record(self, step: str, before: str, note: str = "", *, strategy: bool = True) -> None:
        """Record a step that has run (it may have left the target as it was)."""
        entry = {"step": step, "before": before, "after": self.target()}
        if note:
            entry["note"] = note
        self.history.append(entry)
        if strategy:
            self.applied.append(step)

    def drop(self, reason: str, why: str) -> None:
        """Take the draft out of the batch; ``reason`` is counted, ``why`` traced."""
        self.dropped, self.why = reason, why


@dataclass
class Adaptation:
    """What every step of one adapt call shares: the services, where in the run it is, the budget, the counts."""

    svc: Services
    round: int
    attempt: int
    budget: int
    """Student tokens one target may take."""
    count_tokens: Callable[[str], int]
    """Tokens of a text in the student's tokenizer."""
    counts: Counter[str] = field(default_factory=Counter)
    """Batch counters: rewrites asked, accepted and rejected per step."""

    @property
    def strategies(self) -> list[str]:
        """The adaptation strategies switched on (``adapter.strategies``)."""
        return list(self.svc.config.adapter.strategies)


def draft_of(row: Any) -> Draft | str:
    """A draft of a teach row, or why the row holds no exercise (missing fields, wrong types)."""
    if not isinstance(row, dict):
        return f"a row that is not an object: {type(row).__name__}"
    missing = [k for k in REQUIRED if not isinstance(row.get(k), str) or not row[k].strip()]
    if missing:
        return f"missing or empty {', '.join(missing)}"
    level = row.get("level", 0)
    if isinstance(level, bool) or not isinstance(level, int):
        return f"level is not an integer: {level!r}"
    check = row.get("check") if isinstance(row.get("check"), str) else ""
    return Draft(
        row=row,
        module=row["module"],
        level=level,
        mode=str(row.get("mode") or "new"),
        problem=row["problem"].strip(),
        answer=row["answer"].strip(),
        check=check,
        lines=solution_lines(row["steps"]),
    )
