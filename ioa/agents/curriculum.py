"""The Organizer's curriculum: deficiency -> dependency refinement (Eq. 3) -> severity -> targets -> stages -> ZPD.

Written to curriculum.json and traced on every (re-)plan; the planner walks it.
"""

from __future__ import annotations

from typing import Any

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
    # A dependent no curriculum will teach (beyond the teacher, set aside) unlocks nothing, so it adds no urgency to
    # its prerequisite: otherwise comparatives outrank capitals for the sake of superlatives the teacher cannot do.
    severity = rules.severity(delta, dep, [e for e in edges if e[1] not in exclude], cfg.alpha)
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
