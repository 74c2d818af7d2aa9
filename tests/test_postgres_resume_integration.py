"""Postgres checkpoints (``checkpointer: postgres``): a real PostgreSQL, a real run SIGKILLed twice and resumed.

The test starts its own PostgreSQL (Debian's package, tests/postgres_server.py) and runs the real CLI against it,
taught by the scripted ``Tutor`` over HTTP (tests/strong_model.py), which keeps exercises in every round, so the
round always trains. The run is killed inside the teach node, right after a teacher request was paid for,
and again inside the train node, after the round's checkpoint folder was saved but before LangGraph recorded the
new state (tests/kill_harness.py parks it at each point); each time `ioa resume` continues it from Postgres. The
guarantees are those of the SQLite crash test (tests/resume_checks.py). Bad DSNs and a database that is down are
refused with one line before any run directory is made. Last, `langgraph dev` with ioa's Postgres checkpointer
keeps a served run's thread in the same database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from conftest import SMALL
from kill_harness import TIMEOUT_S, kill_at, run_args
from langgraph_server import inline_config, langgraph_dev
from postgres_server import free_port, postgres_server
from resume_checks import (
    CHECK_RUN,
    assert_finished_nodes_ran_once,
    assert_mastery_rows_once,
    assert_rounds_trained_once,
    assert_teacher_paid_once,
    check_run,
)
from strong_model import Tutor, tutor_endpoint

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]

OVERRIDES = [*SMALL, "budget.max_rounds=1", "teacher.max_tokens=64", "observability.report=false"]
POINTS = ("teach", "trained")


@pytest.fixture(scope="module")
def dsn() -> str:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def crashed(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The run killed at each point and resumed after each kill, then resumed to its end."""
    root = tmp_path_factory.mktemp("pg")
    run_dir, logs = root / "run", root / "logs"
    logs.mkdir()
    env = {**os.environ, "IOA_POSTGRES_DSN": dsn}
    with tutor_endpoint(Tutor(run_dir)) as teacher:
        args = run_args(run_dir, [*OVERRIDES, *teacher, "checkpointer=postgres"])
        kills, copies = {}, {}
        for point in POINTS:
            kills[point] = kill_at(point, args, run_dir, logs, env=env)
            copies[point] = (run_dir / "checkpoints.sqlite").exists()
            args = ["resume", str(run_dir), "--quiet"]
        final = subprocess.run(
            ["nice", "-n", "10", sys.executable, "-m", "ioa", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
        )
    return {"run_dir": run_dir, "kills": kills, "copies": copies, "final": final}


def test_each_kill_landed_and_the_last_resume_completes(crashed):
    for kill in crashed["kills"].values():
        assert kill.returncode == -signal.SIGKILL, kill.point
    final = crashed["final"]
    assert final.returncode == 0, final.stderr[-3000:]
    assert json.loads((crashed["run_dir"] / "summary.json").read_text())["status"] == "completed"


def test_the_checkpoints_live_in_postgres_and_the_run_directory_gets_a_copy_at_the_end(crashed, dsn):
    run_dir = crashed["run_dir"]
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    with psycopg.connect(dsn) as conn:
        in_postgres = conn.execute("select count(*) from checkpoints where thread_id = %s", (run_id,)).fetchone()[0]
    assert in_postgres >= 10
    # A SIGKILLed process writes no copy; the completed resume does, checkpoint for checkpoint.
    assert crashed["copies"] == {"teach": False, "trained": False}
    with closing(sqlite3.connect(run_dir / "checkpoints.sqlite")) as conn:
        copied = conn.execute("select count(*) from checkpoints where thread_id = ?", (run_id,)).fetchone()[0]
    assert copied == in_postgres


def test_no_node_that_finished_runs_again(crashed):
    assert_finished_nodes_ran_once(crashed["run_dir"])


def test_no_round_is_trained_or_diagnosed_twice(crashed):
    summary = assert_rounds_trained_once(crashed["run_dir"])
    assert_mastery_rows_once(crashed["run_dir"])
    # Killed after round 1's checkpoint was saved: the round that counted started from the same weights.
    trained = crashed["kills"]["trained"].seen
    assert summary["training"][0]["loss_first"] == pytest.approx(trained["loss_first"], abs=1e-3)


def test_no_teacher_request_is_paid_twice(crashed):
    assert_teacher_paid_once(crashed["run_dir"], crashed["kills"]["teach"].events)


@pytest.mark.skipif(not CHECK_RUN.exists(), reason=f"{CHECK_RUN} is a developer tool outside the repository")
def test_check_run_accepts_the_resumed_run(crashed):
    out = check_run(crashed["run_dir"])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("dsn_value", "code", "line"),
    [
        (
            None,
            2,
            "ioa: error: checkpointer postgres: environment variable IOA_POSTGRES_DSN (checkpointer.dsn_env) "
            "is not set",
        ),
        (
            "mysql://ioa:secret@db/ioa",
            2,
            "ioa: error: checkpointer postgres: IOA_POSTGRES_DSN is not a PostgreSQL "
            "connection string (expected postgresql://USER@HOST:PORT/DATABASE or key=value pairs)",
        ),
        (
            "postgresql://ioa@127.0.0.1:{port}/ioa",
            1,
            "ioa: error: cannot reach the Postgres checkpointer "
            '(IOA_POSTGRES_DSN): connection to server at "127.0.0.1", port {port} failed: Connection refused',
        ),
    ],
    ids=["unset", "malformed", "down"],
)
def test_a_bad_or_unreachable_database_is_one_line_and_no_run_directory(tmp_path, dsn_value, code, line):
    port = free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k != "IOA_POSTGRES_DSN"}
    if dsn_value:
        env["IOA_POSTGRES_DSN"] = dsn_value.format(port=port)
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "ioa", "run", "--run-dir", str(run_dir), "--set", "checkpointer=postgres"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == code, out.stderr
    assert out.stderr.strip().splitlines() == [line.format(port=port)]
    assert "secret" not in out.stderr
    assert not run_dir.exists()


def test_langgraph_dev_keeps_its_threads_in_postgres(dsn, tmp_path):
    """langgraph.json's checkpointer.path naming ioa.server.checkpointer.postgres puts the server's threads in
    Postgres, as a deployed server keeps them; the run directory gets the thread's copy when the run stops."""
    from langgraph_sdk import get_sync_client

    config = {
        **json.loads((ROOT / "langgraph.json").read_text()),
        "checkpointer": {"path": "ioa.server.checkpointer.postgres"},
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    run_dir = tmp_path / "run"
    request = {"run_dir": str(run_dir), "config": inline_config([*OVERRIDES, "domain.probes_per_module=2"])}
    with langgraph_dev(tmp_path / "langgraph.json", tmp_path, {"IOA_POSTGRES_DSN": dsn}) as url:
        client = get_sync_client(url=url, timeout=600)
        thread = client.threads.create()["thread_id"]
        parts = list(client.runs.stream(thread, "ioa", input={}, context=request, interrupt_before=["plan"]))
        state = client.threads.get_state(thread)
    assert [p.data for p in parts if p.event == "error"] == [] and state["next"] == ["plan"]
    with psycopg.connect(dsn) as conn:
        in_postgres = conn.execute("select count(*) from checkpoints where thread_id = %s", (thread,)).fetchone()[0]
    with closing(sqlite3.connect(run_dir / "checkpoints.sqlite")) as conn:
        copied = conn.execute("select count(*) from checkpoints where thread_id = ?", (thread,)).fetchone()[0]
    assert in_postgres >= 2 and copied == in_postgres
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["run_id"]) == ("stopped", thread)  # interrupted before plan: stopped there
