"""Where a run's LangGraph checkpoints live (``checkpointer``): RUN_DIR/checkpoints.sqlite, or PostgreSQL.

Postgres comes through langgraph-checkpoint-postgres (``PostgresSaver``); its DSN is read from the environment
variable that ``checkpointer.dsn_env`` names, so no password reaches config.yaml. ``check_checkpointer`` reaches the
database before a run directory is made, so a wrong DSN or a database that is down costs nothing on disk.

Wherever the live checkpoints are (Postgres, or LangGraph Server's own store), ``export_checkpoints`` copies the
run's thread into RUN_DIR/checkpoints.sqlite when a process's run ends, so the run directory stays whole:
``ioa.history``, ``fork`` and the run-directory contract read it there.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from ioa.config import CheckpointerConfig, Config
from ioa.errors import RuntimeFailure, UsageError
from ioa.rundir import RunDir

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_S = 10
"""How long reaching the database may take before the run gives up, unless the DSN sets connect_timeout."""


def postgres_dsn(cfg: CheckpointerConfig, environ: Mapping[str, str] | None = None) -> str:
    """The DSN from the variable ``cfg.dsn_env`` names; a missing or malformed one is a config error (exit 2)."""
    from psycopg.conninfo import conninfo_to_dict

    name = cfg.dsn_env
    dsn = (os.environ if environ is None else environ).get(name, "").strip()
    if not dsn:
        raise UsageError(f"checkpointer postgres: environment variable {name} (checkpointer.dsn_env) is not set")
    try:
        conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - libpq's message repeats the DSN, password included: say it in our words
        raise UsageError(
            f"checkpointer postgres: {name} is not a PostgreSQL connection string "
            "(expected postgresql://USER@HOST:PORT/DATABASE or key=value pairs)"
        ) from None
    return dsn


@contextmanager
def postgres_connection(cfg: CheckpointerConfig) -> Iterator[psycopg.Connection]:
    """An open connection, set up as PostgresSaver needs it; a database out of reach is one line (exit 1)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.rows import dict_row

    dsn = postgres_dsn(cfg)
    timeout = {} if "connect_timeout" in conninfo_to_dict(dsn) else {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row, **timeout)
    except psycopg.Error as exc:
        reason = str(exc).splitlines()[0].removeprefix("connection failed: ") if str(exc) else type(exc).__name__
        raise RuntimeFailure(f"cannot reach the Postgres checkpointer ({cfg.dsn_env}): {reason}") from exc
    with conn:
        yield conn


def check_checkpointer(config: Config) -> None:
    """Reach the configured checkpoint store once, so a run fails before its directory is made when it cannot."""
    if config.checkpointer.backend == "postgres":
        with postgres_connection(config.checkpointer):
            pass


@contextmanager
def open_checkpointer(config: Config, rd: RunDir) -> Iterator[BaseCheckpointSaver]:
    """The run's checkpointer, open for the block: threads are run ids, so one database holds many runs."""
    if config.checkpointer.backend == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver

        with postgres_connection(config.checkpointer) as conn:
            saver = PostgresSaver(conn)
            saver.setup()  # creates or migrates its tables; a no-op once they are current
            try:
                yield saver
            finally:
                export_checkpoints(saver, rd)
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(rd.checkpoints), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def export_checkpoints(source: BaseCheckpointSaver, rd: RunDir) -> None:
    """Copy the run's thread from ``source`` into RUN_DIR/checkpoints.sqlite; best effort, so a failed copy never
    hides how the run itself ended."""
    try:
        tuples = list(source.list({"configurable": {"thread_id": rd.run_id}}))
    except Exception:  # noqa: BLE001 - the live store still holds every checkpoint
        return
    copy_checkpoints(tuples, rd)


def copy_checkpoints(tuples: list[CheckpointTuple], rd: RunDir) -> None:
    """Write a thread's checkpoints (newest first, as savers list them) and their pending writes into
    RUN_DIR/checkpoints.sqlite, replacing the copy there; best effort, like ``export_checkpoints``."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    tmp = rd.checkpoints.with_name(f".{rd.checkpoints.name}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        with closing(sqlite3.connect(str(tmp), check_same_thread=False)) as conn:
            saver = SqliteSaver(conn)
            for tup in reversed(tuples):  # oldest first, each under its parent
                where = {k: v for k, v in tup.config["configurable"].items() if k != "checkpoint_id"}
                parent = (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id")
                saved = saver.put(
                    {"configurable": {**where, "checkpoint_id": parent}}, tup.checkpoint, tup.metadata, {}
                )
                writes: dict[str, list[tuple[str, object]]] = defaultdict(list)
                for task_id, channel, value in tup.pending_writes or []:
                    writes[task_id].append((channel, value))
                for task_id, task_writes in writes.items():
                    saver.put_writes(saved, task_writes, task_id)
        os.replace(tmp, rd.checkpoints)
    except Exception:  # noqa: BLE001 - the live store still holds every checkpoint
        tmp.unlink(missing_ok=True)
