"""Exact resume: a run killed right after a training round and resumed trains exactly as one never killed.

Both runs are the real CLI with the bench's oracle teacher (tests/oracle_run.py) and the tiny student, with AdamW's
moments carried between rounds (``training.carry_optimizer``, the default). One runs to its end; the other is
SIGKILLed in round 1's diagnosis, after that round's checkpoint and its trainer state were saved, and resumed.
The resumed process has nothing of the killed one in memory: its later rounds can only match the uninterrupted
run's step for step if the checkpoint gave it the weights, the optimizer state and the RNG states back.
A second test forks a reasoning-gym run, which needs the fork to rebuild its concept memory from the state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kill_harness import HARNESS, TIMEOUT_S, kill_at, run_args
from oracle_run import SMALL, runner_patches

import ioa.graph.runner as runner
from ioa import fork, history, resume, run
from ioa.config import load_config
from ioa.memory import ConceptMemory
from ioa.traces import read_traces

pytestmark = pytest.mark.integration

# One thread in every process, so the two runs' floating-point sums are ordered alike.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _harness(point: str, marker: Path, tokenizer_dir: Path, cli: list[str]) -> list[str]:
    return [sys.executable, str(HARNESS), point, str(marker), "--oracle", str(tokenizer_dir), *cli]


def _losses(run_dir: Path) -> list[tuple[int, str, list[float]]]:
    """Every training round's per-step losses, as traced: (round, node, losses)."""
    events = read_traces(run_dir / "traces.jsonl")
    return [(e["round"], e["node"], e["losses"]) for e in events if e["kind"] == "training"]


@pytest.fixture(scope="module")
def runs(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """(the uninterrupted run, the killed and resumed run, what the killed process saw when it parked)."""
    root = tmp_path_factory.mktemp("exact")
    logs = root / "logs"
    logs.mkdir()
    whole, killed = root / "whole", root / "killed"
    done = subprocess.run(
        _harness("none", logs / "none.json", tokenizer_dir, run_args(whole, SMALL)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cli = ["--oracle", str(tokenizer_dir), *run_args(killed, SMALL)]
    kill = kill_at("diagnose", cli, killed, logs, env=ENV)
    assert kill.returncode == -signal.SIGKILL and kill.seen["round"] == 1
    resumed = subprocess.run(
        _harness("none", logs / "resume.json", tokenizer_dir, ["resume", str(killed), "--quiet"]),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=ENV,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return whole, killed, kill.seen


def test_the_resumed_run_trains_step_for_step_as_the_uninterrupted_one(runs) -> None:
    whole, killed, _ = runs
    expected, got = _losses(whole), _losses(killed)
    # Round 1 before the kill, then round 2 and the consolidation after it: the resumed process trained twice.
    assert [(r, node) for r, node, _ in expected] == [(1, "train"), (2, "train"), (3, "consolidate")]
    assert [(r, node) for r, node, _ in got] == [(r, node) for r, node, _ in expected]
    for (_, _, want), (_, _, have) in zip(expected, got, strict=True):
        assert have == pytest.approx(want, abs=1e-6)


def test_the_resumed_run_ends_with_the_same_student_scores(runs) -> None:
    whole, killed, _ = runs
    a, b = (json.loads((d / "summary.json").read_text()) for d in (whole, killed))
    assert b["status"] == "completed" and b["rounds"] == a["rounds"]
    assert {m["id"]: m["p_student_final"] for m in b["modules"]} == {
        m["id"]: m["p_student_final"] for m in a["modules"]
    }
    assert (killed / "student/round_1/trainer_state.pt").exists()


GYM = (
    "domain.gym=[{dataset: basic_arithmetic, id: numbers/basic, levels: 2, answer: number}, "
    "{dataset: leg_counting, id: counting/legs, prerequisites: [numbers/basic], levels: 2, answer: number}]"
)


def test_a_reasoning_gym_run_forks_and_the_fork_completes(tokenizer_dir, tmp_path, monkeypatch) -> None:
    for name, replacement in runner_patches(tokenizer_dir).items():
        monkeypatch.setattr(runner, name, replacement)
    no_practice = "adapter.checker_practice_per_example=0"
    config = load_config(None, [*SMALL, "budget.max_rounds=1", no_practice, GYM], environ={})
    summary = run(config, tmp_path / "gym", progress=False)
    assert summary["status"] == "completed"
    assert {m["id"] for m in summary["modules"]} == {"numbers/basic", "counting/legs"}
    point = next(c for c in history(tmp_path / "gym") if c.next == ("plan",) and c.state.round == 1)

    forked = fork(tmp_path / "gym", point.checkpoint_id, tmp_path / "fork", {"training.consolidation_epochs": 0})
    memory = ConceptMemory.open(forked / "chroma")
    assert {k: memory.state(k) for k in point.state.modules} == point.state.mastery[-1]
    after = resume(forked, progress=False)
    assert after["status"] == "completed" and after["rounds"] == 1
