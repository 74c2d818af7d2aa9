"""The planner's two routing decisions between nodes: is the ZPD batch ready to train, and does a finishing run
consolidate first. Each is named for its decision and traced with its reason."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime

from ioa.context import Services
from ioa.state import IOAState

AGENT = "planner"


def batch_ready(state: IOAState, runtime: Runtime[Services]) -> Literal["train", "teach"]:
    """The planner's check after adapting: train once the ZPD batch is big enough (or teaching is capped).

    Big enough grows with the modules in focus: a fixed minimum asked a round on one module for as much as a stage
    of two, and the embedded teacher's later waves on one module kept little the first had not (the fresh clone
    of de1690d: plurals in -es kept box, dish, lunch, glass and watch in its first wave, then only glass, wish
    and boss in two more, 80 s for no word the probes ask)."""
    svc = runtime.context
    budget = svc.config.budget
    min_batch = budget.min_batch_per_module * max(len(state.focus), 1)
    big_enough = state.batch_examples >= min_batch
    capped = state.teach_attempts >= budget.max_teach_attempts
    ready = big_enough or capped
    if big_enough:
        reason = (
            f"{state.batch_examples} adapted examples reach the minimum batch of {min_batch} "
            f"({budget.min_batch_per_module} per module, {len(state.focus)} in focus)"
        )
    elif capped:
        reason = (
            f"teach attempts capped at {budget.max_teach_attempts}; training on the {state.batch_examples} there are"
        )
    else:
        reason = f"only {state.batch_examples} of {min_batch} examples; the teacher is asked for more"
    svc.tracer.event(
        round=state.round + 1,
        node="adapt",
        agent=AGENT,
        kind="batch_check",
        summary=f"batch {'ready' if ready else 'not ready'}: {state.batch_examples} examples "
        f"(min {min_batch}), teach attempt {state.teach_attempts}/{budget.max_teach_attempts}",
        decision="train" if ready else "teach",
        reason=reason,
        batch_examples=state.batch_examples,
        min_batch=min_batch,
        focus=len(state.focus),
        teach_attempts=state.teach_attempts,
        max_teach_attempts=budget.max_teach_attempts,
    )
    return "train" if ready else "teach"


def route_after_plan(state: IOAState, runtime: Runtime[Services]) -> Literal["teach", "consolidate", "finish"]:
    """A finishing run first consolidates everything taught, once, when its examples kept epochs back for it."""
    due = runtime.context.config.training.consolidates and bool(state.trained_files)
    return "consolidate" if state.next == "finish" and due and not state.consolidated else state.next
