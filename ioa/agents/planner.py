"""The curriculum planner (Knowledge Organizer): targets, prerequisite stages, ZPD steps, mastery gate.

Every decision depends only on measured scores and the config, and is traced with its reason
and the numbers behind it.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from ioa import rules
from ioa.context import Services
from ioa.rundir import write_json
from ioa.state import IOAState

AGENT = "planner"


def build_curriculum(
    state: IOAState, svc: Services, exclude: set[str]
) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """Deficiency -> dependency refinement -> severity -> targets (+ prerequisites) -> stages -> ZPD split."""
    cfg = svc.config.rules
    p_t, p_s = state.p_teacher, state.p_student
    delta = {k: rules.deficiency(p_t[k], p_s[k]) for k in state.modules}
    deficient = {k for k in state.modules if delta[k] > cfg.tau_gap and k not in exclude}
    dep = rules.dependency_strengths(state.history, p_t, cfg.tau_high, cfg.tau_low)
    edges, removed = rules.refine_edges(state.edges, dep, state.modules, cfg.tau_dep)
    severity = rules.severity(delta, dep, edges, cfg.alpha)
    # The frontier schedule teaches every deficient module as soon as it is ready, so all are targets.
    fraction = 1.0 if cfg.schedule == "frontier" else cfg.target_fraction
    targets = rules.select_targets(severity, deficient, fraction)
    unmastered = {k for k in state.modules if rules.mastery_ratio(p_t[k], p_s[k]) < cfg.tau_mastery} - exclude
    chosen = rules.with_prerequisites(targets, edges, unmastered)
    layered = rules.layer_stages(chosen, edges)
    stages = rules.split_for_zpd(layered, p_s, cfg.tau_zpd)
    write_json(
        svc.run_dir.curriculum,
        {
            "round": state.round,
            "modules": _module_rows(state, svc, edges, delta, severity, deficient, targets),
            "edges": [list(e) for e in edges],
            "removed_edges": [list(e) for e in removed],
            "dependency_estimates": {f"{a}->{b}": v for (a, b), v in sorted(dep.items())},
            "targets": targets,
            "stages": stages,
            "excluded_stuck": sorted(exclude),
        },
    )
    svc.tracer.event(
        round=state.round,
        node="plan",
        agent=AGENT,
        kind="curriculum",
        summary=f"{len(deficient)} deficient, targets {targets}, {len(stages)} stage(s): {stages}",
        deficient=sorted(deficient),
        severity=severity,
        targets=targets,
        stages=stages,
        layered_before_zpd=layered,
        added_or_kept_edges=len(edges),
        removed_edges=removed,
    )
    return stages, edges


def _module_rows(
    state: IOAState,
    svc: Services,
    edges: list[tuple[str, str]],
    delta: dict[str, float],
    severity: dict[str, float],
    deficient: set[str],
    targets: list[str],
) -> list[dict[str, Any]]:
    """curriculum.json's record of each module: what it is, its scores and why it was (not) chosen."""
    specs = {m.id: m for m in svc.domain.modules}
    return [
        {
            "id": k,
            "name": specs[k].name,
            "description": specs[k].description,
            "levels": specs[k].levels,
            "prerequisites": sorted(a for a, b in edges if b == k),
            "p_teacher": state.p_teacher[k],
            "p_student": state.p_student[k],
            "deficiency": delta[k],
            "severity": severity[k],
            "deficient": k in deficient,
            "target": k in targets,
        }
        for k in state.modules
    ]


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
    return build_curriculum(state, svc, exclude=set())


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
    return {"next": "finish"}


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

    if svc.config.rules.schedule == "frontier":
        return _plan_frontier(state, svc)
    index, stuck = state.stage_index, []
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
        index += 1
    return _next_stage(state, svc, index, stuck)


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
            stages, edges = build_curriculum(state, svc, exclude=excluded)
            if not stages and excluded and cfg.retry_stuck:
                stages, edges = _retry_stuck(state, svc, excluded)
            index, rebuilt = 0, True
            continue
        todo = [
            k for k in stages[index] if rules.mastery_ratio(state.p_teacher[k], state.p_student[k]) < cfg.tau_mastery
        ]
        if todo:
            update = _teach_stage(state, svc, stages, index, todo, rebuilt)
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
    state: IOAState, svc: Services, stages: list[list[str]], index: int, todo: list[str], rebuilt: bool
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
        f"(ratio < {tau:.2f})" + ("; curriculum re-planned" if rebuilt else ""),
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
    stages, edges = build_curriculum(state, svc, exclude=set())
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


def batch_ready(state: IOAState, runtime: Runtime[Services]) -> Literal["train", "teach"]:
    """The planner's check after adapting: train once the ZPD batch is big enough (or teaching is capped)."""
    svc = runtime.context
    budget = svc.config.budget
    big_enough = state.batch_examples >= budget.min_batch
    capped = state.teach_attempts >= budget.max_teach_attempts
    ready = big_enough or capped
    if big_enough:
        reason = f"{state.batch_examples} adapted examples reach the minimum batch of {budget.min_batch}"
    elif capped:
        reason = (
            f"teach attempts capped at {budget.max_teach_attempts}; training on the {state.batch_examples} there are"
        )
    else:
        reason = f"only {state.batch_examples} of {budget.min_batch} examples; the teacher is asked for more"
    svc.tracer.event(
        round=state.round + 1,
        node="adapt",
        agent=AGENT,
        kind="batch_check",
        summary=f"batch {'ready' if ready else 'not ready'}: {state.batch_examples} examples "
        f"(min {budget.min_batch}), teach attempt {state.teach_attempts}/{budget.max_teach_attempts}",
        decision="train" if ready else "teach",
        reason=reason,
        batch_examples=state.batch_examples,
        min_batch=budget.min_batch,
        teach_attempts=state.teach_attempts,
        max_teach_attempts=budget.max_teach_attempts,
    )
    return "train" if ready else "teach"


def route_after_plan(state: IOAState, runtime: Runtime[Services]) -> Literal["teach", "consolidate", "finish"]:
    """A finishing run first consolidates everything taught, once, when its examples kept epochs back for it."""
    due = runtime.context.config.training.kept_back > 0 and bool(state.trained_files)
    return "consolidate" if state.next == "finish" and due and not state.consolidated else state.next
