"""LangGraph Server: `langgraph dev` serves langgraph.json's graph on 127.0.0.1, and langgraph-sdk drives it.

A client creates a thread, starts a small run with the embedded teacher, streams its updates and progress
events, and reads the final state; the run directory the server wrote must meet the run-directory contract. The
served graph's nodes, edges and schemas (what Studio draws) must be those of ``build_graph``, and a bad request
must get the CLI's one line and leave no run directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL
from langgraph_server import inline_config, langgraph_dev
from resume_checks import CHECK_RUN, check_run

from ioa.events import NodeMessage, StepProgress, event_from_dict, node_finished

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
NODES = {"identify", "plan", "teach", "adapt", "train", "consolidate", "diagnose", "finish"}
SUMMARY_KEYS = {"status", "run_id", "rounds", "modules", "teacher", "student", "training", "elapsed_s"}
MODULE_KEYS = {"id", "name", "p_teacher", "p_student_initial", "p_student_final", "mastered"}


CONFIG = inline_config([*SMALL, "budget.max_rounds=1", "teacher.max_tokens=64", "observability.report=false"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`langgraph dev` serving the repository's langgraph.json as it is; yields its URL."""
    with langgraph_dev(ROOT / "langgraph.json", tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Any:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=server, timeout=600)


@pytest.fixture(scope="module")
def served_run(client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One small run through the SDK: its thread, every streamed part, the final state and its run directory."""
    run_dir = tmp_path_factory.mktemp("served") / "run"
    thread = client.threads.create()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "ioa",
            input={},
            context={"run_dir": str(run_dir), "config": CONFIG},
            stream_mode=["updates", "custom"],
        )
    )
    state = client.threads.get_state(thread["thread_id"])
    return {"thread_id": thread["thread_id"], "parts": parts, "state": state, "run_dir": run_dir}


def _edges(graph: dict[str, Any]) -> list[tuple]:
    return sorted((e["source"], e["target"], e.get("conditional", False), e.get("data")) for e in graph["edges"])


def test_the_served_graph_is_build_graph_with_named_decisions(client):
    from ioa.graph.build import BATCH_ROUTES, PLAN_ROUTES, build_graph
    from ioa.server.request import RunRequest
    from ioa.state import IOAState

    assistant = client.assistants.search(graph_id="ioa")[0]["assistant_id"]
    served, local = client.assistants.get_graph(assistant), build_graph().get_graph().to_json()
    assert [n["id"] for n in served["nodes"]] == [n["id"] for n in local["nodes"]]
    assert _edges(served) == _edges(local)
    named = {(src, dst): label for src, dst, conditional, label in _edges(served) if conditional}
    expected = {("plan", node): name for name, node in PLAN_ROUTES.items()}
    expected |= {("adapt", node): name for name, node in BATCH_ROUTES.items()}
    assert named == expected
    schemas = client.assistants.get_schemas(assistant)
    assert set(schemas["state_schema"]["properties"]) == {f.name for f in fields(IOAState)}
    context = schemas["context_schema"]["properties"]
    assert set(context) == {f.name for f in fields(RunRequest)}
    assert all(field.get("description") for field in context.values())  # Studio's form explains each


def test_a_run_streams_progress_events_and_updates_of_every_node(served_run):
    events = {part.event for part in served_run["parts"]}
    assert "error" not in events, [p.data for p in served_run["parts"] if p.event == "error"]
    custom = [event_from_dict(p.data) for p in served_run["parts"] if p.event == "custom"]
    assert {type(e) for e in custom} == {NodeMessage, StepProgress}
    assert {e.node for e in custom if isinstance(e, NodeMessage)} >= NODES - {"consolidate"}
    updates = [(node, update) for p in served_run["parts"] if p.event == "updates" for node, update in p.data.items()]
    assert {node for node, _ in updates} == NODES
    round_ = 0
    for node, update in updates:  # a client carries the round forward, as ioa.stream does
        finished = node_finished(node, update, round_)
        round_ = finished.round
    assert finished.node == "finish" and finished.round == served_run["state"]["values"]["round"]


def test_the_final_state_and_the_run_directory_are_complete(served_run):
    state, run_dir = served_run["state"], served_run["run_dir"]
    assert state["next"] == [] and state["values"]["status"] == "completed"
    assert json.loads((run_dir / "run.json").read_text())["run_id"] == served_run["thread_id"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary) and summary["status"] == "completed"
    assert summary["run_id"] == served_run["thread_id"] and summary["rounds"] == state["values"]["round"]
    assert summary["modules"] and all(MODULE_KEYS <= set(m) for m in summary["modules"])
    assert {"calls", "prompt_tokens", "completion_tokens", "cache_hits"} <= set(summary["teacher"])
    assert summary["student"]["params"] > 0 and (run_dir / summary["student"]["final"]["merged"]).is_dir()
    if CHECK_RUN.exists():  # the contract's checker, checkpoints.sqlite (the thread's copy) included
        out = check_run(run_dir)
        assert out.returncode == 0, out.stdout + out.stderr
    assert (run_dir / "checkpoints.sqlite").exists()


@pytest.mark.parametrize(
    ("context", "cli"),
    [
        ({"config": {"rules": {"tau_mastery": 1.5}}}, ["--set", "rules.tau_mastery=1.5"]),
        ({"config": {"teacher": {"temprature": 0.5}}}, ["--set", "teacher.temprature=0.5"]),
        ({"config_path": "missing.yaml"}, ["--config", "missing.yaml"]),
    ],
    ids=["out-of-range", "unknown-key", "missing-file"],
)
def test_a_bad_request_gets_the_cli_line_and_leaves_no_run_directory(client, tmp_path, context, cli):
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "ioa", "run", "--run-dir", str(run_dir), *cli],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 2 and not run_dir.exists()
    line = out.stderr.strip().removeprefix("ioa: error: ")
    context = {**context, "run_dir": str(run_dir)}
    if "config_path" in context:
        context["config_path"] = "missing.yaml"  # relative to the server's folder, where it is missing too
    thread = client.threads.create()
    parts = list(client.runs.stream(thread["thread_id"], "ioa", input={}, context=context, stream_mode="updates"))
    errors = [p.data for p in parts if p.event == "error"]
    assert errors == [{"error": "UsageError", "message": line}]
    assert not run_dir.exists()


def test_a_request_without_run_dir_is_refused_in_one_line(client):
    thread = client.threads.create()
    parts = list(client.runs.stream(thread["thread_id"], "ioa", input={}, context={"config": CONFIG}))
    assert [p.data for p in parts if p.event == "error"] == [
        {
            "error": "UsageError",
            "message": "a run on LangGraph Server needs run_dir (in its context or configurable): the folder, on "
            "the server, that the run is written to",
        }
    ]
