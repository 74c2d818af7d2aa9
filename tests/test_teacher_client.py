"""The teacher client with LangChain's fake chat model: parsing, repair, drops and accounting."""

from __future__ import annotations

import json

import dspy
from langchain_core.language_models import FakeListChatModel

from ioa.config import TeacherConfig
from ioa.teacher.client import ChatTeacher
from ioa.teacher.ledger import teacher_summary
from ioa.teacher.prompt_format import PlainAdapter
from ioa.teacher.signatures import AnswerProbe, WriteWorkedSolution
from ioa.traces import Tracer, read_traces


def make_teacher(responses, tmp_path, **cfg):
    chat = FakeListChatModel(responses=responses)
    return ChatTeacher(chat, TeacherConfig(max_concurrency=1, **cfg), Tracer(tmp_path / "traces.jsonl"))


def test_labelled_answers_parse(tmp_path):
    teacher = make_teacher(["steps: 3 + 4 = 7\nanswer: 7"], tmp_path)
    [pred] = teacher.run("worked_solution", [{"skill": "add", "exercise": "What is 3 + 4?"}], round=1, node="teach")
    assert pred.steps == "3 + 4 = 7" and pred.answer == "7"
    assert teacher.stats.calls == 1 and teacher.stats.dropped == 0 and teacher.stats.repaired == 0


def test_chatty_answer_is_repaired(tmp_path):
    teacher = make_teacher(["Let me add.\n3 + 4 = 7\n\nSo, the answer is 7."], tmp_path)
    [pred] = teacher.run("worked_solution", [{"skill": "add", "exercise": "What is 3 + 4?"}], round=1, node="teach")
    assert pred.answer == "7." and "3 + 4 = 7" in pred.steps
    assert teacher.stats.repaired == 1  # the steps had no label


def test_single_field_unlabelled_text_fills_it(tmp_path):
    teacher = make_teacher(["12"], tmp_path)
    [pred] = teacher.run("answer_probe", [{"question": "What is 5 + 7?"}], round=0, node="identify")
    assert pred.answer == "12"


def test_unparseable_answer_is_retried_then_dropped_and_counted(tmp_path):
    # One unlabelled line that derives nothing (no "=" or "is") cannot fill two fields (steps and answer).
    teacher = make_teacher(["I cannot help with that.", "Sorry."], tmp_path, parse_retries=1)
    out = teacher.run("worked_solution", [{"skill": "add", "exercise": "What is 1 + 1?"}], round=1, node="teach")
    assert out == [None]
    assert teacher.stats.parse_failures == 2 and teacher.stats.dropped == 1 and teacher.stats.calls == 2
    assert teacher.stats.repaired == 0
    events = read_traces(tmp_path / "traces.jsonl")
    assert [e["kind"] for e in events] == ["parse_failure", "parse_failure"]
    assert all(e["agent"] == "teacher" and e["node"] == "teach" and e["round"] == 1 for e in events)


def test_every_call_is_traced_with_prompt_output_and_latency(tmp_path):
    teacher = make_teacher(["answer: 4"], tmp_path)
    teacher.run("answer_probe", [{"question": "What is 2 + 2?"}], round=0, node="identify")
    [event] = read_traces(tmp_path / "traces.jsonl")
    assert event["kind"] == "completion"
    assert "What is 2 + 2?" in event["prompt"] and event["raw_output"] == "answer: 4"
    assert event["latency_s"] >= 0 and event["program"] == "answer_probe"


def test_plain_adapter_prompt_is_short_and_labelled():
    messages = PlainAdapter().format(AnswerProbe, [], {"question": "What is 2 + 2?"})
    assert messages[0]["role"] == "system" and "answer: <" in messages[0]["content"]
    assert messages[-1]["content"] == "question: What is 2 + 2?"
    assert "[[ ##" not in json.dumps(messages)


def test_optimized_program_file_is_swapped_in(tmp_path):
    program = dspy.Predict(WriteWorkedSolution)
    program.signature = program.signature.with_instructions("OPTIMIZED: teach like a tutor.")
    path = tmp_path / "worked.json"
    program.save(str(path))
    teacher = make_teacher(["steps: x\nanswer: 1"], tmp_path, programs={"worked_solution": str(path)})
    assert teacher.instructions("worked_solution") == "OPTIMIZED: teach like a tutor."


def test_unlabelled_two_field_answer_splits_body_and_last_line(tmp_path):
    teacher = make_teacher(["First add the ones.\n3 + 4 = 7\n7"], tmp_path)
    [pred] = teacher.run("worked_solution", [{"skill": "add", "exercise": "What is 3 + 4?"}], round=1, node="teach")
    assert pred.steps == "First add the ones.\n3 + 4 = 7" and pred.answer == "7"


def test_one_line_worked_solution_is_repaired_counted_and_traced(tmp_path):
    # What the embedded 135M teacher writes; the first reply derives nothing and is asked again.
    teacher = make_teacher(["Sorry.", "25% of 80 is 0.25 * 80 = 20."], tmp_path, parse_retries=1)
    item = {"skill": "percent", "exercise": "What is 25% of 80?"}
    [pred] = teacher.run("worked_solution", [item], round=1, node="teach")
    assert pred.steps == "25% of 80 is 0.25 * 80 = 20." and pred.answer == "20"
    assert teacher.stats.parse_failures == 1 and teacher.stats.repaired == 1 and teacher.stats.dropped == 0
    events = read_traces(tmp_path / "traces.jsonl")
    assert [(e["kind"], e["repair"]) for e in events] == [("parse_failure", None), ("completion", "derivation")]
    summary = teacher_summary(events, TeacherConfig())
    assert summary["repaired"] == {"derivation": 1} and summary["parse_failures"] == 1 and summary["dropped"] == 0
