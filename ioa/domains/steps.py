"""Worked solutions written from a reasoning-gym entry's metadata: one short line per step.

The bench's oracle teacher answers with them, and the arithmetic domain shows them to a real teacher as
style references (never as training data).
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from typing import Any

from ioa.domains.base import Task

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


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
            if op == "/" and (b == 0 or a % b):  # reasoning-gym divides exactly; anything else has no integer step
                raise ValueError(f"cannot write steps for {expression!r}")
            result = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a // b
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
