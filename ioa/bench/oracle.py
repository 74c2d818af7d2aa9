"""The oracle teacher: exact answers and procedurally written worked solutions on reasoning-gym domains.

With a teacher that is always right, a benchmark measures the pedagogy (what is taught, when,
at which difficulty, in which form) rather than teacher noise. The oracle is a ``Teacher``
(``ioa.teacher.protocol``), so the IOA graph runs with it unchanged; it looks each question up in
the ``TaskBook`` of the domain that handed it out, and writes the solution from the generator's
metadata.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import dspy

from ioa.domains.base import Domain, ModuleSpec, Task
from ioa.domains.lesson import Lesson, Verdict
from ioa.domains.steps import worked_steps
from ioa.graph.ablations import verbatim_target
from ioa.student_train import Example
from ioa.teacher.exercises import WrittenExercise, render_exercises
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

    def held_out(self, module_id: str, n: int, seed: int) -> list[Task]:
        return self.inner.held_out(module_id, n, seed)  # scored only: the oracle never answers these

    def score(self, task: Task, answer: str | None) -> float:
        return self.inner.score(task, answer)

    def lesson(self, module_id: str, level: int) -> Lesson:
        return self.inner.lesson(module_id, level)

    def verify(self, module_id: str, problem: str, steps: str, answer: str) -> Verdict:
        return self.inner.verify(module_id, problem, steps, answer)

    def lookup(self, question: str) -> Task:
        return self._tasks[question]

    def _keep(self, tasks: list[Task]) -> list[Task]:
        self._tasks.update((t.question, t) for t in tasks)
        return tasks


def worked_examples(tasks: Iterable[Task]) -> list[Example]:
    """The oracle's worked solutions of ``tasks`` as training examples, as a plain distillation trains on them:
    the steps, then ``Answer: X``."""
    return [Example(t.question, verbatim_target(worked_steps(t), t.answer)) for t in tasks]


SYNTHESIS = frozenset({"synthesize_new", "synthesize_remedial", "synthesize_bridging"})
"""The synthesis programs (one per mode); the oracle writes the same exact exercises for each."""


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
        for index, item in enumerate(inputs):
            if name == "rewrite_solution":
                # Its worked steps are already one small step a line: it declines, unpaid, and the adapter keeps them.
                out.append(None)
                self.stats.dropped += 1
                if request.on_done:
                    request.on_done()
                continue
            if name in SYNTHESIS:
                out.append(dspy.Prediction(exercises=self._synthesize(item, f"{request.round}/{request.draw}/{index}")))
            else:
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

    def _synthesize(self, item: dict[str, Any], draw: str) -> str:
        """``count`` new exercises of the request's module and level from the generator, with exact worked steps.

        The request names its module in ``skill`` ("<id> (<name>): ...") and its level in ``level`` ("level N of
        M"); the draw tells the requests of a teach step apart, so they get distinct exercises.
        """
        module = str(item["skill"]).split(" (", 1)[0]
        level = int(re.search(r"level (\d+)", str(item["level"])).group(1)) - 1
        seed = zlib.crc32(f"{module}|{level}|{draw}|{item.get('items', '')}".encode())
        tasks = self.book.exercises(module, level, int(item["count"]), seed)
        return render_exercises([WrittenExercise(t.question, worked_steps(t), t.answer) for t in tasks])
