"""Ablation switches (``config.ablation``): the graph with one IOA agent turned off, for `ioa bench`.

Each switch swaps or filters one node, so the agents themselves stay free of ablation code.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ioa import rules
from ioa.adapter.draft import Draft, draft_of
from ioa.adapter.pipeline import synthesis_records
from ioa.agents.adapter import adapted_file
from ioa.context import Services
from ioa.rundir import read_jsonl, write_jsonl
from ioa.state import IOAState


def verbatim_target(steps: str | None, answer: str) -> str:
    """The teacher's worked solution as it came, ending in its answer: what a plain distillation trains on."""
    return f"{steps.strip()}\nAnswer: {answer}" if steps and steps.strip() else f"Answer: {answer}"


def without_identifier(node: Any) -> Any:
    """The Identifier's measurements hidden from the planner: every module looks unlearnt, at no level."""

    def blind(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
        update = node(state, runtime)
        if runtime.context.config.ablation.identifier:
            return update
        zeros = {k: 0.0 for k in update["p_student"]}
        blinded = {**update, "p_student": zeros, "history": [zeros], "levels": {}, "level_ratios": {}}
        if "p_student_initial" in update:
            blinded["p_student_initial"] = zeros
        return blinded

    blind.__name__ = getattr(node, "__name__", "node")
    return blind


def plan_without_organizer(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """No targets, stages, ZPD split or gate: every unmastered module is taught each round, until the budget ends."""
    svc = runtime.context
    budget, tau = svc.config.budget, svc.config.rules.tau_mastery
    calls = state.usage.get("teacher_calls", 0)
    todo = [k for k in state.modules if rules.mastery_ratio(state.p_teacher[k], state.p_student[k]) < tau]
    if state.round >= budget.max_rounds or calls >= budget.max_teacher_calls or not todo:
        reason = "no unmastered module" if not todo else "budget spent"
        svc.tracer.event(
            round=state.round,
            node="plan",
            agent="planner",
            kind="decision",
            summary=f"finish: {reason} (flat; {calls}/{budget.max_teacher_calls} teacher calls)",
        )
        return {"next": "finish"}
    svc.tracer.event(
        round=state.round, node="plan", agent="planner", kind="decision", summary=f"teach all unmastered: {todo}"
    )
    return {"next": "teach", "mode": "new", "focus": todo, "teach_attempts": 0}


def pass_through_batch(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """No Adapter: every exercise the teacher wrote trains the student verbatim, unverified and untransformed."""
    svc = runtime.context
    round_, attempt = state.round + 1, state.teach_attempts - 1
    raw = read_jsonl(svc.run_dir.resolve(state.teach_files[-1]))
    drafts = [draft_of(r) for r in raw]
    rows = [
        {
            "module": d.module,
            "level": d.level,
            "mode": d.mode,
            "prompt": d.problem,
            "target": verbatim_target(d.row["steps"], d.answer),
            "source": "teacher",
            "verified_by": None,
            "entry": {},
            "steps_applied": [],
        }
        for d in drafts
        if isinstance(d, Draft)
    ]
    path = adapted_file(round_, attempt)
    write_jsonl(svc.run_dir.resolve(path), rows)
    malformed = [(r, d) for r, d in zip(raw, drafts, strict=True) if not isinstance(d, Draft)]
    records = synthesis_records(round_, [d for d in drafts if isinstance(d, Draft)], malformed)
    svc.tracer.event(
        round=round_,
        node="adapt",
        agent="adapter",
        kind="adaptation",
        summary=f"off: kept {len(rows)}/{len(raw)} verbatim, unverified",
        counts={"rows": len(raw), "verified": 0, "kept": len(rows), "checker_practice": 0},
        dropped={"malformed": len(malformed)} if malformed else {},
        file=path,
    )
    return {
        "batch": [path],
        "batch_examples": state.batch_examples + len(rows),
        "usage": {"adapter_dropped": len(raw) - len(rows)},
        "synthesis": records,
    }


def switch(name: str, on: Any, off: Any) -> Any:
    """``on`` when ``config.ablation.<name>`` is true, else ``off``."""

    def node(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
        chosen = on if getattr(runtime.context.config.ablation, name) else off
        return chosen(state, runtime)

    node.__name__ = getattr(on, "__name__", name)
    return node
