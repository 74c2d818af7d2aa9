"""Lengths from the models and the data, never from the toy (docs/design.md §4, lengths).

Five caps, each derived once per run from the student's tokenizer and context window and from the
domain's own worked solutions (its style references) and answers, and each overridable in the
``lengths`` config section:

- ``teacher_answer``: the teacher's completion cap for a probe, room for a worked answer twice as long
  as the domain's own (a teacher explains; a reasoning teacher more so);
- ``student_answer``: tokens the student may write for one answer: the teacher's room, so that a probe is
  asked of both the same way (the teacher's own model as the student then scores what the teacher
  scores), within what the student's context leaves after the prompt;
- ``adapter_budget``: tokens an adapted training target may use: a high percentile of the worked
  solutions' length in the student's tokens (at least a question's and an answer's), with a margin, so a
  whole worked solution fits and the student is taught answers it can write out whole;
- ``train_seq``: a training sequence, the longest probe prompt plus the adapter's budget plus end of sequence;
- ``teacher_synthesis``: the teacher's completion cap for one synthesis request of J exercises.

The teacher's tokenizer is unknown (any endpoint), so its caps are counted in the student's tokens,
with margins that cover the difference between two BPE vocabularies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ioa.teacher.exercises import render_exercises

if TYPE_CHECKING:
    import transformers

    from ioa.config import LengthsConfig
    from ioa.domains.base import Domain, Task

PERCENTILE = 0.95
ANSWER_MARGIN = 1.5
"""Room above the 95th percentile: the adapter's step template and a student's own phrasing run longer."""
TEACHER_MARGIN = 2.0
"""A probe answer's room: a teacher explains before it answers."""
SYNTHESIS_MARGIN = 1.3
"""J exercises' room over J references: each may run a little longer; a teacher that rambles past J stops here."""
SLACK = 8
"""A few tokens for the end of sequence, a line break, a label."""


@dataclass(frozen=True)
class Lengths:
    """The caps in force for one run (all in tokens)."""

    student_answer: int
    adapter_budget: int
    train_seq: int
    teacher_answer: int
    teacher_synthesis: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def percentile(values: list[int], q: float = PERCENTILE) -> int:
    """The ``q`` quantile of ``values`` (nearest rank); 0 for no values."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def derive_lengths(
    domain: Domain,
    probes: list[Task],
    tokenizer: transformers.PreTrainedTokenizerBase,
    context: int,
    exercises_per_request: int,
    overrides: LengthsConfig,
) -> tuple[Lengths, dict[str, Any]]:
    """The run's caps and the evidence they came from (token counts at the 95th percentile)."""
    from ioa.student_train.generate import format_prompt

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    references = [
        ref
        for spec in domain.modules
        for level in range(spec.levels)
        for ref in domain.lesson(spec.id, level).references
    ]
    solutions = [count(f"{r.steps}\nAnswer: {r.answer}") for r in references]
    answers = [count(f"Answer: {t.answer}") for t in probes]
    # A worked solution at least restates what its question gives: the floor where the references carry no steps
    # (a seed file's are question and reference only), which would otherwise size every cap to a bare answer.
    questions = [count(t.question) for t in probes]
    blocks = [count(render_exercises([r])) for r in references]
    prompts = [count(format_prompt(tokenizer, t.question)) for t in probes]
    worked = max(percentile(solutions), percentile(answers) + percentile(questions))
    longest_prompt = max(prompts, default=0)
    if longest_prompt >= context:
        raise ValueError(f"a probe prompt takes {longest_prompt} tokens, the student's whole context of {context}")

    room = context - longest_prompt - 1  # - 1: the end-of-sequence token
    teacher_answer = overrides.teacher_answer or math.ceil(worked * TEACHER_MARGIN) + 2 * SLACK
    student_answer = overrides.student_answer or min(teacher_answer, room)
    adapter_budget = overrides.adapter_budget or min(math.ceil(worked * ANSWER_MARGIN) + SLACK, student_answer)
    derived = Lengths(
        student_answer=student_answer,
        adapter_budget=adapter_budget,
        train_seq=overrides.train_seq or min(context, longest_prompt + adapter_budget + 1),
        teacher_answer=teacher_answer,
        teacher_synthesis=overrides.teacher_synthesis
        or math.ceil(exercises_per_request * percentile(blocks or answers) * SYNTHESIS_MARGIN) + 4 * SLACK,
    )
    evidence = {
        "worked_solution_p95": worked,
        "question_p95": percentile(questions),
        "exercise_block_p95": percentile(blocks),
        "longest_probe_prompt": longest_prompt,
        "student_context": context,
        "references": len(references),
    }
    return derived, evidence


def synthesis_cap(cap: int, count: int, exercises_per_request: int) -> int:
    """The completion cap of one synthesis request that asks for ``count`` exercises: ``teacher_synthesis`` is
    sized for J, and a request for fewer (a level's share of J) gets its share of the room, so a teacher that
    rambles past what it was asked for stops as soon."""
    per_exercise = max(cap - 4 * SLACK, 1) / max(exercises_per_request, 1)
    return min(cap, math.ceil(per_exercise * count) + 4 * SLACK)


def truncation_note(truncated: dict[str, int], items: dict[str, int], share: float = 0.01) -> str | None:
    """One line naming every cap that truncated more than ``share`` of its items, or None."""
    over = [
        f"{name} cut {truncated[name]} of {items[name]}"
        for name in truncated
        if items.get(name) and truncated[name] / items[name] > share
    ]
    if not over:
        return None
    return "lengths: " + "; ".join(over) + " (raise them under `lengths` in the config)"
