"""traces.jsonl: the teacher's prompts cut to the configured length, the planner's reasons and numbers, `ioa traces`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from langchain_core.language_models import FakeListChatModel

from ioa.agents.planner import plan_next_step
from ioa.agents.routes import batch_ready
from ioa.config import Config, TeacherConfig
from ioa.context import Services
from ioa.domains import get_domain
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.teacher.client import ChatTeacher
from ioa.traces import Tracer, read_traces

ADD, SUB = "arithmetic/addition", "arithmetic/subtraction"


def test_trace_length_is_a_config_field():
    assert Config().observability.trace_max_chars == 2000
    cfg = Config.model_validate({"observability": {"trace_max_chars": 40}})
    assert Tracer(None, cfg.observability.trace_max_chars).clip("x" * 100) == "x" * 40 + "... [60 more chars]"


def test_teacher_prompt_raw_output_and_parse_failures_are_traced_and_cut(tmp_path):
    tracer = Tracer(tmp_path / "traces.jsonl", max_text=60)
    long_answer = "steps: 3 + 4 = 7\nanswer: " + "7" * 200
    # One unlabelled line cannot fill two fields: a parse failure, then the re-ask parses.
    chat = FakeListChatModel(responses=["Sorry.", long_answer])
    teacher = ChatTeacher(chat, TeacherConfig(max_concurrency=1, parse_retries=1), tracer)
    item = {"skill": "add", "exercise": "What is 3 + 4?"}
    [pred] = teacher.run("worked_solution", [item], round=1, node="teach")
    assert pred is not None
    failed, ok = read_traces(tmp_path / "traces.jsonl")
    assert failed["kind"] == "parse_failure" and failed["agent"] == "teacher"
    assert ok["kind"] == "completion" and ok["summary"].endswith("(retry 1)")
    assert ok["prompt"].startswith("[system]") and ok["prompt"].endswith("more chars]")
    assert ok["inputs"] == item and failed["raw_output"] == "Sorry."
    assert ok["raw_output"].startswith("steps: 3 + 4") and ok["raw_output"].endswith("more chars]")
    assert len(ok["raw_output"]) < 100 and len(ok["prompt"]) < 100
    assert {"tokens", "latency_s", "program", "inputs", "outputs"} <= ok.keys()


def _services(tmp_path: Path, **overrides) -> Services:
    config = Config.model_validate(overrides)
    rd = RunDir.create(tmp_path / "run", config.to_yaml())
    return Services(
        config=config,
        run_dir=rd,
        domain=get_domain("arithmetic", 0),
        teacher=None,
        memory=None,
        tracer=Tracer(rd.traces),
        tokenizer_dir=tmp_path,
    )


def _scores(**p_student: float) -> dict:
    modules = [m.id for m in get_domain("arithmetic", 0).modules]
    return {
        "modules": modules,
        "p_teacher": dict.fromkeys(modules, 0.8),
        "p_student": {k: p_student.get(k.split("/")[1], 0.0) for k in modules},
    }


def test_gate_decisions_carry_reason_and_numbers(tmp_path):
    svc = _services(tmp_path, rules={"schedule": "stages"})
    state = IOAState(round=1, stages=[[ADD, SUB]], stage_index=0, remedial=0, **_scores(addition=0.8, subtraction=0.4))
    update = plan_next_step(state, SimpleNamespace(context=svc))
    assert update["next"] == "teach" and update["mode"] == "remedial" and update["focus"] == [SUB]
    [gate] = [e for e in read_traces(svc.run_dir.traces) if e["kind"] == "decision"]
    assert gate["decision"] == "remedial" and gate["weak"] == [SUB]
    assert gate["ratios"] == {ADD: 1.0, SUB: 0.5} and gate["min_ratio"] == 0.5
    assert gate["tau_mastery"] == 0.9 and gate["max_remedial"] == 5 and gate["remedial_rounds"] == 0
    assert "0.50 < 0.90" in gate["reason"]


def test_stuck_advance_and_budget_decisions_are_explained(tmp_path):
    svc = _services(tmp_path, rules={"schedule": "stages", "max_remedial": 1}, budget={"max_rounds": 3})
    stuck = IOAState(round=2, stages=[[SUB]], stage_index=0, remedial=1, **_scores(subtraction=0.1))
    update = plan_next_step(stuck, SimpleNamespace(context=svc))
    events = [e for e in read_traces(svc.run_dir.traces) if e["agent"] == "planner"]
    assert events[0]["decision"] == "stuck" and "stuck" in events[0]["reason"]
    assert events[1]["kind"] == "curriculum"  # the stage list is spent: re-plan without the stuck module
    assert update["stuck"] == [SUB] and SUB not in sum(update["stages"], [])
    assert events[-1]["decision"] in ("teach", "finish") and events[-1]["reason"]

    done = IOAState(round=3, stages=[[SUB]], **_scores())
    assert plan_next_step(done, SimpleNamespace(context=svc)) == {
        "next": "finish",
        "finish_reason": "round budget spent (3/3)",
    }
    finish = read_traces(svc.run_dir.traces)[-1]
    assert finish["decision"] == "finish" and finish["rounds"] == 3 and finish["max_rounds"] == 3
    assert finish["reason"] == "round budget spent (3/3)"


def test_batch_check_says_why(tmp_path):
    svc = _services(tmp_path, budget={"min_batch_per_module": 4, "max_teach_attempts": 2})
    runtime = SimpleNamespace(context=svc)
    two = ["capitals", "plural/regular"]
    assert batch_ready(IOAState(focus=two, batch_examples=5, teach_attempts=1), runtime) == "teach"
    assert batch_ready(IOAState(focus=two, batch_examples=5, teach_attempts=2), runtime) == "train"
    assert batch_ready(IOAState(focus=two, batch_examples=9, teach_attempts=1), runtime) == "train"
    assert batch_ready(IOAState(focus=["plural/es"], batch_examples=5, teach_attempts=1), runtime) == "train"
    reasons = [e["reason"] for e in read_traces(svc.run_dir.traces)]
    assert "only 5 of 8 examples" in reasons[0]
    assert "capped at 2" in reasons[1]
    assert "9 adapted examples reach the minimum batch of 8 (4 per module, 2 in focus)" in reasons[2]
    assert "5 adapted examples reach the minimum batch of 4 (4 per module, 1 in focus)" in reasons[3]


def _cli(*args: str) -> subprocess.CompletedProcess:
    # A wide console, so rich does not wrap the reason the table test looks for.
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ioa", "traces", *args], capture_output=True, text=True, env=env)


def test_traces_cli_json_table_and_filters(tmp_path):
    svc = _services(tmp_path, budget={"min_batch_per_module": 4})
    batch_ready(IOAState(round=1, focus=["capitals", "plural/regular"], batch_examples=3), SimpleNamespace(context=svc))
    svc.tracer.event(round=0, node="identify", agent="teacher", kind="parse_failure", summary="p: x", error="bad")
    run_dir = str(svc.run_dir.root)

    as_json = _cli(run_dir, "--json")
    assert as_json.returncode == 0
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["agent"] for e in events] == ["planner", "teacher"]

    planner = _cli(run_dir, "--agent", "planner", "--round", "2", "--json")
    assert [json.loads(line)["kind"] for line in planner.stdout.splitlines()] == ["batch_check"]
    assert _cli(run_dir, "--round", "5", "--json").stdout == ""

    table = _cli(run_dir)
    assert table.returncode == 0 and "2 events" in table.stdout
    assert "only 3 of 8 examples" in table.stdout  # the reason is shown under the summary

    bad = _cli(run_dir, "--agent", "nobody")
    assert bad.returncode == 2 and "unknown agent 'nobody'" in bad.stderr


def test_a_torn_last_line_costs_no_later_event(tmp_path):
    path = tmp_path / "traces.jsonl"
    Tracer(path).event(round=1, node="teach", agent="teacher", kind="completion", summary="kept")
    with path.open("a") as fh:
        fh.write('{"round": 1, "node": "tea')  # a process killed in the middle of a line
    Tracer(path).event(round=1, node="teach", agent="teacher", kind="completion", summary="after resume")
    assert [e["summary"] for e in read_traces(path)] == ["kept", "after resume"]
