"""Honest module states: beyond_teacher is never mastered, forgetting is caught and acted on, empty modules are set
aside, and a run with nothing to teach says so."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from ioa import rules
from ioa.agents.diagnostician import forgotten
from ioa.agents.planner import plan_next_step
from ioa.config import Config
from ioa.context import Services
from ioa.domains import get_domain
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.student_train.node import replay_priority
from ioa.traces import Tracer, read_traces

REG, ES, IES, CAP = "plural/regular", "plural/es", "plural/ies", "capitals"
MODULES = [m.id for m in get_domain("words", 0).modules]


@pytest.mark.parametrize(
    ("p_t", "p_s", "forgot", "stuck", "state"),
    [
        (0.0, 0.0, False, False, "beyond_teacher"),  # a teacher scoring 0 makes no master
        (0.25, 0.25, False, False, "beyond_teacher"),  # below the floor, even at P_S = P_T
        (0.8, 0.8, True, False, "mastered"),
        (0.8, 0.4, True, False, "forgotten"),
        (0.8, 0.4, False, True, "stuck"),
        (0.8, 0.4, False, False, "unmastered"),
    ],
)
def test_module_state(p_t, p_s, forgot, stuck, state) -> None:
    got = rules.module_state(p_t, p_s, tau_mastery=0.9, teacher_floor=0.5, forgot=forgot, stuck=stuck)
    assert got == state


def test_forgetting_is_falling_below_the_gate_where_it_was_passed() -> None:
    state = IOAState(modules=[REG, ES, CAP], passed={REG: 0, ES: 1}, mastery=[{CAP: "mastered"}])
    # Regular plurals passed at level 0 and still pass there; -es passed at level 1 and no longer does;
    # capitals were mastered at an earlier diagnosis.
    levels = {REG: [1.0, 0.2, 0.0], ES: [1.0, 0.5, 0.0], CAP: [0.3, 0.0, 0.0]}
    assert forgotten(state, levels, tau=0.9) == {ES, CAP}


def _services(tmp_path, **sections) -> Services:
    return Services(
        config=Config.model_validate({"rules": {"schedule": "stages"}, **sections}),
        run_dir=RunDir(tmp_path),
        domain=get_domain("words", 0),
        teacher=None,  # type: ignore[arg-type]  # the planner never calls the teacher
        memory=None,  # type: ignore[arg-type]
        tracer=Tracer(tmp_path / "traces.jsonl"),
        tokenizer_dir=tmp_path,
    )


def _state(p_teacher: dict[str, float], verdicts: dict[str, str], **fields) -> IOAState:
    p_t = {**dict.fromkeys(MODULES, 0.0), **p_teacher}
    return IOAState(
        modules=MODULES,
        p_teacher=p_t,
        p_student=dict.fromkeys(MODULES, 0.0),
        p_student_initial=dict.fromkeys(MODULES, 0.0),
        history=[dict.fromkeys(MODULES, 0.0)],
        mastery=[{**dict.fromkeys(MODULES, "beyond_teacher"), **verdicts}],
        **fields,
    )


def _decisions(tmp_path) -> list[dict]:
    return [e for e in read_traces(tmp_path / "traces.jsonl") if e["kind"] == "decision"]


def test_a_teacher_below_the_floor_everywhere_leaves_nothing_to_teach(tmp_path) -> None:
    update = plan_next_step(_state({REG: 0.25}, {}), SimpleNamespace(context=_services(tmp_path)))
    assert update["next"] == "finish"
    assert update["finish_reason"] == "the teacher scores below the floor (0.5) on every module: nothing to teach"
    assert _decisions(tmp_path)[-1]["decision"] == "finish"


def test_beyond_teacher_modules_are_never_in_a_curriculum(tmp_path) -> None:
    state = _state({REG: 0.75, CAP: 0.8}, {REG: "unmastered", CAP: "unmastered"})
    update = plan_next_step(state, SimpleNamespace(context=_services(tmp_path, rules={"target_fraction": 1.0})))
    assert update["next"] == "teach" and set(update["focus"]) <= {REG, CAP}
    assert not set(sum(update["stages"], [])) - {REG, CAP}


def test_a_forgotten_module_is_brought_back_remedial_with_its_numbers(tmp_path) -> None:
    state = _state(
        {REG: 0.75, CAP: 0.8},
        {REG: "unmastered", CAP: "forgotten"},
        round=2,  # within budget.max_rounds (3)
        passed={CAP: 0},
        level_ratios={CAP: [0.5, 0.0, 0.0]},
    )
    update = plan_next_step(state, SimpleNamespace(context=_services(tmp_path)))
    assert CAP in update["focus"] and update["modes"][CAP] == "remedial"
    back = next(d for d in _decisions(tmp_path) if d["decision"] == "bring_back")
    assert back["module"] == CAP and back["passed_level"] == 0 and back["ratio_at_level"] == 0.5


@pytest.mark.parametrize("recorded_by", ["adapter", "teacher"])
def test_a_module_with_nothing_kept_round_after_round_is_set_aside(tmp_path, recorded_by) -> None:
    empty = [{"round": r, "module": REG, "kept": 0, "verified": 0} for r in (1, 2)]
    # A teacher that returned nothing at all leaves only its own records (no adapter record): empty as well.
    unanswered = [{"round": r, "module": REG, "requests": 4, "asked": 20, "parsed": 0} for r in (1, 2)]
    synthesis = empty if recorded_by == "adapter" else unanswered
    state = _state({REG: 0.75, CAP: 0.8}, {REG: "unmastered", CAP: "unmastered"}, round=2, synthesis=synthesis)
    update = plan_next_step(state, SimpleNamespace(context=_services(tmp_path)))
    assert update["set_aside"] == [REG] and REG not in update["focus"]
    aside = next(d for d in _decisions(tmp_path) if d["decision"] == "set_aside")
    assert aside["module"] == REG and aside["rounds"] == [1, 2]


def test_replay_favours_forgotten_then_newly_mastered_modules() -> None:
    state = IOAState(
        mastery=[
            {REG: "mastered", ES: "unmastered", IES: "mastered", CAP: "unmastered"},
            {REG: "mastered", ES: "mastered", IES: "forgotten", CAP: "unmastered"},
        ]
    )
    assert replay_priority(state) == [{IES}, {ES}, {REG}]


def test_a_run_that_taught_nothing_exits_3_with_its_reason(monkeypatch, capsys) -> None:
    """The console script's exit code, not only the command's: `ioa run` must exit 3 and say why in one line."""
    import ioa.graph.runner as runner
    from ioa import cli

    summary = {
        "status": "completed",
        "rounds": 0,
        "modules": [{"id": "m", "mastered": False, "state": "beyond_teacher"}],
        "teacher": {"calls": 4},
        "elapsed_s": 1.0,
        "taught": False,
        "finish_reason": "the teacher scores below the floor (0.5) on every module: nothing to teach",
    }
    monkeypatch.setattr(runner, "run", lambda cfg, run_dir, progress: summary)
    monkeypatch.setattr(sys, "argv", ["ioa", "run", "--quiet"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == cli.NOTHING_TAUGHT == 3
    out = capsys.readouterr()
    assert "mastered 0/0 modules the teacher knows (1 beyond the teacher)" in out.out
    assert out.err.strip().splitlines() == [f"ioa: nothing was taught: {summary['finish_reason']}"]
