"""One teacher interface: every teacher the graph, the bench and the tests use is a ``Teacher``, and ``run``'s
signature is written once, in the protocol."""

from __future__ import annotations

import inspect

import dspy
import pytest

from ioa.bench.oracle import OracleTeacher, TaskBook
from ioa.bench.trial import CappedTeacher
from ioa.domains import get_domain
from ioa.teacher import Teacher
from ioa.teacher.client import ChatTeacher
from ioa.teacher.protocol import Request


@pytest.mark.parametrize("implementation", [ChatTeacher, OracleTeacher, CappedTeacher])
def test_every_teacher_writes_answer_and_snapshot_and_shares_run(implementation: type) -> None:
    assert Teacher in implementation.__mro__  # declared, so a type checker holds it to the protocol
    for name in ("answer", "snapshot"):
        want = inspect.signature(getattr(Teacher, name))
        have = inspect.signature(getattr(implementation, name))
        assert list(have.parameters) == list(want.parameters), f"{implementation.__name__}.{name}"
    assert implementation.run is Teacher.run and implementation.usage_since is Teacher.usage_since


def test_run_hands_its_options_to_answer_as_one_request() -> None:
    class Recording(Teacher):
        def __init__(self) -> None:
            self.requests: list[Request] = []

        def answer(self, name, inputs, request):
            self.requests.append(request)
            return [dspy.Prediction(answer=name)] * len(inputs)

        def snapshot(self) -> dict[str, int]:
            return {"calls": len(self.requests)}

    teacher = Recording()
    before = teacher.snapshot()
    out = teacher.run("answer_probe", [{"question": "q"}] * 2, round=3, node="teach", max_tokens=8, draw="a1")
    assert [p.answer for p in out] == ["answer_probe"] * 2
    assert teacher.requests == [Request(round=3, node="teach", max_tokens=8, draw="a1")]
    assert teacher.usage_since(before) == {"teacher_calls": 1}


def test_a_capped_teacher_passes_every_option_through() -> None:
    book = TaskBook(get_domain("arithmetic", 0))
    task = book.exercises("arithmetic/addition", 0, 1, seed=0)[0]
    done: list[int] = []
    capped = CappedTeacher(OracleTeacher(book), budget=1)
    items = [{"skill": "add", "exercise": task.question}] * 2
    out = capped.run("worked_solution", items, round=1, node="teach", on_done=lambda: done.append(1))
    assert out[0] is not None and out[0].answer == task.answer and out[1] is None
    assert len(done) == 2 and capped.by_round == {1: 1} and capped.usage_since({}) == {"teacher_calls": 1}
