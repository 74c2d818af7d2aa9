"""The training node: fine-tunes the student on the ready ZPD batch plus replay of earlier material."""

from __future__ import annotations

import random
import time
from typing import Any

from langgraph.runtime import Runtime

from ioa.graph.context import Services
from ioa.rundir import read_jsonl
from ioa.state import IOAState
from ioa.student_train.train import Example, default_epochs, train_student

AGENT = "trainer"


def replay_examples(svc: Services, state: IOAState, n: int, seed: int) -> list[Example]:
    """Up to ``n`` earlier examples, from mastered modules first, so new lessons don't erase old ones."""
    if n <= 0 or not state.trained_files:
        return []
    pool = [
        r for f in state.trained_files for r in read_jsonl(svc.run_dir.resolve(f)) if r["module"] not in state.focus
    ]
    mastered = [r for r in pool if svc.memory.state(r["module"]) == "mastered"]
    rng = random.Random(seed)
    chosen = rng.sample(mastered, min(n, len(mastered)))
    rest = [r for r in pool if r not in chosen]
    chosen += rng.sample(rest, min(n - len(chosen), len(rest)))
    return [Example(prompt=r["prompt"], target=r["target"]) for r in chosen]


def train_on_batch(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Train from the checkpoint named in the state, save a new one, and clear the batch."""
    svc = runtime.context
    cfg = svc.config.training
    round_ = state.round + 1
    examples = [
        Example(prompt=r["prompt"], target=r["target"]) for f in state.batch for r in read_jsonl(svc.run_dir.resolve(f))
    ]
    done = {"batch": [], "batch_examples": 0, "teach_attempts": 0, "trained_files": list(state.batch)}
    if not examples:
        svc.tracer.event(
            round=round_,
            node="train",
            agent=AGENT,
            kind="skip",
            summary="no adapted example survived verification; nothing to train on",
        )
        return done
    n_replay = round(cfg.replay_fraction * len(examples) / (1 - cfg.replay_fraction))
    replay = replay_examples(svc, state, n_replay, seed=cfg.seed + round_)
    student = svc.student(state.student_checkpoint)
    out = svc.run_dir.student / f"round_{round_}"
    started = time.perf_counter()
    data = examples + replay
    steps = default_epochs(student, cfg) * -(-len(data) // cfg.batch_size)
    svc.progress.node("train", round_, f"{len(examples)} new + {len(replay)} replay examples, {steps} steps")
    losses: list[float] = []  # every step's loss, traced for the report's loss curves
    with svc.progress.step(f"training the student (round {round_})", steps) as advance:

        def on_step(step: int, total: int, loss: float) -> None:
            losses.append(round(loss, 4))
            advance(1, f"loss {loss:.3f}")

        result = train_student(student, data, cfg, out, progress=on_step)
    checkpoint = svc.run_dir.relative(out)
    svc.adopt_student(student, checkpoint)
    svc.tracer.event(
        round=round_,
        node="train",
        agent=AGENT,
        kind="training",
        summary=f"{result.steps} steps on {len(examples)}+{len(replay)} examples, "
        f"loss {result.loss_first:.3f} -> {result.loss_last:.3f}",
        latency_s=time.perf_counter() - started,
        checkpoint=checkpoint,
        steps=result.steps,
        tokens_trained=result.tokens,
        loss_first=result.loss_first,
        loss_last=result.loss_last,
        losses=losses,
        replay=len(replay),
    )
    log = {
        "round": round_,
        "steps": result.steps,
        "examples": len(examples),
        "replay": len(replay),
        "loss_first": result.loss_first,
        "loss_last": result.loss_last,
    }
    return {**done, "student_checkpoint": checkpoint, "train_log": [log]}
