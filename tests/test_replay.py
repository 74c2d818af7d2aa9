"""What the training node replays: every earlier example, the focus modules' earlier lessons included, weighted by
its module's tier as the state's latest diagnosis says (not Chroma), and drawn afresh every epoch."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from ioa.config import StudentConfig, TrainingConfig
from ioa.rundir import RunDir, write_jsonl
from ioa.state import IOAState
from ioa.student_train import load_student
from ioa.student_train import train as train_module
from ioa.student_train.node import REPLAY_WEIGHTS, replay_pool
from ioa.student_train.train import Example, Replay, _weighted_sample, train_student

ADD, SUB, MUL = "arithmetic/addition", "arithmetic/subtraction", "arithmetic/multiplication"


def _pool(tmp_path: Path, per_epoch: int) -> Replay | None:
    """The replay of three earlier rounds (addition's a0-a3, subtraction's s0-s3, multiplication's m0-m3) while
    multiplication is in focus, addition was mastered at the latest diagnosis and subtraction only at the one
    before (so it is forgotten)."""
    run_dir = RunDir(tmp_path)
    for round_, module, tag in ((1, ADD, "a"), (2, SUB, "s"), (3, MUL, "m")):
        rows = [{"module": module, "prompt": f"q{tag}{i}", "target": f"{tag}{i}"} for i in range(4)]
        write_jsonl(run_dir.resolve(f"data/round_{round_}.jsonl"), rows)
    mastery = [
        {ADD: "unmastered", SUB: "unmastered", MUL: "unmastered"},
        {ADD: "unmastered", SUB: "mastered", MUL: "unmastered"},
        {ADD: "mastered", SUB: "forgotten", MUL: "unmastered"},
    ]
    state = IOAState(trained_files=[f"data/round_{r}.jsonl" for r in (1, 2, 3)], focus=[MUL], mastery=mastery)
    return replay_pool(SimpleNamespace(run_dir=run_dir), state, per_epoch)  # type: ignore[arg-type]


def test_every_earlier_example_is_in_the_pool_weighted_by_its_modules_tier(tmp_path: Path) -> None:
    replay = _pool(tmp_path, 3)
    assert replay is not None and replay.per_epoch == 3
    weight = {e.target: w for e, w in zip(replay.pool, replay.weights, strict=True)}
    forgotten, fresh, _ = REPLAY_WEIGHTS
    # The focus module's earlier lesson (m0-m3) stays in the pool: its words are forgotten like any other.
    assert weight == {
        **{f"s{i}": forgotten for i in range(4)},
        **{f"a{i}": fresh for i in range(4)},
        **{f"m{i}": 1.0 for i in range(4)},
    }


def test_nothing_to_replay_before_the_first_round_or_at_a_zero_share(tmp_path: Path) -> None:
    assert _pool(tmp_path, 0) is None
    assert replay_pool(SimpleNamespace(run_dir=RunDir(tmp_path)), IOAState(), 3) is None  # type: ignore[arg-type]


def test_a_weighted_draw_is_distinct_and_favours_the_heavier() -> None:
    rng = random.Random(0)
    weights = [8.0] * 2 + [1.0] * 8
    counts: Counter[int] = Counter()
    for _ in range(2000):
        drawn = _weighted_sample(weights, 3, rng)
        assert len(set(drawn)) == 3
        counts.update(drawn)
    heavy, light = sum(counts[i] for i in range(2)) / 2, sum(counts[i] for i in range(2, 10)) / 8
    assert heavy > 3 * light
    assert _weighted_sample(weights, 20, rng) and len(_weighted_sample(weights, 20, rng)) == 10


def test_weights_must_match_the_pool() -> None:
    with pytest.raises(ValueError, match="one positive weight"):
        Replay([Example("q", "a")], [1.0, 2.0], 1)
    with pytest.raises(ValueError, match="one positive weight"):
        Replay([Example("q", "a")], [0.0], 1)


def test_each_epoch_trains_the_new_examples_and_a_fresh_draw_of_the_pool(
    tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over a round's epochs the replay comes back in turn, a draw of ``per_epoch`` each epoch, not the same few."""
    from student_helpers import TINY

    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    new = [Example(f"What is {i} + 1?", f"Answer: {i + 1}") for i in range(4)]
    pool = [Example(f"What is {i} + 2?", f"Answer: {i + 2}") for i in range(8)]
    batches: list = []
    collate = train_module._collate

    def recording(rows, pad_id):
        batches.append(rows)
        return collate(rows, pad_id)

    monkeypatch.setattr(train_module, "_collate", recording)
    result = train_student(
        student,
        new,
        TrainingConfig(epochs=6, batch_size=8, lr=1e-3),
        tmp_path / "out",
        replay=Replay(pool, [1.0] * 8, 2),
    )
    assert result.examples == 6 and result.steps == 6 and [len(rows) for rows in batches] == [6] * 6
    tok = student.tokenizer
    prompts = [tok.decode(ids[:plen]) for rows in batches for ids, plen in rows]
    replayed = {e.prompt for e in pool if any(e.prompt in p for p in prompts)}
    assert all(sum(e.prompt in p for p in prompts) == 6 for e in new)
    assert len(replayed) >= 6  # twelve draws of two over six epochs reach most of the eight
