"""The oracle teacher: exact answers and procedurally written worked solutions on reasoning-gym domains.

With a teacher that is always right, a benchmark measures the pedagogy (what is taught, when,
at which difficulty, in which form) rather than teacher noise. The oracle is a ``Teacher``
(``ioa.teacher.protocol``), so the IOA graph runs with it unchanged; it looks each question up in
the ``TaskBook`` of the domain that handed it out, and writes the solution from the generator's
metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from ioa.domains.base import Domain, ModuleSpec, Task
from ioa.domains.steps import worked_steps
from ioa.teacher.protocol import Request, Teacher
from ioa.teacher.stats import TeacherStats


class TaskBook:
    """A domain that remembers every task it hands out, so the oracle can find a question's generator entry."""

    def __init__(self, inner: Domain) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.modules: list[ModuleSpec] = inner.modules
        self._tasks: dict[str, Task] = {}

    def probes(self, module_id: str, n: int, seed: int) -> list[Task]:
        return self._keep(self.inner.probes(module_id, n, seed))

    def exercises(self, module_id: str, level: int, n: int, seed: int) -> list[Task]:
        return self._keep(self.inner.exercises(module_id, level, n, seed))

    def score(self, task: Task, answer: str | None) -> float:
        return self.inner.score(task, answer)

    def lookup(self, question: str) -> Task:
        return self._tasks[question]

    def _keep(self, tasks: list[Task]) -> list[Task]:
        self._tasks.update((t.question, t) for t in tasks)
        return tasks


class OracleTeacher(Teacher):
    """A teacher that is always right: the reference answer and a procedurally written worked solution."""

    agent = "teacher"

    def __init__(self, book: TaskBook) -> None:
        self.book = book
        self.stats = TeacherStats()

    def snapshot(self) -> dict[str, int]:
        return self.stats.as_dict()

    def answer(self, name: str, inputs: Sequence[dict[str, Any]], request: Request) -> list[dspy.Prediction | None]:
        """``Teacher.run``, exactly and at once: one call per item, like the chat teacher; sampling does not apply."""
        out = []
        for item in inputs:
            task = self.book.lookup(item.get("question") or item["exercise"])
            if name == "answer_probe":
                out.append(dspy.Prediction(answer=task.answer))
            elif name == "worked_solution":
                out.append(dspy.Prediction(steps=worked_steps(task), answer=task.answer))
            else:
                raise ValueError(f"the oracle teacher has no program {name!r}")
            self.stats.calls += 1
            if request.on_done:
                request.on_done()
        return out
