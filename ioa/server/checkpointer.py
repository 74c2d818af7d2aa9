"""A Postgres checkpointer for LangGraph Server's ``checkpointer.path`` in langgraph.json, so `langgraph dev` keeps
its threads in Postgres as a deployed server does (docs/deploy.md): ``"ioa.server.checkpointer.postgres"``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from ioa.config import load_config
from ioa.graph.checkpoints import check_checkpointer, postgres_dsn


@asynccontextmanager
async def postgres() -> AsyncIterator[BaseCheckpointSaver]:
    """``AsyncPostgresSaver`` at the DSN in the variable ``checkpointer.dsn_env`` names (IOA_POSTGRES_DSN), its
    tables set up; a DSN that is missing, malformed or out of reach stops the server with ioa's one line."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    config = load_config(None, ["checkpointer.backend=postgres"])  # the server's IOA_* variables apply
    await asyncio.to_thread(check_checkpointer, config)
    async with AsyncPostgresSaver.from_conn_string(postgres_dsn(config.checkpointer)) as saver:
        await saver.setup()
        yield saver
