"""The curriculum planner (Knowledge Organizer): targets, prerequisite stages, ZPD steps, mastery gate.

Every decision depends only on measured scores and the config, and is traced with its reason
and the numbers behind it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from ioa import rules
from ioa.agents.curriculum import build_curriculum
from ioa.context import Services
from ioa.state import IOAState

AGENT = "planner"


def _ratios(state: IOAState, modules: list[str]) -> dict[str, float]:
    """P_S/P_T of each module over all its levels."""
    return {k: round(rules.mastery_ratio(state.p_teacher[k], state.p_student[k]), 4) for k in modules}


def _stage_ratios(state: IOAState, stage: list[str], levels: dict[str, int]) -> dict[str, float]:
    """What the mastery gate compares with tau_mastery: each module's P_S/P_T at the level the stage taught it.

    Gating on the taught level makes a stage one small ZPD step (Bloom's unit); the module's higher
    levels come back as later stages when re-planning still finds it deficient. A module mastered
    over all its levels passes too.
    """
    overall = _ratios(state, stage)
    out = {}
    for k in stage:
        level = levels.get(k)
        per_level = state.level_ratios.get(k, [])
        at_level = per_level[level] if level is not None and level < len(per_level) else 0.0
        out[k] = max(at_level, overall[k])
    return out


def zpd_levels(state: IOAState, svc: Services, modules: list[str]) -> dict[str, int]:
    """Each module's difficulty level to teach: one notch above the student's level there (the teacher's too)."""
    specs = {m.id: m for m in svc.domain.modules}
    return {k: rules.next_difficulty(state.levels.get(k, -1), specs[k].levels) for k in modules}


def _retry_stuck(state: IOAState, svc: Services, stuck: set[str]) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """Give stuck modules another turn once nothing else is left to teach.

    A stage is stuck when the student made too little progress within the remedial cap; since then it
    has learnt other modules, and a budget left unspent teaches it nothing.
    """
    _decision(
        svc,
        state,
        "retry_stuck",
        f"retry stuck {sorted(stuck)}: nothing else is left to teach",
        "every other module is mastered or stuck, and budget is left",
        stuck=sorted(stuck),
    )
    return build_curriculum(state, svc, exclude=_excluded(state))


def _decision(svc: Services, state: IOAState, decision: str, summary: str, reason: str, **numbers: Any) -> None:
    """Trace one planner decision with its reason and the numbers behind it."""
    svc.tracer.event(
        round=state.round,
        node="plan",
        agent=AGENT,
        kind="decision",
        summary=summary,
        decision=decision,
        reason=reason,
        **numbers,
    )


def _finish(svc: Services, state: IOAState, reason: str, **numbers: Any) -> dict[str, Any]:
    _decision(svc, state, "finish", f"finish: {reason}", reason, **numbers)
    svc.progress.node("plan", state.round, f"finish: {reason}")
    # The first reason is the run's: consolidation afterwards only settles what was taught.
    return {"next": "finish", "finish_reason": state.finish_reason or reason}


def latest(state: IOAState) -> dict[str, str]:
    """The latest diagnosis's state of every module (``rules.module_state``)."""
    return state.mastery[-1] if state.mastery else {}


def _excluded(state: IOAState) -> set[str]:
    """Modules no curriculum teaches: beyond the teacher, or set aside after rounds with nothing kept."""
    return {k for k, v in latest(state).items() if v == "beyond_teacher"} | set(state.set_aside)


def _empty_modules(state: IOAState, svc: Services) -> dict[str, list[int]]:
    """Modules whose last ``budget.max_empty_rounds`` taught rounds all kept nothing, with those rounds."""
    need = svc.config.budget.max_empty_rounds
    kept: dict[str, dict[int, int]] = {}
    for r in state.synthesis:  # the teacher's records open a round at 0; the adapter's add what it kept
        kept.setdefault(r["module"], {}).setdefault(r["round"], 0)
        kept[r["module"]][r["round"]] += r.get("kept", 0)
    out = {}
    for module, by_round in kept.items():
        last = sorted(by_round)[-need:]
        if module not in state.set_aside and len(last) == need and not any(by_round[r] for r in last):
            out[module] = last
    return out


def _nothing_to_teach(state: IOAState, svc: Services) -> str | None:
    """Why no round could teach anything, before the first one; None when something can be taught."""
    verdicts = latest(state)
    if state.round or not verdicts:
        return None
    floor = svc.config.rules.teacher_floor
    if all(v == "beyond_teacher" for v in verdicts.values()):
        return f"the teacher scores below the floor ({floor}) on every module: nothing to teach"
    teachable = [k for k, v in verdicts.items() if v != "beyond_teacher"]
    if not any(rules.is_deficient(state.p_teacher[k], state.p_student[k], svc.config.rules.tau_gap) for k in teachable):
        return "the student already matches the teacher on every module the teacher knows: nothing to teach"
    return None


def plan_next_step(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Gate the stage just taught, then pick the next stage (re-planning when the curriculum is done)."""
    svc = runtime.context
    budget = svc.config.budget
    calls = state.usage.get("teacher_calls", 0)
    spent = {
        "rounds": state.round,
        "max_rounds": budget.max_rounds,
        "teacher_calls": int(calls),
        "max_teacher_calls": budget.max_teacher_calls,
    }
    if state.consolidated:  # the run already chose to finish; consolidation only settles what it taught
        return _finish(svc, state, "everything taught is consolidated", **spent)
    if state.round >= budget.max_rounds:
        return _finish(svc, state, f"round budget spent ({state.round}/{budget.max_rounds})", **spent)
    if calls >= budget.max_teacher_calls:
        return _finish(svc, state, f"teacher budget spent ({calls}/{budget.max_teacher_calls} calls)", **spent)

    if reason := _nothing_to_teach(state, svc):
        return _finish(svc, state, reason, p_teacher=state.p_teacher, states=latest(state))
    aside = _set_aside(state, svc)
    if aside:
        state = replace(state, set_aside=[*state.set_aside, *aside])
    step = _plan_frontier(state, svc) if svc.config.rules.schedule == "frontier" else _plan_stages(state, svc)
    if aside:
        step["set_aside"] = list(aside)
    if step.get("next") == "teach":
        step = _bring_back(state, svc, step)
    return step


def _set_aside(state: IOAState, svc: Services) -> list[str]:
    """Stop paying for modules the adapter kept nothing of, round after round; each is a traced decision."""
    found = _empty_modules(state, svc)
    for module, rounds in found.items():
        _decision(
            svc,
            state,
            "set_aside",
            f"set aside {module}: nothing kept in rounds {rounds}",
            f"the adapter kept none of the teacher's exercises for {module} in {len(rounds)} rounds in a row "
            f"(budget.max_empty_rounds = {svc.config.budget.max_empty_rounds})",
            module=module,
            rounds=rounds,
        )
    return sorted(found)


def _bring_back(state: IOAState, svc: Services, step: dict[str, Any]) -> dict[str, Any]:
    """Forgotten modules are taught in the next teach step, remedial, whatever the stage: a traced decision each."""
    focus = list(step["focus"])
    modes = {k: step.get("mode", "new") for k in focus}
    for k, v in latest(state).items():
        if v != "forgotten" or k in state.set_aside:
            continue
        level = state.passed.get(k)
        ratios = state.level_ratios.get(k, [])
        _decision(
            svc,
            state,
            "bring_back",
            f"bring back {k}: forgotten",
            f"{k} passed the mastery gate before and is below it now; it is taught again, remedial",
            module=k,
            passed_level=level,
            ratio_at_level=ratios[level] if level is not None and level < len(ratios) else None,
            ratio=_ratios(state, [k])[k],
            tau_mastery=svc.config.rules.tau_mastery,
        )
        if k not in focus:
            focus.append(k)
        modes[k] = "remedial"  # aimed at its mistakes, even where the stage itself is new or bridging
    return {**step, "focus": focus, "modes": modes}


def _plan_stages(state: IOAState, svc: Services) -> dict[str, Any]:
    """The stage schedule: gate the stage just taught, then remedial, stuck or the next stage (bridging)."""
    index, stuck, passed = state.stage_index, [], {}
    if state.stages:  # a stage was just taught, trained and diagnosed: gate it
        decision = _gate(state, svc)
        if decision.action == "remedial":
            svc.progress.node("plan", state.round, f"remedial round {state.remedial + 1} for {decision.weak}")
            return {
                "next": "teach",
                "mode": "remedial",
                "focus": decision.weak,
                "remedial": state.remedial + 1,
                "teach_attempts": 0,
            }
        if decision.action == "stuck":
            stuck = decision.weak
        else:  # advance: every module of the stage passed the gate at the level it was taught
            stage = state.stages[index]
            passed = {k: max(state.passed.get(k, -1), state.stage_levels.get(k, 0)) for k in stage}
            if climb := _climbing(state, svc, stage, passed):
                note = f"stage {index} passed its gate at levels {passed}: its unmastered modules climb one notch"
                step = _teach_stage(state, svc, state.stages, index, climb, note=note)
                return {**step, "passed": {**state.passed, **passed}, "mode": "bridging"}
        index += 1
    step = _next_stage(state, svc, index, stuck)
    if passed:
        step["passed"] = {**state.passed, **passed}
        if step.get("next") == "teach":
            step["mode"] = "bridging"  # one notch past what was just mastered, scaffolded from it
    return step


def _climbing(state: IOAState, svc: Services, stage: list[str], passed: dict[str, int]) -> list[str]:
    """The stage's modules still below the gate over all their levels that have a level above the one they passed.

    A stage is Bloom's unit and its gate is passed one ZPD notch at a time: the stage goes on one notch up until
    its modules are mastered (or at their top level), and only then does the curriculum move on. Re-planning at a
    level's pass instead ranked the half-learnt modules below untouched ones and left them (r28: capitals at 0.45
    after passing level 1, never taught again)."""
    tau, specs = svc.config.rules.tau_mastery, {m.id: m for m in svc.domain.modules}
    return [
        k
        for k in stage
        if rules.mastery_ratio(state.p_teacher[k], state.p_student[k]) < tau and passed[k] + 1 < specs[k].levels
    ]


def _gate(state: IOAState, svc: Services) -> rules.GateDecision:
    """The mastery gate over the stage just taught, traced with the numbers behind it."""
    cfg = svc.config.rules
    stage = state.stages[state.stage_index]
    ratios = _stage_ratios(state, stage, state.stage_levels)
    decision = rules.gate(ratios, state.remedial, cfg.tau_mastery, cfg.max_remedial)
    _decision(
        svc,
        state,
        decision.action,
        f"stage {state.stage_index} {stage}: {decision.action} ({decision.reason})",
        decision.reason,
        stage=stage,
        weak=decision.weak,
        min_ratio=decision.min_ratio,
        ratios=ratios,
        stage_levels=state.stage_levels,
        overall_ratios=_ratios(state, stage),
        tau_mastery=cfg.tau_mastery,
        remedial_rounds=state.remedial,
        max_remedial=cfg.max_remedial,
    )
    return decision


def _next_stage(state: IOAState, svc: Services, index: int, stuck: list[str]) -> dict[str, Any]:
    """Teach the first stage from ``index`` on with an unmastered module, re-planning once when none is left."""
    cfg = svc.config.rules
    stages, edges, rebuilt = state.stages, state.edges, False
    while True:
        if index >= len(stages):
            if rebuilt:
                break
            excluded = set(state.stuck) | set(stuck)
            stages, edges = build_curriculum(state, svc, exclude=excluded | _excluded(state))
            if not stages and excluded and cfg.retry_stuck:
                stages, edges = _retry_stuck(state, svc, excluded)
            index, rebuilt = 0, True
            continue
        todo = [
            k for k in stages[index] if rules.mastery_ratio(state.p_teacher[k], state.p_student[k]) < cfg.tau_mastery
        ]
        if todo:
            update = _teach_stage(state, svc, stages, index, todo, "curriculum re-planned" if rebuilt else "")
            return {**update, "stuck": stuck, "edges": edges}
        _decision(
            svc,
            state,
            "skip",
            f"skip stage {index} {stages[index]}: already mastered",
            f"every module of stage {index} is at or above the mastery gate ({cfg.tau_mastery:.2f})",
            stage=stages[index],
            ratios=_ratios(state, stages[index]),
            tau_mastery=cfg.tau_mastery,
        )
        index += 1
    update = _finish(
        svc, state, "no deficient module left to teach", excluded_stuck=sorted(set(state.stuck) | set(stuck))
    )
    return {**update, "stuck": stuck, "stages": stages, "stage_index": index, "edges": edges}


def _teach_stage(
    state: IOAState, svc: Services, stages: list[list[str]], index: int, todo: list[str], note: str = ""
) -> dict[str, Any]:
    """Teach stage ``index``'s unmastered modules, each one notch above the student's level there."""
    tau = svc.config.rules.tau_mastery
    levels = zpd_levels(state, svc, todo)
    svc.progress.node("plan", state.round, f"stage {index} of {len(stages)}: teach {levels} (module: level)")
    _decision(
        svc,
        state,
        "teach",
        f"teach stage {index} {stages[index]}: unmastered {todo} at levels {levels}",
        f"{len(todo)} of {len(stages[index])} modules of stage {index} below the mastery gate "
        f"(ratio < {tau:.2f})" + (f"; {note}" if note else ""),
        stage=stages[index],
        stage_index=index,
        stages=len(stages),
        focus=todo,
        stage_levels=levels,
        ratios=_ratios(state, stages[index]),
        tau_mastery=tau,
    )
    return {
        "next": "teach",
        "mode": "new",
        "focus": todo,
        "remedial": 0,
        "stages": stages,
        "stage_index": index,
        "stage_levels": levels,
        "teach_attempts": 0,
    }


def _plan_frontier(state: IOAState, svc: Services) -> dict[str, Any]:
    """Teach every deficient module whose prerequisites are ready, each one level above its gate.

    A prerequisite is ready once the student passed the mastery gate at its easiest level, or once it
    has been taught: the curriculum's order decides when a module joins, and the gate, per module and
    level, decides how far it climbs. Nothing already introduced is dropped while it is unmastered,
    so a new module adds to a round instead of replacing what came before.
    """
    stages, edges = build_curriculum(state, svc, exclude=_excluded(state))
    introduced = set(state.introduced)
    passed = {k for k, level in state.levels.items() if level >= 0}
    focus, blocked = rules.frontier(stages, edges, introduced | passed)
    if not focus:
        return _finish(svc, state, "no deficient module left to teach")
    levels = zpd_levels(state, svc, focus)
    joined = [k for k in focus if k not in introduced]
    svc.progress.node("plan", state.round, f"frontier: teach {levels} (module: level)")
    _decision(
        svc,
        state,
        "teach",
        f"teach the frontier {focus} at levels {levels}" + (f"; new: {joined}" if joined else ""),
        f"{len(focus)} deficient modules have every prerequisite ready"
        + (f"; {len(blocked)} wait for theirs" if blocked else ""),
        focus=focus,
        joined=joined,
        blocked=blocked,
        stage_levels=levels,
        ratios=_ratios(state, focus),
    )
    return {
        "next": "teach",
        "mode": "new",
        "focus": focus,
        "remedial": 0,
        "stages": stages,
        "stage_index": 0,
        "stage_levels": levels,
        "introduced": joined,
        "edges": edges,
        "teach_attempts": 0,
    }
