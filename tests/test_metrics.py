"""Metrics by task kind: math-verify, ROUGE-L, sandboxed pass@1, exact labels, and the teacher judge."""

from __future__ import annotations

import threading

import pytest
from langchain_core.language_models import FakeListChatModel

from ioa.config import SandboxConfig, TeacherConfig
from ioa.metrics import (
    TeacherJudge,
    choice_correct,
    code_correct,
    extract_code,
    math_correct,
    parse_verdict,
    rouge_l,
    text_correct,
)
from ioa.teacher.client import ChatTeacher


@pytest.mark.parametrize(
    ("reference", "answer", "expected"),
    [
        ("12", "12", 1.0),
        ("12", "The answer is 12.", 1.0),
        ("3/4", "0.75", 1.0),
        ("3/4", "$\\frac{3}{4}$", 1.0),
        ("12", "13", 0.0),
        ("3/8", "3/4", 0.0),
        ("12", "I do not know", 0.0),
    ],
)
def test_math_equivalence(reference: str, answer: str, expected: float) -> None:
    assert math_correct(reference, answer) == expected


def test_math_works_off_the_main_thread() -> None:
    # math-verify's own timeout uses signal.alarm, which only the main thread may set.
    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(math_correct("3/4", "0.75")))
    worker.start()
    worker.join()
    assert out == [1.0]


def test_rouge_threshold() -> None:
    reference = "She walked to school every day."
    assert rouge_l(reference, reference) == pytest.approx(1.0)
    assert text_correct(reference, "She walked to school.", 0.5) == 1.0
    assert text_correct(reference, "Bananas are yellow.", 0.5) == 0.0
    assert text_correct(reference, "She walked to school.", 0.95) == 0.0
    assert rouge_l(reference, "   ") == 0.0


def test_choice_labels() -> None:
    labels = ["positive", "negative"]
    assert choice_correct("positive", "positive", labels) == 1.0
    assert choice_correct("positive", "The sentiment is Positive.", labels) == 1.0
    assert choice_correct("positive", "Not negative, the answer is positive", labels) == 1.0
    assert choice_correct("positive", "negative", labels) == 0.0
    assert choice_correct("positive", "mixed feelings", labels) == 0.0
    assert choice_correct("B", "answer: B", ["A", "B", "C"]) == 1.0


def test_code_pass_at_1_in_the_sandbox() -> None:
    cfg = SandboxConfig(timeout_s=5)
    tests = "assert inc(1) == 2\nassert inc(-1) == 0"
    assert code_correct("```python\ndef inc(x):\n    return x + 1\n```\nThis adds one.", tests, cfg) == 1.0
    assert code_correct("def inc(x):\n    return x + 2", tests, cfg) == 0.0
    assert code_correct("", tests, cfg) == 0.0
    assert extract_code("no fences here") == "no fences here"


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [("correct", True), ("Correct.", True), ("incorrect", False), ("not correct", False), ("maybe", False)],
)
def test_parse_verdict(reply: str, verdict: bool) -> None:
    assert parse_verdict(reply) is verdict


def test_teacher_judge_is_a_dspy_program_on_the_teacher(tmp_path) -> None:
    chat = FakeListChatModel(responses=["verdict: correct", "verdict: incorrect"])
    judge = TeacherJudge(ChatTeacher(chat, TeacherConfig(max_concurrency=1)))
    assert judge("Say hi.", "hi", "hello") == 1.0
    assert judge("Say hi.", "hi", "bye") == 0.0
    assert judge.teacher.stats.calls == 2
