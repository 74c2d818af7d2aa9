"""The graph langgraph.json serves: ``make_graph``, a factory LangGraph Server calls for every run and read.

For a run it builds the services in the server's process from the run's request (ioa/server/request.py) and
hands them to every node; for schemas, the graph view and state reads it returns the same nodes and edges
without building anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk.runtime import ServerRuntime

from ioa.graph.build import build_graph
from ioa.server.request import RunRequest
from ioa.server.run import Outcome, ServedRun


@asynccontextmanager
async def make_graph(config: RunnableConfig, runtime: ServerRuntime) -> AsyncIterator[CompiledStateGraph]:
    """The IOA graph for one server call; for a run, with that run's services open until the run ends."""
    execution = runtime.execution_runtime
    if execution is None:
        yield build_graph(context_schema=RunRequest)
        return
    configurable = config.get("configurable", {})
    served = ServedRun(RunRequest.of(execution.context, configurable), configurable["thread_id"])
    # Building the services loads models and starts the teacher: blocking work, kept off the server's event loop.
    await asyncio.to_thread(served.open)
    outcome: Outcome = "failed"
    try:
        yield build_graph(context_schema=RunRequest, bind=served.bind)
        outcome = "ended"
    except asyncio.CancelledError:
        outcome = "stopped"
        raise
    finally:
        checkpoints = await _thread_checkpoints(configurable)
        await asyncio.to_thread(served.close, outcome, checkpoints)


async def _thread_checkpoints(configurable: dict) -> list[CheckpointTuple]:
    """The run's thread as the server's checkpointer (handed to factories in the configurable) holds it, for the
    copy in the run directory; read on the server's loop, which async checkpointers such as Postgres's need."""
    checkpointer = configurable.get(CONFIG_KEY_CHECKPOINTER)
    if checkpointer is None:
        return []
    try:
        return [tup async for tup in checkpointer.alist({"configurable": {"thread_id": configurable["thread_id"]}})]
    except Exception:  # noqa: BLE001 - the copy is a convenience; the server still holds every checkpoint
        return []
