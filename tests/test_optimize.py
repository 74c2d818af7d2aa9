"""`ioa optimize-prompts`: the metric, the split, the optimizers, save/load and swap-in, with a fake teacher.

The fake teacher is a LangChain chat model behind the project's own engine (ioa.teacher.client), so
prompts go through the same adapter, parsing and tracing as against a real endpoint.
"""

from __future__ import annotations

import json
import re

import dspy
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from typer.testing import CliRunner

from ioa import optimize
from ioa.cli import app
from ioa.config import Config, TeacherConfig, load_config
from ioa.domains import get_domain
from ioa.errors import UsageError
from ioa.optimize import (
    TeachingMetric,
    calibration,
    command,
    draw_split,
    format_result,
    optimize_prompts,
    student_success,
    teaching_score,
    to_examples,
)
from ioa.optimize.metric import stream_seed
from ioa.teacher.client import ChatTeacher
from ioa.teacher.signatures import WriteWorkedSolution
from ioa.traces import Tracer, read_traces

SMALL = [
    "domain.name=arithmetic",  # the exercises these tests optimize on are arithmetic, scored by reasoning-gym
    "optimize.train_size=6",
    "optimize.dev_size=4",
    "optimize.student_exercises=2",
    "teacher.max_concurrency=1",
]
NEW_INSTRUCTION = "Solve it in tiny steps and finish with the number alone."


class SolverChat(BaseChatModel):
    """A fake teacher: solves every other exercise it knows, and proposes an instruction that makes it solve all."""

    answers: dict[str, str]
    requests: list[str] = []

    def solves(self, question: str) -> bool:
        return sorted(self.answers).index(question) % 2 == 0

    @property
    def _llm_type(self) -> str:
        return "solver-fake"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        system, last = str(messages[0].content), str(messages[-1].content)
        self.requests.append(last)
        asked = re.findall(r"^(?:exercise|question): (.*)$", last, re.M)
        if asked and asked[-1] in self.answers:
            # The proposed instruction really helps this teacher: with it, it solves everything.
            right = NEW_INSTRUCTION in system or self.solves(asked[-1])
            text = f"steps: I work it out.\nanswer: {self.answers[asked[-1]] if right else 'wrong'}"
        else:  # an optimizer's proposer (MIPROv2) or reflection (GEPA) asking for an instruction
            label = re.search(r"Reply in exactly this form:\n([\w ]+):", system).group(1)
            text = f"{label}: {NEW_INSTRUCTION}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


@pytest.fixture(autouse=True)
def reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


@pytest.fixture
def cfg() -> Config:
    return load_config(None, SMALL, environ={})


def solver_for(cfg: Config) -> SolverChat:
    domain = get_domain(cfg.domain.name, cfg.domain.seed)
    train, dev = draw_split(domain, cfg.optimize)
    return SolverChat(answers={t.question: t.answer for t in train + dev}, requests=[])


def clueless(questions: list[str]) -> list[str]:
    """A fake student that knows nothing: every level scores 0."""
    return ["no idea"] * len(questions)


# --- the metric --------------------------------------------------------------------------------


def test_calibration_peaks_at_the_zpd_target():
    assert calibration(0.5, 0.5) == 1.0
    assert calibration(0.0, 0.5) == calibration(1.0, 0.5) == 0.0
    assert calibration(0.25, 0.5) == pytest.approx(0.5)
    # An off-centre target falls to 0 only at the farther end.
    assert calibration(0.0, 0.7) == 0.0 and calibration(1.0, 0.7) == pytest.approx(1 - 0.3 / 0.7)


def test_teaching_score_needs_verification_and_rewards_zpd_difficulty():
    assert teaching_score(0.0, 0.5, 0.5, 0.7) == 0.0
    assert teaching_score(1.0, 0.5, 0.5, 0.7) == 1.0
    assert teaching_score(1.0, 0.0, 0.5, 0.7) == pytest.approx(0.7)
    assert teaching_score(1.0, 0.25, 0.5, 0.7) == pytest.approx(0.85)
    assert teaching_score(1.0, None, 0.5, 0.7) == 1.0  # nothing to calibrate: verification alone


def test_metric_checks_the_answer_with_the_domain_and_explains_itself(cfg):
    domain = get_domain("arithmetic", 0)
    [task] = domain.exercises("arithmetic/addition", 0, 1, seed=3)
    [gold] = to_examples([task], domain, "worked_solution")
    metric = TeachingMetric(domain, {(task.module, task.level): 0.25}, target=0.5, verify_weight=0.7)
    right = dspy.Prediction(steps="...", answer=f"The answer is {task.answer}.")
    assert metric(gold, right) == pytest.approx(0.85)
    assert metric(gold, dspy.Prediction(steps="...", answer="-999")) == 0.0
    assert metric(gold, None) == 0.0
    fb = metric.with_feedback(gold, dspy.Prediction(steps="", answer="-999"))
    assert fb.score == 0.0 and "Wrong" in fb.feedback and "25%" in fb.feedback


