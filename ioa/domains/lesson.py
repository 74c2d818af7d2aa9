"""What a synthesis request needs from a domain, and what its checker says of a teacher-written exercise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StyleExample:
    """A worked example shown to the teacher as a style reference only: never trained on, never a probe."""

    problem: str
    steps: str
    answer: str
    check: str = ""
    """An independent check of the answer, as the teacher is asked to write one."""
    item: str = ""
    """The syllabus item it is about (a word), for domains with one; "" otherwise."""


@dataclass(frozen=True)
class Lesson:
    """One module at one difficulty level, as the synthesis prompt names it (docs/design.md §6)."""

    items: tuple[str, ...]
    """What the level covers, when the domain has a closed syllabus (a unit's words); empty otherwise."""
    size_cap: str
    """How big an instance may be at this level, in words the teacher reads ("numbers below 100")."""
    complexity_cap: str
    """How much the level asks at once ("one operation", "one rule only")."""
    references: tuple[StyleExample, ...] = ()
    """Style references: the form of an exercise, not its content."""


@dataclass(frozen=True)
class Verdict:
    """A domain checker's judgement of one teacher-written exercise."""

    ok: bool | None
    """True verified, False refuted, None when the checker cannot score this question (self-consistency decides)."""
    reason: str
    """Why, in a few words, for the trace."""
    entry: dict[str, Any] = field(default_factory=dict)
    """What the checker parsed from the problem (the word, the numbers), kept with the example."""
