"""Lengths from the models and the data: derived from the student's tokenizer and the domain's worked solutions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioa.config import LengthsConfig
from ioa.domains import get_domain
from ioa.graph.summary import lengths_summary
from ioa.lengths import derive_lengths, percentile, truncation_note
from ioa.state import IOAState


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


def _derive(tokenizer, name: str, context: int = 256, **overrides):
    domain = get_domain(name, 0)
    probes = [t for m in domain.modules for t in domain.probes(m.id, 6, 0)]
    return derive_lengths(domain, probes, tokenizer, context, 10, LengthsConfig(**overrides)), domain, probes


def test_caps_fit_the_domains_own_worked_solutions_in_the_students_tokens(tokenizer) -> None:
    from ioa.student_train.generate import format_prompt

    (lengths, evidence), domain, probes = _derive(tokenizer, "words")
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    solutions = [
        count(f"{r.steps}\nAnswer: {r.answer}")
        for m in domain.modules
        for lv in range(m.levels)
        for r in domain.lesson(m.id, lv).references
    ]
    assert lengths.adapter_budget > max(solutions)  # every worked solution fits whole
    assert lengths.adapter_budget < lengths.student_answer  # a target the student can write out whole
    longest = max(count(format_prompt(tokenizer, t.question)) for t in probes)
    assert lengths.train_seq == longest + lengths.adapter_budget + 1 and evidence["longest_probe_prompt"] == longest
    assert lengths.teacher_answer == lengths.student_answer  # a probe is asked of both with the same room
    assert lengths.teacher_synthesis > 10 * evidence["exercise_block_p95"]  # J exercises per request fit


def test_another_domain_gets_other_caps_and_overrides_win(tokenizer) -> None:
    (words, _), _, _ = _derive(tokenizer, "words")
    (arithmetic, _), _, _ = _derive(tokenizer, "arithmetic")
    assert arithmetic != words  # sized by each domain's data, not by a constant
    (fixed, _), _, _ = _derive(tokenizer, "words", student_answer=5, teacher_synthesis=900)
    assert (fixed.student_answer, fixed.adapter_budget, fixed.teacher_synthesis) == (5, 5, 900)


def test_references_without_steps_still_leave_room_for_a_worked_answer(tokenizer) -> None:
    """A seed file's references are a question and a reference ("12"): sized by them alone, every cap would fit a
    bare answer, and a teacher's worked answer to a word problem would be cut."""
    from types import SimpleNamespace

    from ioa.domains.base import ModuleSpec, Task
    from ioa.domains.lesson import Lesson, StyleExample

    question = "Sam has 7 apples and buys 5 more, then gives 3 to Mia. How many apples does he have now?"
    spec = ModuleSpec("math/apples", "Apples", "count apples", (), 1)
    lesson = Lesson((), "small", "one step", (StyleExample(question, "", "9"),))
    domain = SimpleNamespace(modules=[spec], lesson=lambda module, level: lesson)
    probe = Task(spec.id, 0, question, "9", {})
    lengths, evidence = derive_lengths(domain, [probe], tokenizer, 8192, 10, LengthsConfig())
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    assert evidence["worked_solution_p95"] >= count(question) + count("Answer: 9")
    assert lengths.adapter_budget > count(question) and lengths.teacher_answer > 2 * count(question)


def test_a_short_context_caps_the_answer_and_a_prompt_that_fills_it_is_refused(tokenizer) -> None:
    (lengths, evidence), _, _ = _derive(tokenizer, "words", context=60)
    assert lengths.train_seq <= 60 and lengths.student_answer == 60 - evidence["longest_probe_prompt"] - 1
    with pytest.raises(ValueError, match="whole context"):
        _derive(tokenizer, "words", context=20)


def test_percentile_and_the_one_line_note() -> None:
    assert percentile([]) == 0 and percentile([5]) == 5 and percentile(list(range(1, 101))) == 95
    assert truncation_note({"student_answer": 1}, {"student_answer": 100}) is None  # 1% is tolerated
    note = truncation_note({"student_answer": 3, "train_seq": 0}, {"student_answer": 100, "train_seq": 50})
    assert note is not None and "student_answer cut 3 of 100" in note and "train_seq" not in note
    state = IOAState(lengths={"student_answer": 40}, usage={"truncated_student_answer": 5, "items_student_answer": 96})
    summary = lengths_summary(state)
    assert summary["caps"] == {"student_answer": 40} and summary["truncated"]["student_answer"] == 5
    assert summary["note"] and "5 of 96" in summary["note"]


def test_a_request_for_part_of_j_gets_its_share_of_the_synthesis_cap() -> None:
    from ioa.lengths import SLACK, synthesis_cap

    cap = 10 * 60 + 4 * SLACK  # J = 10 blocks of 60 tokens
    assert synthesis_cap(cap, 10, 10) == cap
    assert synthesis_cap(cap, 5, 10) == 5 * 60 + 4 * SLACK
    assert synthesis_cap(cap, 1, 10) == 60 + 4 * SLACK
    assert synthesis_cap(cap, 12, 10) == cap  # never above the run's cap


def test_teacher_completions_cut_at_their_cap_are_counted(tmp_path) -> None:
    """A reply that stops at max_tokens (finish reason "length") is counted into the run's lengths summary."""
    from fault_proxy import FakeOpenAIServer

    from ioa.config import TeacherConfig
    from ioa.teacher.client import ChatTeacher, build_chat_model
    from ioa.traces import Tracer

    long_reply = "answer: " + " ".join(["cats"] * 40)
    cfg = TeacherConfig(model="fake", max_concurrency=2, cache=False)
    with FakeOpenAIServer(lambda messages: long_reply, cut=True) as server:
        teacher = ChatTeacher(build_chat_model(cfg, server.url, None), cfg, Tracer(tmp_path / "traces.jsonl"))
        before = teacher.snapshot()
        teacher.run("answer_probe", [{"question": "q1"}], round=0, node="identify", max_tokens=10)
        teacher.run("answer_probe", [{"question": "q2"}], round=0, node="identify", max_tokens=100)
    usage = teacher.usage_since(before)
    summary = lengths_summary(IOAState(usage=usage))
    assert (summary["truncated"]["teacher"], summary["items"]["teacher"]) == (1, 2)
