"""The real graph against the real local teacher server, with a tiny student, for full rounds."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL

from ioa import Config
from ioa.traces import read_traces

pytestmark = pytest.mark.integration
__all__ = ["SMALL"]  # the SMALL overrides live in conftest.py; other test modules import them from here


@pytest.fixture(scope="module")
def finished_run(small_run) -> tuple[Path, dict]:
    return small_run  # one real run per session (tests/conftest.py), shared with the report and fork tests


def test_run_directory_contract(finished_run):
    run_dir, summary = finished_run
    for name in [
        "config.yaml",
        "checkpoints.sqlite",
        "chroma",
        "traces.jsonl",
        "curriculum.json",
        "mastery.csv",
        "summary.json",
        "data",
        "student",
    ]:
        assert (run_dir / name).exists(), name
    assert summary == json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert {"status", "rounds", "modules", "teacher", "student", "elapsed_s"} <= summary.keys()
    assert summary["teacher"]["calls"] > 0 and summary["teacher"]["prompt_tokens"] > 0
    assert {"calls", "prompt_tokens", "completion_tokens", "cache_hits"} <= summary["teacher"].keys()
    assert 0 < summary["student"]["trainable_params"] <= summary["student"]["params"]
    for module in summary["modules"]:
        assert {"id", "name", "p_teacher", "p_student_initial", "p_student_final", "mastered"} <= module.keys()


def test_full_rounds_were_taught_trained_and_diagnosed(finished_run):
    run_dir, summary = finished_run
    rows = list(csv.DictReader((run_dir / "mastery.csv").open()))
    rounds = sorted({int(r["round"]) for r in rows})
    assert rounds[0] == 0 and len(rounds) >= 2
    assert len({r["module"] for r in rows}) == len(summary["modules"]) >= 6
    assert any((run_dir / "student").glob("round_*/hparams.json"))
    # The tiny student is fully fine-tuned: its final export is one merged model folder.
    assert summary["student"]["final"] == {"merged": "student/final/merged"}
    assert (run_dir / "student/final/merged/config.json").is_file()
    assert any((run_dir / "data").glob("round_1_adapted_*.jsonl"))


def test_checkpoints_are_langgraph_sqlite(finished_run):
    run_dir, _ = finished_run
    con = sqlite3.connect(run_dir / "checkpoints.sqlite")
    (count,) = con.execute("select count(*) from checkpoints").fetchone()
    assert count >= 3


def test_every_agent_is_traced_with_tokens_and_latency(finished_run):
    run_dir, _ = finished_run
    events = read_traces(run_dir / "traces.jsonl")
    assert {"teacher", "diagnostician", "planner", "adapter", "trainer"} <= {e["agent"] for e in events}
    for e in events:
        assert {"ts", "round", "node", "agent", "kind", "summary", "tokens", "latency_s"} <= e.keys()
    teacher = [e for e in events if e["agent"] == "teacher"]
    assert any(e["tokens"] > 0 and e["latency_s"] > 0 for e in teacher)
    assert any(e["kind"] == "decision" for e in events if e["agent"] == "planner")


def test_chroma_holds_every_module_in_one_collection(finished_run):
    run_dir, summary = finished_run
    from ioa.memory import ConceptMemory

    memory = ConceptMemory.open(run_dir / "chroma")
    counts = memory.counts()
    assert counts["mastered"] + counts["unmastered"] == len(summary["modules"])
    expected = {m["id"]: "mastered" if m["mastered"] else "unmastered" for m in summary["modules"]}
    assert {k: memory.state(k) for k in expected} == expected


def test_cli_refuses_to_overwrite_an_existing_run(finished_run):
    run_dir, _ = finished_run
    before = (run_dir / "summary.json").read_text()
    out = subprocess.run(
        [sys.executable, "-m", "ioa", "run", "--run-dir", str(run_dir)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "already holds a run" in out.stderr
    assert (run_dir / "summary.json").read_text() == before


def test_traces_command_filters_by_agent(finished_run):
    run_dir, _ = finished_run
    out = subprocess.run(
        [sys.executable, "-m", "ioa", "traces", str(run_dir), "--agent", "planner", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events and {e["agent"] for e in events} == {"planner"}


def test_config_object_is_the_python_api():
    assert isinstance(Config(), Config)
