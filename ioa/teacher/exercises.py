"""The exercise block a synthesis request asks for, parsed from whatever a teacher writes.

One format is asked for (``Problem:``, ``Steps:``, ``Answer:``, ``Check:`` lines per exercise) and
the same format is shown in the style references. Teachers drift from it: markdown bold labels,
numbered exercises, a JSON array, an answer in ``\\boxed{}``. Each of those parses; what cannot be
read as an exercise with a problem, steps and an answer is counted as not parsed, never guessed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ioa.domains.lesson import StyleExample

FIELDS = {
    "problem": "problem",
    "question": "problem",
    "exercise": "problem",
    "steps": "steps",
    "solution": "steps",
    "worked solution": "steps",
    "answer": "answer",
    "final answer": "answer",
    "check": "check",
    "verification": "check",
}
_LABEL = re.compile(
    r"^\s*(?:[-*#>]+\s*|\d+[.)]\s*)*\**\s*("
    + "|".join(sorted(FIELDS, key=len, reverse=True))
    + r")\s*\d*\s*\**\s*[:.]\**\s*(.*)$",
    re.I,
)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


@dataclass(frozen=True)
class WrittenExercise:
    """One exercise as the teacher wrote it (the paper's schema, less what the request already fixes)."""

    problem: str
    steps: str
    answer: str
    check: str = ""
    """The teacher's independent check of its answer ("" when it wrote none)."""


def parse_exercises(text: str) -> list[WrittenExercise]:
    """Every complete exercise in a teacher's reply, in order; incomplete ones are left out."""
    # The output field's own label, when a reply repeats it.
    stripped = re.sub(r"^\s*exercises\s*:\s*", "", text.strip(), flags=re.I)
    if stripped.startswith(("[", "{", "```")):
        from_json = _parse_json(stripped)
        if from_json is not None:
            return from_json
    blocks: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    field: str | None = None
    for line in stripped.splitlines():
        match = _LABEL.match(line)
        if match:
            field = FIELDS[match.group(1).lower()]
            if field == "problem" or current is None or field in current:
                current = {}
                blocks.append(current)
            current[field] = [match.group(2)]
        elif current is not None and field is not None and line.strip():
            current[field].append(line.strip())
    return [ex for ex in (_complete({k: "\n".join(v).strip() for k, v in b.items()}) for b in blocks) if ex]


def _complete(fields: dict[str, str]) -> WrittenExercise | None:
    answer = fields.get("answer", "")
    if boxed := _BOXED.findall(answer):
        answer = boxed[-1]
    answer = answer.strip().strip("*").strip()
    if not (fields.get("problem") and fields.get("steps") and answer):
        return None
    return WrittenExercise(fields["problem"], fields["steps"], answer, fields.get("check", ""))


def _parse_json(text: str) -> list[WrittenExercise] | None:
    body = re.sub(r"^```\w*\s*|\s*```$", "", text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return None
    items = data.get("exercises", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if isinstance(item, dict):
            fields = {FIELDS[k.lower()]: _text(v) for k, v in item.items() if k.lower() in FIELDS}
            if ex := _complete(fields):
                out.append(ex)
    return out


def _text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def render_exercises(examples: list[StyleExample] | list[WrittenExercise]) -> str:
    """Exercises in the one format a synthesis request asks for (the style references' text)."""
    blocks = []
    for ex in examples:
        lines = [f"Problem: {ex.problem}", f"Steps: {ex.steps}", f"Answer: {ex.answer}"]
        if ex.check:
            lines.append(f"Check: {ex.check}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
