"""The finish node and summary.json (docs/design.md §8)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ioa.context import Services
from ioa.graph.summary import lengths_summary, synthesis_summary
from ioa.rundir import write_json
from ioa.state import IOAState
from ioa.student_train.export import export_run_student
from ioa.teacher.ledger import teacher_summary
from ioa.traces import read_traces


def summarize(state: IOAState, svc: Services, status: str) -> dict[str, Any]:
    """The run's summary as the contract defines it, from the state alone (plus the student's size)."""
    names = {m.id: m.name for m in svc.domain.modules}
    states = state.mastery[-1] if state.mastery else {}
    modules = [
        {
            "id": k,
            "name": names.get(k, k),
            "p_teacher": state.p_teacher.get(k, 0.0),
            "p_student_initial": state.p_student_initial.get(k, 0.0),
            "p_student_final": state.p_student.get(k, 0.0),
            # The state decides, so a module the teacher cannot do is beyond_teacher, never mastered.
            "mastered": states.get(k) == "mastered",
            "state": states.get(k, "unmastered"),
        }
        for k in state.modules
    ]
    usage = state.usage
    params, trainable = svc.student(state.student_checkpoint).params() if state.modules else (0, 0)
    return {
        "status": status,
        "run_id": svc.run_dir.run_id,
        "rounds": state.round,
        "modules": modules,
        "stuck": sorted(state.stuck),
        "set_aside": sorted(state.set_aside),
        "finish_reason": state.finish_reason,
        "taught": any(r.get("examples", 0) for r in state.train_log),  # an empty batch is skipped, not taught
        "synthesis": synthesis_summary(state),
        "lengths": lengths_summary(state),
        "teacher": teacher_summary(read_traces(svc.run_dir.traces), svc.config.teacher),
        "adapter_dropped": int(usage.get("adapter_dropped", 0)),
        "student": {"params": params, "trainable_params": trainable, "checkpoint": state.student_checkpoint},
        "training": state.train_log,
        "elapsed_s": round(usage.get("elapsed_s", 0.0), 1),
    }


def finish_run(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    svc = runtime.context
    summary = summarize(state, svc, "completed")
    # The deliverable: RUN_DIR/student/final/{adapter,merged}, loadable by AutoModelForCausalLM and vLLM.
    # The student in memory is handed over, never loaded a second time beside itself (a large model fills the GPU).
    student = svc.release_student(state.student_checkpoint)
    summary["student"]["final"] = export_run_student(
        svc.config, svc.tokenizer_dir, svc.run_dir, state.student_checkpoint, student
    )
    write_json(svc.run_dir.summary, summary)
    mastered = sum(m["mastered"] for m in summary["modules"])
    beyond = sum(m["state"] == "beyond_teacher" for m in summary["modules"])
    svc.progress.node(
        "finish",
        state.round,
        f"mastered {mastered}/{len(summary['modules'])}" + (f", {beyond} beyond the teacher" if beyond else ""),
    )
    if note := summary["lengths"]["note"]:
        svc.progress.node("finish", state.round, note)
    svc.tracer.event(
        round=state.round,
        node="finish",
        agent="planner",
        kind="finish",
        summary=f"completed after {state.round} rounds; mastered {mastered}/{len(summary['modules'])}",
    )
    return {"status": "completed"}
