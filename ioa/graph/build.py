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
from ioa.agents.planner import plan_next_step
from ioa.agents.routes import batch_ready, route_after_plan
from ioa.agents.teacher import teach_focus
from ioa.context import Services
from ioa.graph.ablations import pass_through_batch, plan_without_organizer, switch, without_identifier
from ioa.graph.finish import finish_run
from ioa.state import IOAState
from ioa.student_train.node import consolidate_taught, train_on_batch

Node = Callable[[IOAState, Runtime[Services]], Any]

PLAN_ROUTES = {"teach the next step": "teach", "consolidate, then finish": "consolidate", "done": "finish"}
"""The decisions after ``plan``, by the name the graph view shows on their edge, and the node each leads to."""
BATCH_ROUTES = {"batch ready": "train", "batch short: teach again": "teach"}
"""The decisions after ``adapt``: train on the batch, or ask the teacher for more."""


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


def named(route: Node, routes: dict[str, str]) -> Node:
    """``route`` answering with its decision's name in ``routes`` instead of the node's, so the edge shows it."""
    names = {node: name for name, node in routes.items()}

    @functools.wraps(route)
    def decide(state: IOAState, runtime: Runtime[Services]) -> str:
        return names[route(state, runtime)]

    return decide


def build_graph(
    checkpointer: BaseCheckpointSaver | None = None,
    *,
    context_schema: type = Services,
    bind: Callable[[Node], Node] | None = None,
) -> CompiledStateGraph:
    """The compiled graph; pass a checkpointer (SqliteSaver, PostgresSaver) to make runs durable and resumable.

    In process the caller passes ``Services`` as the context. LangGraph Server (ioa/server/) instead declares the
    plain request its callers send (``context_schema``) and has ``bind`` hand every node and route the services
    it built from that request; the nodes and edges are the same either way.
    """
    own = bind or (lambda fn: fn)
    g = StateGraph(IOAState, context_schema=context_schema)
    # config.ablation switches an agent off for `ioa bench`; with the defaults every node is the agent itself.
    g.add_node("identify", timed(own(without_identifier(identify_gaps))))
    g.add_node("plan", timed(own(switch("organizer", plan_next_step, plan_without_organizer))))
    g.add_node("teach", timed(own(teach_focus)))
    g.add_node("adapt", timed(own(switch("adapter", adapt_batch, pass_through_batch))))
    g.add_node("train", timed(own(train_on_batch)))
    g.add_node("consolidate", timed(own(consolidate_taught)))
    g.add_node("diagnose", timed(own(without_identifier(diagnose_student))))
    g.add_node("finish", timed(own(finish_run)))
    g.add_edge(START, "identify")
    g.add_edge("identify", "plan")
    g.add_conditional_edges("plan", named(own(route_after_plan), PLAN_ROUTES), PLAN_ROUTES)
    g.add_edge("teach", "adapt")
    g.add_conditional_edges("adapt", named(own(batch_ready), BATCH_ROUTES), BATCH_ROUTES)
    g.add_edge("train", "diagnose")
    g.add_edge("consolidate", "diagnose")  # so the run finishes on the consolidated student's scores
    g.add_edge("diagnose", "plan")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)
