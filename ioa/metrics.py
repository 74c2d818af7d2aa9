"""Metrics of seed-file domains, one per task kind (docs/design.md §1): each maps an answer to 0.0 or 1.0.

- ``math``: answer equivalence with ``math-verify`` (so "0.75", "3/4" and "$\\frac34$" agree);
- ``text``: ROUGE-L F1 against the reference, correct at ``metric.rouge_correct`` (0.5);
- ``code``: pass@1, the task's asserts run against the answer's code in ``ioa.sandbox``;
- ``choice``: the exact label, found in free text among the labels the task offers.

``TeacherJudge`` is the optional LLM judge (``metric.judge``): the teacher decides, through a
DSPy program, whether an answer says the same as the reference. Teacher and student are always
scored by the same metric on the same probes, so P_T and P_S compare like with like.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, get_args

from ioa.config import SandboxConfig
from ioa.domains.base import extract_answer
from ioa.sandbox import run_tests

if TYPE_CHECKING:
    from ioa.teacher.protocol import Teacher

Kind = Literal["math", "text", "code", "choice"]
KINDS: tuple[str, ...] = get_args(Kind)

_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)


@functools.cache
def _rouge():  # rouge-score imports nltk (seconds): only when a text task is scored
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"])


def rouge_l(reference: str, answer: str) -> float:
    """ROUGE-L F1 of ``answer`` against ``reference`` (0.0 for an empty answer)."""
    if not answer.strip():
        return 0.0
    return _rouge().score(reference, answer)["rougeL"].fmeasure


def text_correct(reference: str, answer: str, threshold: float) -> float:
    return 1.0 if rouge_l(reference, answer) >= threshold else 0.0


def math_correct(reference: str, answer: str) -> float:
    """1.0 when math-verify finds the answer equivalent to the reference."""
    from math_verify import parse, verify

    # math-verify times out with signal.alarm, which only the main thread may use.
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    gold = parse(reference, parsing_timeout=timeout)
    pred = parse(answer, parsing_timeout=timeout)
    if not gold or not pred:
        return 0.0
    return 1.0 if verify(gold, pred, timeout_seconds=timeout) else 0.0


def choice_correct(reference: str, answer: str, labels: Sequence[str]) -> float:
    """1.0 when the label named in ``answer`` (after "answer:" if present, else the last one) is the reference."""
    offered = list(dict.fromkeys([*labels, reference]))
    if all(re.fullmatch(r"[A-Za-z]+", label) for label in offered):
        picked = extract_answer(answer, "word", offered)
    else:  # labels such as "(a)" or "1": compare the whole trimmed answer
        picked = answer.strip().strip(".").strip()
    return 1.0 if picked.strip().lower() == reference.strip().lower() else 0.0


def extract_code(answer: str) -> str:
    """The Python in an answer: the fenced blocks when there are any, else the whole text."""
    blocks = _FENCE.findall(answer)
    return "\n\n".join(blocks) if blocks else answer


def code_correct(answer: str, tests: str, sandbox: SandboxConfig) -> float:
    """pass@1: the answer's code and the task's asserts, run once in the sandbox."""
    if not answer.strip():
        return 0.0
    return 1.0 if run_tests(extract_code(answer), tests, sandbox).passed else 0.0


class TeacherJudge:
    """The teacher as judge: "correct" or "incorrect" for an answer against the reference."""

    def __init__(self, teacher: Teacher) -> None:
        self.teacher = teacher

    def __call__(self, question: str, reference: str, answer: str) -> float:
        (verdict,) = self.teacher.run(
            "judge_answer",
            [{"question": question, "reference": reference, "answer": answer}],
            round=0,
            node="score",
            temperature=0.0,
            max_tokens=8,
        )
        return 1.0 if verdict is not None and parse_verdict(verdict.verdict) else 0.0


def parse_verdict(text: str) -> bool:
    """A judge's verdict: "correct" (or yes/true) without "incorrect"/"not"; anything else is no."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words or {"incorrect", "wrong", "not", "no", "false"} & set(words):
        return False
    return bool({"correct", "yes", "true", "right"} & set(words))
