"""The oracle teacher: exact answers and procedurally written worked solutions on reasoning-gym domains.

With a teacher that is always right, a benchmark measures the pedagogy (what is taught, when,
at which difficulty, in which form) rather than teacher noise. The oracle is a ``Teacher``
(``ioa.teacher.protocol``), so the IOA graph runs with it unchanged; it looks each question up in
the ``TaskBook`` of the domain that handed it out, and writes the solution from the generator's
metadata.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import dspy

from ioa.domains.base import Domain, ModuleSpec, Task
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


# --- step writers: one short line per step, the way a tutor writes on the board -----------------

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


def expression_steps(expression: str) -> list[str]:
    """One line per operation, in evaluation order: "7 + 4 - 6" -> ["7 + 4 = 11", "11 - 6 = 5"]."""
    steps: list[str] = []

    def value(node: ast.expr) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = value(node.left), value(node.right)
            op = _OPS[type(node.op)]
            result = a + b if op == "+" else a - b if op == "-" else a * b
            steps.append(f"{a} {op} {b} = {result}")
            return result
        raise ValueError(f"cannot write steps for {expression!r}")

    value(ast.parse(expression, mode="eval").body)
    return steps


def _arithmetic(meta: dict[str, Any]) -> list[str]:
    return expression_steps(meta["expression"])


def _legs(meta: dict[str, Any]) -> list[str]:
    from reasoning_gym.arithmetic.leg_counting import ANIMALS

    parts = [(count, ANIMALS[name]) for name, count in meta["animals"].items()]
    steps = [f"{count} * {legs} = {count * legs}" for count, legs in parts]
    if len(parts) > 1:
        steps.append(f"{' + '.join(str(c * g) for c, g in parts)} = {meta['total_legs']}")
    return steps


def _gcd(meta: dict[str, Any]) -> list[str]:
    numbers = [int(n) for n in meta["numbers"]]
    steps, g = [], numbers[0]
    for n in numbers[1:]:
        a, b = max(g, n), min(g, n)
        while b:  # Euclid: the remainder replaces the larger number until it is 0
            steps.append(f"{a} mod {b} = {a % b}")
            a, b = b, a % b
        g = a
    steps.append(f"GCD = {g}")
    return steps


def _weekday(meta: dict[str, Any]) -> list[str]:
    days = int(meta["offset_days"])
    start = dt.date.fromisoformat(meta["start_date"]).strftime("%A")
    target = dt.date.fromisoformat(meta["target_date"]).strftime("%A")
    weeks, rest = divmod(abs(days), 7)
    return [f"{abs(days)} = {weeks} * 7 + {rest}", f"{start} {'+' if days >= 0 else '-'} {rest} = {target}"]


STEP_WRITERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "basic_arithmetic": _arithmetic,
    "products": _arithmetic,
    "chain_sum": _arithmetic,
    "leg_counting": _legs,
    "gcd": _gcd,
    "calendar_arithmetic": _weekday,
}
"""reasoning-gym dataset name -> step writer; a new oracle domain adds its writers here."""


def worked_steps(task: Task) -> str:
    """The worked solution of ``task``, one step per line, from the generator's metadata."""
    meta = task.entry["metadata"]
    return "\n".join(STEP_WRITERS[meta["source_dataset"]](meta))


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
