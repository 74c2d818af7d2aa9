"""What the training node replays: earlier examples of modules out of focus, mastered modules first (as the
state's latest diagnosis says, not Chroma)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ioa.rundir import RunDir, write_jsonl
from ioa.state import IOAState
from ioa.student_train.node import replay_examples

ADD, SUB, MUL = "arithmetic/addition", "arithmetic/subtraction", "arithmetic/multiplication"


def _replay(tmp_path: Path, n: int) -> list[str]:
    """The targets replayed from three earlier rounds (addition's a0-a3, subtraction's s0-s3,
    multiplication's m0-m3) while multiplication is in focus and addition is mastered."""
    run_dir = RunDir(tmp_path)
    for round_, module, tag in ((1, ADD, "a"), (2, SUB, "s"), (3, MUL, "m")):
        rows = [{"module": module, "prompt": f"q{i}", "target": f"{tag}{i}"} for i in range(4)]
        write_jsonl(run_dir.resolve(f"data/round_{round_}.jsonl"), rows)
    svc = SimpleNamespace(run_dir=run_dir)
    # The latest diagnosis is what counts: addition was mastered at round 3, subtraction only at round 2.
    mastery = [
        {ADD: "unmastered", SUB: "unmastered", MUL: "unmastered"},
        {ADD: "unmastered", SUB: "mastered", MUL: "unmastered"},
        {ADD: "mastered", SUB: "unmastered", MUL: "unmastered"},
    ]
    state = IOAState(trained_files=[f"data/round_{r}.jsonl" for r in (1, 2, 3)], focus=[MUL], mastery=mastery)
    return [e.target for e in replay_examples(svc, state, n, seed=0)]  # type: ignore[arg-type]


def test_mastered_modules_are_replayed_first_and_the_focus_not_at_all(tmp_path: Path) -> None:
    replayed = _replay(tmp_path, 6)
    assert sorted(replayed[:4]) == ["a0", "a1", "a2", "a3"]
    assert len(set(replayed[4:])) == 2 and all(t.startswith("s") for t in replayed[4:])


def test_replay_is_capped_by_the_pool_out_of_focus(tmp_path: Path) -> None:
    assert sorted(_replay(tmp_path, 20)) == [f"{tag}{i}" for tag in "as" for i in range(4)]
    assert _replay(tmp_path, 0) == []
