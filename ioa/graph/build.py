"""The IOA graph (docs/design.md §2): identify -> plan -> teach -> adapt -> train -> diagnose -> plan ..."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from ioa.agents.adapter import adapt_batch
from ioa.agents.diagnostician import diagnose_student, identify_gaps
from ioa.agents.planner import batch_ready, plan_next_step, route_after_plan
from ioa.agents.teacher import teach_focus
from ioa.context import Services
from ioa.graph.ablations import pass_through_batch, plan_without_organizer, switch, without_identifier
from ioa.graph.finish import finish_run
from ioa.state import IOAState
from ioa.student_train.node import consolidate_taught, train_on_batch

Node = Callable[[IOAState, Runtime[Services]], dict[str, Any]]


def timed(node: Node) -> Node:
    """Adds the node's wall time to ``usage.elapsed_s``, so elapsed time survives resumes."""

    @functools.wraps(node)
    def wrapper(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
        started = time.perf_counter()
        update = node(state, runtime)
        usage = dict(update.get("usage", {}))
        usage["elapsed_s"] = usage.get("elapsed_s", 0.0) + time.perf_counter() - started
        return {**update, "usage": usage}

    return wrapper


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The compiled graph; pass a checkpointer (SqliteSaver) to make runs durable and resumable."""
    g = StateGraph(IOAState, context_schema=Services)
    # config.ablation switches an agent off for `ioa bench`; with the defaults every node is the agent itself.
    g.add_node("identify", timed(without_identifier(identify_gaps)))
    g.add_node("plan", timed(switch("organizer", plan_next_step, plan_without_organizer)))
    g.add_node("teach", timed(teach_focus))
    g.add_node("adapt", timed(switch("adapter", adapt_batch, pass_through_batch)))
    g.add_node("train", timed(train_on_batch))
    g.add_node("consolidate", timed(consolidate_taught))
    g.add_node("diagnose", timed(without_identifier(diagnose_student)))
    g.add_node("finish", timed(finish_run))
    g.add_edge(START, "identify")
    g.add_edge("identify", "plan")
    g.add_conditional_edges(
        "plan", route_after_plan, {"teach": "teach", "consolidate": "consolidate", "finish": "finish"}
    )
    g.add_edge("teach", "adapt")
    g.add_conditional_edges("adapt", batch_ready, {"train": "train", "teach": "teach"})
    g.add_edge("train", "diagnose")
    g.add_edge("consolidate", "diagnose")  # so the run finishes on the consolidated student's scores
    g.add_edge("diagnose", "plan")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)
