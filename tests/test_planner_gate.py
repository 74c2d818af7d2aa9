"""The planner's mastery gate: checked at the level a stage taught, not over all levels; a stage climbs one notch at
a time until its modules are mastered; and the frontier schedule."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from ioa.agents.planner import plan_next_step
from ioa.config import Config
from ioa.context import Services
from ioa.domains import get_domain
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.traces import Tracer, read_traces

ADD, SUB = "arithmetic/addition", "arithmetic/subtraction"


def _stages(**rules) -> Config:
    """docs/design.md §5's schedule: one gated stage at a time."""
    return Config.model_validate({"rules": {"schedule": "stages", **rules}})


def _plan(tmp_path, state: IOAState, config: Config | None = None) -> tuple[dict, list[dict]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    svc = Services(
        config=config or _stages(),
        run_dir=RunDir(tmp_path),
        domain=get_domain("arithmetic", 0),
        teacher=None,  # type: ignore[arg-type]  # the planner never calls the teacher
        memory=None,  # type: ignore[arg-type]
        tracer=Tracer(tmp_path / "traces.jsonl"),
        tokenizer_dir=tmp_path,
    )
    update = plan_next_step(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    return update, [e for e in read_traces(tmp_path / "traces.jsonl") if e["kind"] == "decision"]


def _taught_addition_at_level_0(level_ratios: list[float]) -> IOAState:
    """Stage 0 (addition at level 0) was just taught; P_S over all levels is a third of P_T's."""
    modules = [m.id for m in get_domain("arithmetic", 0).modules]
    p_teacher = dict.fromkeys(modules, 0.5)
    p_student = {**dict.fromkeys(modules, 0.0), ADD: 1 / 6}
    return IOAState(
        round=1,
        modules=modules,
        p_teacher=p_teacher,
        p_student=p_student,
        p_student_initial=dict.fromkeys(modules, 0.0),
        history=[dict.fromkeys(modules, 0.0), p_student],
        levels={ADD: 0 if level_ratios[0] >= 0.9 else -1},
        level_ratios={ADD: level_ratios},
        edges=[(ADD, SUB)],
        stages=[[ADD], [SUB]],
        stage_index=0,
        stage_levels={ADD: 0},
        focus=[ADD],
    )


def test_a_stage_that_passes_its_level_climbs_one_notch_before_the_curriculum_moves_on(tmp_path) -> None:
    update, decisions = _plan(tmp_path, _taught_addition_at_level_0([1.0, 0.0, 0.0]))
    gate, teach = decisions
    assert gate["decision"] == "advance"
    assert gate["ratios"] == {ADD: 1.0} and gate["overall_ratios"] == {ADD: round(1 / 3, 4)}
    # Addition is not mastered over its levels: the same stage goes on one notch up, bridging from what was just
    # mastered; addition is recorded as passed at level 0, so falling below it is forgetting.
    assert (update["mode"], update["focus"], update["stage_index"]) == ("bridging", [ADD], 0)
    assert update["stage_levels"] == {ADD: 1} and update["modes"] == {ADD: "bridging"}
    assert update["passed"] == {ADD: 0}
    assert teach["decision"] == "teach" and "climb one notch" in teach["reason"]


def test_a_stage_mastered_over_its_levels_or_at_its_top_level_advances_to_the_next(tmp_path) -> None:
    mastered = dataclasses.replace(
        _taught_addition_at_level_0([1.0, 0.0, 0.0]),
        p_student={**_taught_addition_at_level_0([1.0]).p_student, ADD: 0.5},
    )
    at_top = dataclasses.replace(_taught_addition_at_level_0([1.0, 1.0, 1.0]), stage_levels={ADD: 2}, levels={ADD: 2})
    for name, state in (("mastered", mastered), ("top", at_top)):
        update, decisions = _plan(tmp_path / name, state)
        assert decisions[0]["decision"] == "advance"
        assert (update["mode"], update["focus"], update["stage_index"]) == ("bridging", [SUB], 1)
        assert update["stage_levels"] == {SUB: 0} and update["modes"] == {SUB: "bridging"}


def test_a_stage_below_mastery_at_its_level_gets_a_remedial_round(tmp_path) -> None:
    update, decisions = _plan(tmp_path, _taught_addition_at_level_0([0.5, 0.0, 0.0]))
    assert decisions[0]["decision"] == "remedial" and decisions[0]["ratios"] == {ADD: 0.5}
    assert (update["mode"], update["focus"], update["remedial"]) == ("remedial", [ADD], 1)
    assert "stage_levels" not in update  # a remedial round keeps the stage's level


def test_a_stage_still_below_mastery_at_the_remedial_cap_is_stuck_and_the_next_stage_is_taught(tmp_path) -> None:
    capped = dataclasses.replace(_taught_addition_at_level_0([0.5, 0.0, 0.0]), remedial=5)
    update, decisions = _plan(tmp_path, capped)
    assert decisions[0]["decision"] == "stuck" and decisions[0]["remedial_rounds"] == 5
    assert update["stuck"] == [ADD] and (update["mode"], update["focus"], update["stage_index"]) == ("new", [SUB], 1)


def test_a_module_that_passed_its_level_is_taught_the_next_level_when_it_comes_back(tmp_path) -> None:
    state = dataclasses.replace(
        _taught_addition_at_level_0([1.0, 0.0, 0.0]), stages=[[SUB]], stage_levels={SUB: 2}, focus=[SUB]
    )
    state = dataclasses.replace(state, level_ratios={**state.level_ratios, SUB: [1.0, 1.0, 1.0]}, levels={ADD: 0})
    update, _ = _plan(tmp_path, state)
    # Subtraction passed at its top level, so the curriculum is re-planned: its first stage holds the top targets
    # (addition again, and chain sums); addition is now taught at level 1, chain sums at its first level.
    assert update["focus"] == [ADD, "arithmetic/chain_sum"]
    assert update["stage_levels"] == {ADD: 1, "arithmetic/chain_sum": 0}


def _only_subtraction_left_and_stuck() -> IOAState:
    """Every module but subtraction is mastered; subtraction was recorded stuck in an earlier stage."""
    modules = [m.id for m in get_domain("arithmetic", 0).modules]
    p_teacher = dict.fromkeys(modules, 0.5)
    p_student = {**p_teacher, SUB: 0.0}
    return IOAState(
        round=2,  # within budget.max_rounds (3)
        modules=modules,
        p_teacher=p_teacher,
        p_student=p_student,
        p_student_initial=dict.fromkeys(modules, 0.0),
        history=[p_student],
        edges=[(ADD, SUB)],
        stuck=[SUB],
    )


def test_stuck_modules_get_another_turn_when_nothing_else_is_left(tmp_path) -> None:
    update, decisions = _plan(tmp_path, _only_subtraction_left_and_stuck())
    assert [d["decision"] for d in decisions] == ["retry_stuck", "teach"]
    assert decisions[0]["stuck"] == [SUB]
    assert update["next"] == "teach" and update["focus"] == [SUB] and update["stage_levels"] == {SUB: 0}


def test_without_retry_the_run_finishes_with_the_stuck_module_untaught(tmp_path) -> None:
    config = _stages(retry_stuck=False)
    update, decisions = _plan(tmp_path, _only_subtraction_left_and_stuck(), config)
    assert update["next"] == "finish"
    assert decisions[-1]["reason"] == "no deficient module left to teach"


MUL, CHAIN, GCD, WEEKDAY = (
    "arithmetic/multiplication",
    "arithmetic/chain_sum",
    "number_theory/gcd",
    "calendar/weekday_offset",
)
FRONTIER = Config.model_validate({"rules": {"schedule": "frontier"}})


def _frontier_state(levels: dict[str, int], introduced: list[str]) -> IOAState:
    """Nothing mastered; the domain's own prerequisite edges; the student placed at ``levels``."""
    domain = get_domain("arithmetic", 0)
    modules = [m.id for m in domain.modules]
    p_student = dict.fromkeys(modules, 0.0)
    return IOAState(
        round=2,
        modules=modules,
        p_teacher=dict.fromkeys(modules, 1.0),
        p_student=p_student,
        history=[p_student, p_student],
        levels=levels,
        edges=[(p, m.id) for m in domain.modules for p in m.prerequisites],
        introduced=introduced,
    )


def test_the_frontier_opens_a_module_once_each_prerequisite_passed_its_easiest_level_or_was_taught(tmp_path) -> None:
    update, (decision,) = _plan(tmp_path, _frontier_state({ADD: 0}, introduced=[ADD, SUB]), FRONTIER)
    # Addition passed the gate at level 0 and subtraction has been taught; multiplication has neither.
    assert update["focus"] == [ADD, MUL, SUB, CHAIN, WEEKDAY]  # in the curriculum's stage order
    assert update["introduced"] == [MUL, CHAIN, WEEKDAY]
    assert decision["blocked"] == {
        "arithmetic/mixed_operations": [CHAIN, MUL],
        GCD: [MUL],
        "word_problems/leg_counting": [MUL],
    }
    # Each module one level above the one it passed the gate at: nothing is dropped, nothing skips a level.
    assert update["stage_levels"] == {ADD: 1, SUB: 0, MUL: 0, CHAIN: 0, WEEKDAY: 0}


def test_the_first_frontier_is_the_modules_without_unready_prerequisites(tmp_path) -> None:
    update, _ = _plan(tmp_path, _frontier_state({}, introduced=[]), FRONTIER)
    assert update["focus"] == [ADD] and update["introduced"] == [ADD]


def test_the_frontier_finishes_when_every_module_is_mastered(tmp_path) -> None:
    state = _frontier_state({}, introduced=[])
    done = dataclasses.replace(state, p_student=dict.fromkeys(state.modules, 1.0))
    update, (decision,) = _plan(tmp_path, done, FRONTIER)
    assert update["next"] == "finish" and decision["decision"] == "finish"


def test_a_dependent_beyond_the_teacher_adds_no_severity_to_its_prerequisite(tmp_path) -> None:
    """Words, with comparatives at the floor (P_T 0.5) and superlatives below it: comparatives must not outrank
    the other untaught modules on account of superlatives, which no curriculum will teach."""
    from ioa.agents.curriculum import build_curriculum

    domain = get_domain("words", 0)
    modules = [m.id for m in domain.modules]
    p_teacher = {**dict.fromkeys(modules, 0.75), "degree/comparative": 0.5, "degree/superlative": 0.33}
    state = IOAState(
        round=0,
        modules=modules,
        p_teacher=p_teacher,
        p_student=dict.fromkeys(modules, 0.0),
        history=[dict.fromkeys(modules, 0.0)],
        edges=[(m.prerequisites[0], m.id) for m in domain.modules if m.prerequisites],
    )
    svc = Services(
        config=_stages(),
        run_dir=RunDir(tmp_path),
        domain=domain,
        teacher=None,  # type: ignore[arg-type]
        memory=None,  # type: ignore[arg-type]
        tracer=Tracer(tmp_path / "traces.jsonl"),
        tokenizer_dir=tmp_path,
    )
    build_curriculum(state, svc, exclude={"degree/superlative", "past/regular"})
    (event,) = [e for e in read_traces(tmp_path / "traces.jsonl") if e["kind"] == "curriculum"]
    assert event["severity"]["degree/comparative"] == event["severity"]["capitals"] == 0.7
    assert event["severity"]["plural/regular"] == 1.0  # its dependents are all teachable
    assert event["targets"] == ["plural/regular", "capitals"]