def test_student_success_per_module_and_level():
    domain = get_domain("arithmetic", 0)
    pairs = {("arithmetic/addition", 0), ("arithmetic/addition", 1)}
    # The student's exercises come from their own seed stream; this fake knows level 0's by heart.
    known = domain.exercises("arithmetic/addition", 0, 3, stream_seed(1, "student", "arithmetic/addition", 0))
    answers = {t.question: t.answer for t in known}

    def knows_level_0(questions):
        return [answers.get(q, "no idea") for q in questions]

    rates = student_success(domain, knows_level_0, pairs, 3, seed=1)
    assert rates == {("arithmetic/addition", 0): 1.0, ("arithmetic/addition", 1): 0.0}


# --- the data ----------------------------------------------------------------------------------


def test_split_is_seeded_disjoint_and_never_uses_probes(cfg):
    domain = get_domain("arithmetic", 0)
    train, dev = draw_split(domain, cfg.optimize)
    assert (len(train), len(dev)) == (6, 4)
    assert not {t.question for t in train} & {t.question for t in dev}
    assert not any(domain.is_probe_question(t.question) for t in train + dev)
    probes = {p.question for m in domain.modules for p in domain.probes(m.id, cfg.domain.probes_per_module, 0)}
    assert not probes & {t.question for t in train + dev}
    assert (train, dev) == draw_split(domain, cfg.optimize)
    other = cfg.optimize.model_copy(update={"split_seed": 1})
    assert draw_split(domain, other) != (train, dev)


# --- compiling, saving, swapping in ------------------------------------------------------------


def test_bootstrap_saves_json_state_that_a_teacher_loads(cfg, tmp_path):
    out = tmp_path / "worked.json"
    chat = solver_for(cfg)
    result = optimize_prompts(cfg, "worked_solution", "bootstrap", out, budget=6, chat=chat, answer=clueless)
    state = json.loads(out.read_text())  # JSON, never a pickle
    assert state["lm"] is None and state["demos"] and len(state["demos"]) == result.demos <= 4
    assert all(d["answer"] and d["exercise"] for d in state["demos"])
    # Bootstrapped demos are the teacher's own verified solutions.
    domain = get_domain("arithmetic", 0)
    train, _ = draw_split(domain, cfg.optimize)
    by_question = {t.question: t for t in train}
    assert all(domain.score(by_question[d["exercise"]], d["answer"]) == 1.0 for d in state["demos"])
    # The fake solves the same exercises with or without demos: the score is the checker's, not a constant.
    _, dev = draw_split(domain, cfg.optimize)
    solved = sum(chat.solves(t.question) for t in dev)
    assert 0 < solved < 4
    assert result.before.n == result.after.n == 4
    assert result.before.verified == result.after.verified == solved
    assert result.dev_calibration == 0.0  # the fake student never succeeds: far from the ZPD target
    assert result.before.metric == pytest.approx(0.7 * solved / 4)
    assert result.teacher_calls >= 4 + 4
    saved = json.loads((tmp_path / "worked.optimize" / "result.json").read_text())
    assert saved["after"]["verified"] == solved and saved["out"] == str(out)
    program = dspy.Predict(WriteWorkedSolution)
    program.load(str(out))
    assert len(program.demos) == result.demos and program.lm is None


def test_after_scores_run_through_the_swapped_in_file_and_show_in_traces(cfg, tmp_path):
    out = tmp_path / "worked.json"
    optimize_prompts(cfg, "worked_solution", "bootstrap", out, budget=6, chat=solver_for(cfg), answer=clueless)
    demo = json.loads(out.read_text())["demos"][0]
    events = read_traces(tmp_path / "worked.optimize" / "traces.jsonl")
    after = [e for e in events if e["node"] == "optimize_after"]
    before = [e for e in events if e["node"] == "optimize_before"]
    assert len(after) == len(before) == 4
    assert all(demo["exercise"] in e["prompt"] for e in after)
    assert not any(demo["exercise"] in e["prompt"] for e in before)


def test_swapped_in_program_shows_its_instructions_and_demos_in_the_run_traces(tmp_path):
    program = dspy.Predict(WriteWorkedSolution)
    program.signature = program.signature.with_instructions(NEW_INSTRUCTION)
    program.demos = [dspy.Example(skill="add", exercise="What is 2 + 5?", steps="2 + 5 = 7", answer="7")]
    path = tmp_path / "worked.json"
    program.save(str(path))
    cfg = load_config(None, ["domain.name=arithmetic", f"teacher.programs.worked_solution={path}"], environ={})
    chat = SolverChat(answers={"What is 3 + 4?": "7"}, requests=[])
    teacher = ChatTeacher(chat, cfg.teacher, Tracer(tmp_path / "traces.jsonl"))
    [pred] = teacher.run("worked_solution", [{"skill": "add", "exercise": "What is 3 + 4?"}], round=1, node="teach")
    assert pred.answer == "7"
    [event] = read_traces(tmp_path / "traces.jsonl")
    assert NEW_INSTRUCTION in event["prompt"]
    assert "exercise: What is 2 + 5?" in event["prompt"] and "answer: 7" in event["prompt"]


