"""State history and time travel on a real run: list its checkpoints, fork one with another config, watch it diverge."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from ioa import fork, history, resume
from ioa.errors import UsageError
from ioa.run_history import _needed
from ioa.state import IOAState
from ioa.traces import read_traces


@pytest.mark.integration
def test_history_is_the_langgraph_checkpoint_chain(small_run):
    run_dir, summary = small_run
    checkpoints = history(run_dir)
    newest, oldest = checkpoints[0], checkpoints[-1]
    assert newest.next == () and newest.state.status == "completed" and newest.state.round == summary["rounds"]
    assert oldest.source == "input" and oldest.parent_id is None
    for child, parent in zip(checkpoints, checkpoints[1:], strict=False):
        assert child.parent_id == parent.checkpoint_id and child.step == parent.step + 1
    assert newest.ran == ("finish",) and oldest.ran == ()
    ran = [c.ran[0] for c in reversed(checkpoints) if c.ran]
    assert ran[:4] == ["__start__", "identify", "plan", "teach"] and ran.count("train") == summary["rounds"] - 1
    assert ran[-4:] == ["consolidate", "diagnose", "plan", "finish"]  # the last round consolidates what was taught


@pytest.mark.integration
def test_fork_with_another_config_diverges_from_the_original(small_run, tmp_path):
    run_dir, summary = small_run
    # The original went on to a second round after its first diagnosis, then consolidated in a third.
    assert summary["rounds"] == 3
    original = history(run_dir)
    # The moment after the first diagnosis, just before the planner gates round 1.
    point = next(c for c in original if c.next == ("plan",) and c.state.round == 1)

    fork_dir = fork(run_dir, point.checkpoint_id, tmp_path / "fork", {"budget.max_rounds": 1})
    config = yaml.safe_load((fork_dir / "config.yaml").read_text())
    assert (
        config["budget"]["max_rounds"] == 1
        and config["rules"] == yaml.safe_load((run_dir / "config.yaml").read_text())["rules"]
    )
    assert json.loads((fork_dir / "fork.json").read_text())["checkpoint_id"] == point.checkpoint_id
    before = history(fork_dir)
    assert before[0].checkpoint_id == point.checkpoint_id and before[0].state == point.state
    assert [c.checkpoint_id for c in before] == [c.checkpoint_id for c in original if c.step <= point.step]
    assert {int(r["round"]) for r in csv.DictReader((fork_dir / "mastery.csv").open())} == {0, 1}

    forked = resume(fork_dir, progress=False)
    assert forked["status"] == "completed" and forked["rounds"] == 2 != summary["rounds"]
    after = history(fork_dir)
    assert point.checkpoint_id in {c.checkpoint_id for c in after}
    assert not {c.checkpoint_id for c in after[: len(after) - len(before)]} & {c.checkpoint_id for c in original}
    last = [e for e in read_traces(fork_dir / "traces.jsonl") if e["agent"] == "planner" and e["kind"] == "decision"]
    assert [e["reason"] for e in last[-2:]] == ["round budget spent (1/1)", "everything taught is consolidated"]
    original_round1 = [
        e
        for e in read_traces(run_dir / "traces.jsonl")
        if e["agent"] == "planner" and e["kind"] == "decision" and e["round"] == 1
    ]
    assert original_round1 and all(e["decision"] != "finish" for e in original_round1)
    assert (fork_dir / "report.html").exists()


@pytest.mark.integration
def test_fork_refuses_unknown_and_final_checkpoints(small_run, tmp_path):
    run_dir, _ = small_run
    with pytest.raises(UsageError, match="no checkpoint"):
        fork(run_dir, "not-a-checkpoint", tmp_path / "a")
    with pytest.raises(UsageError, match="end of the run"):
        fork(run_dir, history(run_dir)[0].checkpoint_id, tmp_path / "b")
    with pytest.raises(UsageError, match="unknown key"):
        fork(run_dir, history(run_dir)[1].checkpoint_id, tmp_path / "c", ["rules.tau_nothing=1"])
    assert not any((tmp_path / d).exists() for d in "abc")


def test_a_fork_copies_the_files_of_its_past_only():
    # Round 1 is done; round 2 was taught twice and its first batch adapted, not yet trained.
    teach = ["data/round_1_teach_0.jsonl", "data/round_2_teach_0.jsonl", "data/round_2_teach_1.jsonl"]
    state = IOAState(round=1, teach_attempts=2, teach_files=teach, batch=["data/round_2_adapted_0.jsonl"])
    kept = [
        "probes.jsonl",
        "round_1_adapted_0.jsonl",
        "round_1_student_answers.jsonl",
        "round_2_teach_0.jsonl",
        "round_2_teach_1.jsonl",
        "round_2_adapted_0.jsonl",
    ]
    dropped = ["round_2_teach_2.jsonl", "round_2_adapted_1.jsonl", "round_2_student_answers.jsonl", "round_3_x.jsonl"]
    assert [_needed(n, state) for n in kept] == [True] * len(kept)
    assert [_needed(n, state) for n in dropped] == [False] * len(dropped)
