"""What a domain is: knowledge modules with prerequisites, probes, exercises and a checker.

A domain declares its modules (the Identifier's starting point, docs/design.md §2), hands out
held-out probes to measure P_T(k) and P_S(k), practice exercises at a difficulty level
(one notch = one level, docs/design.md §4), and scores a free-text answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ioa.domains.lesson import Lesson, Verdict

AnswerKind = Literal["number", "word", "text"]


@dataclass(frozen=True)
class ModuleSpec:
    """One knowledge module of a domain."""

    id: str
    """``category/name``, e.g. ``arithmetic/addition``."""
    name: str
    """Human name."""
    description: str
    """One sentence a teacher can read, e.g. "add two single-digit numbers"."""
    prerequisites: tuple[str, ...]
    """Ids of the modules whose skills this one needs."""
    levels: int
    """Number of difficulty levels; 0 is the easiest."""


@dataclass(frozen=True)
class Task:
    """One question with its reference answer, as a probe or an exercise."""

    module: str
    """Id of the module it exercises."""
    level: int
    """Difficulty level, 0 = easiest."""
    question: str
    """The text shown to teacher and student."""
    answer: str
    """The reference answer."""
    entry: dict
    """The JSON-serialisable generator entry that the domain's checker scores against."""


class Domain(Protocol):
    """A procedural, verifiable domain (the built-in one is ``arithmetic``)."""

    name: str
    modules: list[ModuleSpec]

    def probes(self, module_id: str, n: int, seed: int) -> list[Task]:
        """Held-out probes, ``level = i % levels``; never among the exercises."""
        ...

    def exercises(self, module_id: str, level: int, n: int, seed: int) -> list[Task]:
        """Practice exercises at one level, deterministic for (module, level, seed)."""
        ...

    def score(self, task: Task, answer: str) -> float:
        """0..1 for a free-text answer (the final answer is extracted first)."""
        ...

    def lesson(self, module_id: str, level: int) -> Lesson:
        """What a synthesis request for ``module_id`` at ``level`` names: its items, caps and style references."""
        ...

    def verify(self, module_id: str, problem: str, steps: str, answer: str) -> Verdict:
        """The domain checker's judgement of a teacher-written exercise; ``ok=None`` when it cannot score it."""
        ...


# A number as people write it: "-4", "1,000", "3.5". The comma group needs exactly three
# digits so that a list such as "98,58" still reads as two numbers.
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z]+")
# "The answer is 12", "Final answer: 12", "answer = 12"
_MARKER = re.compile(r"answer\s*(?:is|:|=)", re.IGNORECASE)


def extract_answer(text: str, kind: AnswerKind, choices: Iterable[str] | None = None) -> str:
    """The final answer in free text: "7 + 5 = 12" -> "12", "The answer is 12." -> "12".

    After an "answer is" / "answer:" marker, the first candidate following the last
    marker; otherwise the last candidate in the text. Candidates for ``number`` are
    numbers (commas dropped); for ``word``, the ``choices`` mentioned (returned in the
    choice's own spelling), or any word when no choices are given; for ``text``, whole
    non-empty lines. Text without a candidate comes back stripped, so that the checker
    scores it as wrong.
    """
    markers = list(_MARKER.finditer(text))
    if markers:
        after = _candidates(text[markers[-1].end() :], kind, choices)
        if after:
            return after[0]
    found = _candidates(text, kind, choices)
    return found[-1] if found else text.strip()


def _candidates(text: str, kind: AnswerKind, choices: Iterable[str] | None) -> list[str]:
    if kind == "text":  # "answer is: **tpa**" -> "tpa"
        lines = (line.strip().lstrip(":").strip().strip("*").strip() for line in text.splitlines())
        return [line for line in lines if line]
    if kind == "number":
        return [n.replace(",", "") for n in _NUMBER.findall(text)]
    words = _WORD.findall(text)
    if choices is None:
        return words
    canonical = {c.lower(): c for c in choices}
    return [canonical[w.lower()] for w in words if w.lower() in canonical]
