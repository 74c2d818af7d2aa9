"""Crash and resume with real processes and real SIGKILLs: nothing lost, nothing done twice.

One small real run (tiny student, a teacher over HTTP) is killed five times with SIGKILL, each time at another
point of round 1 (tests/kill_harness.py parks the real CLI there), and resumed with `ioa resume` after each kill;
the last resume must complete. Chaining the kills in one run costs one run plus five restarts instead of five
runs, and also shows that a resumed run can itself be killed and resumed.

The teacher is the scripted ``Tutor`` (tests/strong_model.py): the kills after teach need a round that trains,
and the sampling embedded teacher kept no exercise in this one-round run on one CI machine. The embedded teacher's
own part in a crash, its server dying with the run, has a test of its own here.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL
from kill_harness import POINTS, TIMEOUT_S, Kill, kill_at, run_args
from resume_checks import (
    CHECK_RUN,
    assert_finished_nodes_ran_once,
    assert_mastery_rows_once,
    assert_rounds_trained_once,
    assert_teacher_paid_once,
    check_run,
)
from resume_checks import events_of as _events
from strong_model import Tutor, tutor_endpoint

pytestmark = pytest.mark.integration

OVERRIDES = [
    *SMALL,
    # One round holds every kill point; short teacher replies and no report keep six processes to a few minutes.
    "budget.max_rounds=1",
    # Both epochs in the round: a round of one kept example then takes two steps, so its loss moves.
    "training.consolidation_epochs=0",
    "teacher.max_tokens=64",
    "observability.report=false",
]


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> tuple[Path, dict[str, Kill], subprocess.CompletedProcess]:
    """The run killed at every point and finally resumed: (run dir, kills by point, the final resume)."""
    root = tmp_path_factory.mktemp("resume")
    run_dir, logs = root / "run", root / "logs"
    logs.mkdir()
    with tutor_endpoint(Tutor(run_dir)) as teacher:
        args = run_args(run_dir, [*OVERRIDES, *teacher])
        kills = {}
        for point in POINTS:
            kills[point] = kill_at(point, args, run_dir, logs)
            args = ["resume", str(run_dir), "--quiet"]
        final = subprocess.run(
            ["nice", "-n", "10", sys.executable, "-m", "ioa", *args], capture_output=True, text=True, timeout=TIMEOUT_S
        )
    return run_dir, kills, final


def test_the_embedded_teacher_server_dies_with_a_killed_run(tmp_path):
    run_dir, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    kill = kill_at("teach", run_args(run_dir, OVERRIDES), run_dir, logs)
    assert kill.returncode == -signal.SIGKILL and kill.children, "no teacher server was running"
    assert not kill.orphans, f"the teacher server outlived its killed run: {kill.orphans}"


def test_every_kill_was_a_sigkill_at_its_point(crashed):
    _, kills, _ = crashed
    for k in kills.values():
        assert k.returncode == -signal.SIGKILL, k.point
    teach = kills["teach"]
    assert any(e.get("calls") for e in _events(teach.events, "teach", "completion"))
    assert not _events(teach.events, "teach", "synthesis"), "the teach node had finished before the kill"
    between = kills["between"]
    assert between.seen["next"] == ["train"]
    assert _events(between.events, "adapt", "adaptation") and "round_1" not in between.student
    assert kills["train"].seen["step"] == 1 and "round_1" not in kills["train"].student
    trained = kills["trained"]
    assert "round_1" in trained.student and not _events(trained.events, "train", "training")
    diagnose = kills["diagnose"]
    assert {r["round"] for r in diagnose.mastery} == {"0", "1"}
    assert not _events(diagnose.events, "diagnose", "diagnosis"), "the diagnose node had finished before the kill"


def test_the_last_resume_completes(crashed):
    run_dir, _, final = crashed
    assert final.returncode == 0, final.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and final.stdout.startswith("completed:")
    # The initial state is checkpointed as plain data, so a resume rebuilds no class of ours from it.
    for log in [final.stderr, *(p.read_text() for p in (run_dir.parent / "logs").glob("*.log"))]:
        assert "Deserializing unregistered type" not in log


@pytest.mark.skipif(not CHECK_RUN.exists(), reason=f"{CHECK_RUN} is a developer tool outside the repository")
def test_check_run_accepts_the_resumed_run(crashed):
    run_dir, _, _ = crashed
    out = check_run(run_dir)
    assert out.returncode == 0, out.stdout + out.stderr


def test_nodes_finished_before_a_kill_are_not_run_again(crashed):
    run_dir, _, _ = crashed
    assert_finished_nodes_ran_once(run_dir)  # adapt's event was committed before the kill between adapt and train


def test_no_training_round_is_applied_twice(crashed):
    run_dir, kills, _ = crashed
    summary = assert_rounds_trained_once(run_dir)
    # Round 1 was killed after its first step and again after its checkpoint was saved. Training is seeded, so
    # the round that counted started from the initial weights exactly as the killed ones did: had a resume
    # trained on top of the saved round_1 (a round applied twice), its first loss would be that run's last.
    first = summary["training"][0]
    assert first["loss_first"] == pytest.approx(kills["train"].seen["loss"], abs=1e-3)
    assert first["loss_first"] == pytest.approx(kills["trained"].seen["loss_first"], abs=1e-3)
    assert first["loss_last"] == pytest.approx(kills["trained"].seen["loss_last"], abs=1e-3)
    assert abs(kills["trained"].seen["loss_last"] - kills["trained"].seen["loss_first"]) > 1e-2


def test_teacher_requests_paid_before_a_kill_come_from_the_cache(crashed):
    run_dir, kills, _ = crashed
    # Over the five processes; the teach node killed mid-way was run again, its paid requests from the cache.
    assert_teacher_paid_once(run_dir, kills["teach"].events)


def test_summary_agrees_with_mastery_csv(crashed):
    run_dir, kills, _ = crashed
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = assert_mastery_rows_once(run_dir)
    last, first = str(summary["rounds"]), "0"
    for m in summary["modules"]:
        at = {r["round"]: r for r in rows if r["module"] == m["id"]}
        assert float(at[first]["p_student"]) == pytest.approx(m["p_student_initial"], abs=1e-4)
        assert float(at[last]["p_student"]) == pytest.approx(m["p_student_final"], abs=1e-4)
        assert float(at[last]["p_teacher"]) == pytest.approx(m["p_teacher"], abs=1e-4)
        assert (at[last]["state"] == "mastered") == m["mastered"]
    # The diagnosis killed after writing its rows was run again from the same checkpoint: same rows, not added ones.
    assert [r for r in rows if r["round"] == "1"] == [r for r in kills["diagnose"].mastery if r["round"] == "1"]