def test_unknown_program_in_config_is_refused(tmp_path):
    with pytest.raises(UsageError, match="unknown program 'worked'"):
        ChatTeacher(SolverChat(answers={}), TeacherConfig(programs={"worked": str(tmp_path / "x.json")}))


@pytest.mark.parametrize("optimizer", ["mipro", "gepa"])
def test_instruction_optimizers_adopt_an_instruction_that_helps(cfg, tmp_path, optimizer):
    out = tmp_path / f"{optimizer}.json"
    chat = solver_for(cfg)
    result = optimize_prompts(cfg, "worked_solution", optimizer, out, budget=12, chat=chat, answer=clueless)
    assert result.instructions_changed and NEW_INSTRUCTION in result.instructions
    assert json.loads(out.read_text())["signature"]["instructions"] == result.instructions
    assert result.before.verified < result.after.verified == 4


def test_answer_probe_is_scored_by_verification_alone(cfg, tmp_path):
    def no_student(questions):
        raise AssertionError("answer_probe must not measure the student")

    out = tmp_path / "probe.json"
    result = optimize_prompts(cfg, "answer_probe", "bootstrap", out, budget=4, chat=solver_for(cfg), answer=no_student)
    assert result.dev_calibration is None
    assert result.before.metric == pytest.approx(result.before.pass_rate)


@pytest.mark.parametrize(
    ("program", "optimizer", "out", "message"),
    [
        ("rewrite_solution", "bootstrap", "x.json", "cannot be optimized"),
        ("worked_solution", "copro", "x.json", "unknown optimizer"),
        ("worked_solution", "bootstrap", "x.pkl", "must be a .json"),
    ],
)
def test_bad_arguments_are_usage_errors(cfg, tmp_path, program, optimizer, out, message):
    with pytest.raises(UsageError, match=message):
        optimize_prompts(cfg, program, optimizer, tmp_path / out, chat=solver_for(cfg))


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_prints_before_and_after_and_saves(cfg, tmp_path, monkeypatch):
    from contextlib import contextmanager

    @contextmanager
    def fake_endpoint(config, work, progress):
        assert config.optimize.dev_size == 4 and work == tmp_path / "w.optimize"
        yield solver_for(config)

    monkeypatch.setattr(command, "_endpoint_chat", fake_endpoint)
    monkeypatch.setattr(command, "_student_answerer", lambda config, domain, tasks: clueless)
    args = ["optimize-prompts", "--program", "worked_solution", "--optimizer", "bootstrap", "--budget", "4"]
    args += ["--out", str(tmp_path / "w.json"), "--quiet"] + [x for s in SMALL for x in ("--set", s)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"before: verified \d/4 \(0\.\d\d\), metric 0\.\d+", result.output)
    assert re.search(r"after:  verified \d/4", result.output)
    assert f"--set teacher.programs.worked_solution={tmp_path / 'w.json'}" in result.output
    assert json.loads((tmp_path / "w.json").read_text())["signature"]["instructions"]


def test_cli_refuses_an_unknown_optimizer_with_exit_2(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "ioa", "optimize-prompts", "--optimizer", "nope", "--out", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "ioa: error: unknown optimizer 'nope'; choose one of: bootstrap, mipro, gepa"
    )


def test_format_result_reports_both_scores():
    r = optimize.OptimizeResult(
        "worked_solution",
        "bootstrap",
        8,
        "w.json",
        optimize.Scores(12, 3, 0.2),
        optimize.Scores(12, 6, 0.4),
        0.5,
        2,
        "x",
        False,
        40,
        1.0,
    )
    text = format_result(r)
    assert "before: verified 3/12 (0.25), metric 0.200" in text and "after:  verified 6/12 (0.50)" in text


def test_optimizing_again_starts_from_the_configured_program(tmp_path):
    first = dspy.Predict(WriteWorkedSolution)
    first.signature = first.signature.with_instructions(NEW_INSTRUCTION)
    start = tmp_path / "first.json"
    first.save(str(start))
    cfg = load_config(None, [*SMALL, f"teacher.programs.worked_solution={start}"], environ={})
    out = tmp_path / "second.json"
    result = optimize_prompts(cfg, "worked_solution", "bootstrap", out, budget=4, chat=solver_for(cfg), answer=clueless)
    assert result.instructions == NEW_INSTRUCTION and result.instructions_changed
    # The fake solves everything under this instruction, before and after.
    assert result.before.verified == result.after.verified == 4
