"""What a run killed and resumed must show, whatever holds its checkpoints (SQLite, Postgres): no node that finished
runs again, no round is trained or diagnosed twice, and no teacher request is paid twice. The crash tests
(tests/test_resume_integration.py, tests/test_postgres_resume_integration.py) call these on the resumed run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from kill_harness import read_mastery

from ioa.traces import read_traces

CHECK_RUN = Path(__file__).resolve().parents[2] / "shared/tools/check_run.py"
"""The run-directory contract's checker: a developer tool in ../shared, beside the repository, when there is one."""


def check_run(run_dir: Path) -> subprocess.CompletedProcess:
    """CHECK_RUN on a finished run of at least one round; the test asserts on its exit code and output."""
    return subprocess.run(
        [sys.executable, str(CHECK_RUN), str(run_dir), "--min-improved", "0", "--min-rounds", "1"],
        capture_output=True,
        text=True,
    )


def events_of(events: list[dict], node: str, kind: str, round_: int = 1) -> list[dict]:
    """The trace events of one node's ``kind`` in one round."""
    return [e for e in events if e["node"] == node and e["kind"] == kind and e["round"] == round_]


def assert_finished_nodes_ran_once(run_dir: Path) -> None:
    """Each node of round 1 (and identify) left its closing event once: none that finished before a kill ran again."""
    events = read_traces(run_dir / "traces.jsonl")
    assert len(events_of(events, "identify", "identify", 0)) == 1
    assert len(events_of(events, "teach", "synthesis")) == 1
    assert len(events_of(events, "adapt", "adaptation")) == 1
    assert len(events_of(events, "diagnose", "diagnosis")) == 1


def assert_rounds_trained_once(run_dir: Path) -> dict:
    """Training rounds 1..N each once, in summary.json, the traces and student/; returns summary.json."""
    summary = json.loads((run_dir / "summary.json").read_text())
    rounds = list(range(1, summary["rounds"] + 1))
    assert [t["round"] for t in summary["training"]] == rounds
    training = [e for e in read_traces(run_dir / "traces.jsonl") if e["kind"] == "training"]
    assert [e["round"] for e in training] == rounds
    assert summary["student"]["checkpoint"] == f"student/round_{rounds[-1]}"
    # Beside the rounds and the final student: the tiny student's tokenizer, cut to the domain once (run_vocab).
    assert {p.name for p in (run_dir / "student").iterdir()} - {"tokenizer"} == {
        *(f"round_{r}" for r in rounds),
        "final",
    }
    for t in summary["training"]:
        hparams = json.loads((run_dir / f"student/round_{t['round']}/hparams.json").read_text())
        assert hparams["result"]["steps"] == t["steps"]
    return summary


def assert_teacher_paid_once(run_dir: Path, before_kill: list[dict]) -> None:
    """Every teacher request (item and parse attempt) was paid at most once over all the processes, and what the
    teach node killed mid-way had paid for (``before_kill``: the traces it left) came back from the cache."""
    events = read_traces(run_dir / "traces.jsonl")
    requests = [e for e in events if e["agent"] == "teacher" and "item" in e]
    paid = Counter((e["item"], e["attempt"]) for e in requests if e["calls"])
    assert paid and max(paid.values()) == 1, [k for k, n in paid.items() if n > 1]
    assert events[: len(before_kill)] == before_kill  # traces.jsonl is only ever appended to
    paid_before = {(e["item"], e["attempt"]) for e in before_kill if e["node"] == "teach" and e.get("calls")}
    replayed = {(e["item"], e["attempt"]) for e in events[len(before_kill) :] if e.get("cache_hits") and not e["calls"]}
    assert paid_before and paid_before <= replayed
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["teacher"]["cache_hits"] >= len(paid_before)
    assert summary["teacher"]["calls"] == sum(e["calls"] for e in requests)  # the killed processes' calls count


def assert_mastery_rows_once(run_dir: Path) -> list[dict]:
    """One mastery.csv row per round and module, for every diagnosis round 0..N; returns the rows."""
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = read_mastery(run_dir)
    assert Counter((r["round"], r["module"]) for r in rows).most_common(1)[0][1] == 1
    assert sorted({int(r["round"]) for r in rows}) == list(range(summary["rounds"] + 1))
    return rows
