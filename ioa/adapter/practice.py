"""Checker-written practice: an explicit supplement to the teacher's examples, off by default.

With ``adapter.checker_practice_per_example`` > 0, each kept teacher example brings that many exercises of
its module and level from the domain's own generator, answered by its checker (``Answer: X``, no steps). The
rows say so (``source: "checker_practice"``), so that nobody mistakes them for teacher-synthesized data.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ioa.agents.teacher import exercise_seed
from ioa.context import Services

PRACTICE_SOURCE = "checker_practice"
"""The ``source`` of a checker-written practice row."""


def checker_practice_rows(svc: Services, kept: list[dict[str, Any]], round_: int, attempt: int) -> list[dict[str, Any]]:
    """``checker_practice_per_example`` checker-answered exercises per kept teacher row, at its module and level.

    Where a level's question space is small, practice repeats questions: a from-scratch student needs several
    passes over a fact table before it generalises to the held-out ones.
    """
    per = svc.config.adapter.checker_practice_per_example
    if per <= 0:
        return []
    wanted = Counter((r["module"], r["level"], r["mode"]) for r in kept)
    rows = []
    for (module, level, mode), n in sorted(wanted.items()):
        seed = exercise_seed(svc.config.domain.seed, round_, attempt, f"{module}#practice")
        rows += [
            {
                "module": module,
                "level": level,
                "prompt": task.question,
                "target": f"Answer: {task.answer}",
                "mode": mode,
                "source": PRACTICE_SOURCE,
                "verified_by": "checker",
                "entry": task.entry,
                "steps_applied": [],
            }
            for task in svc.domain.exercises(module, level, n * per, seed)
        ]
    return rows
