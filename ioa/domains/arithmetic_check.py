"""The arithmetic domain's checker for questions a teacher wrote itself (not drawn from a generator).

reasoning-gym's ``score_answer`` needs the generator's entry, which a new question does not have. Where
the question's content can be read back (an expression, the numbers of a GCD, a weekday offset) this
module computes the answer; where it cannot (leg counting's animals), it says so, and the adapter falls
back to the teacher's self-consistency.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable

from ioa.domains.base import extract_answer
from ioa.domains.lesson import Verdict

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EXPRESSION = re.compile(r"[-(]*\d[\d\s+\-*×x/÷()]*\d\)*")
_OPERATOR_NAMES = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


def evaluate(expression: str) -> tuple[int, set[str]]:
    """The value of an integer expression of + - * and parentheses, and the operators it uses."""
    used: set[str] = set()

    def value(node: ast.expr) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATOR_NAMES:
            op = _OPERATOR_NAMES[type(node.op)]
            used.add(op)
            a, b = value(node.left), value(node.right)
            return a + b if op == "+" else a - b if op == "-" else a * b
        raise ValueError("not an integer expression of + - *")

    text = expression.replace("×", "*").replace("x", "*")
    return value(ast.parse(text.strip(), mode="eval").body), used


def _expression_checker(allowed: set[str]) -> Callable[[str, str], Verdict]:
    def check(problem: str, answer: str) -> Verdict:
        candidates = [m.group(0) for m in _EXPRESSION.finditer(problem)]
        for text in sorted(candidates, key=len, reverse=True):
            try:
                value, used = evaluate(text)
            except (ValueError, SyntaxError):
                continue
            if not used:
                continue
            entry = {"expression": text.strip(), "value": value}
            if not used <= allowed:
                return Verdict(False, f"uses {''.join(sorted(used - allowed))}, outside the module", entry)
            given = extract_answer(answer, "number")
            ok = given.lstrip("-").isdigit() and int(given) == value
            return Verdict(ok, "checked" if ok else f"{text.strip()} = {value}, not {given}", entry)
        return Verdict(False, "no arithmetic expression in the problem")

    return check


def _gcd(problem: str, answer: str) -> Verdict:
    numbers = [int(n) for n in re.findall(r"\d+", problem)]
    if len(numbers) < 2:
        return Verdict(False, "fewer than two numbers in the problem")
    value = math.gcd(*numbers)
    given = extract_answer(answer, "number")
    ok = given.isdigit() and int(given) == value
    return Verdict(ok, "checked" if ok else f"GCD is {value}, not {given}", {"numbers": numbers, "value": value})


def _weekday(problem: str, answer: str) -> Verdict:
    m = re.search(r"(\d+)\s+days?\s+(after|before)\s+(" + "|".join(WEEKDAYS) + ")", problem, re.I)
    if not m:
        return Verdict(False, "no 'N days after/before <weekday>' in the problem")
    days = int(m.group(1)) * (1 if m.group(2).lower() == "after" else -1)
    start = next(d for d in WEEKDAYS if d.lower() == m.group(3).lower())
    value = WEEKDAYS[(WEEKDAYS.index(start) + days) % 7]
    given = extract_answer(answer, "word", WEEKDAYS)
    ok = given == value
    return Verdict(ok, "checked" if ok else f"{value}, not {given}", {"offset_days": days, "start": start})


CHECKERS: dict[str, Callable[[str, str], Verdict]] = {
    "arithmetic/addition": _expression_checker({"+"}),
    "arithmetic/subtraction": _expression_checker({"-"}),
    "arithmetic/multiplication": _expression_checker({"*"}),
    "arithmetic/chain_sum": _expression_checker({"+", "-"}),
    "arithmetic/mixed_operations": _expression_checker({"+", "-", "*"}),
    "number_theory/gcd": _gcd,
    "calendar/weekday_offset": _weekday,
}
"""Module id -> checker of a new question; a module not here is verified by self-consistency."""


def verify_new_question(module_id: str, problem: str, answer: str) -> Verdict:
    """The checker's verdict on a teacher-written arithmetic question, ``ok=None`` where none applies."""
    checker = CHECKERS.get(module_id)
    if checker is None:
        return Verdict(None, "no checker for new questions of this module")
    return checker(problem, answer)
