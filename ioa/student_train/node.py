"""The training nodes: the ready ZPD batch plus replay of earlier material, and the final consolidation of it all."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from ioa.config import TrainingConfig
from ioa.context import Services
from ioa.rundir import read_jsonl
from ioa.state import IOAState
from ioa.student_train.train import (
    Example,
    Replay,
    consolidation_epochs,
    replay_count,
    round_epochs,
    train_student,
    until_learnt,
)

AGENT = "trainer"


REPLAY_WEIGHTS = (8.0, 4.0, 2.0)
"""How heavily replay draws an earlier example of a forgotten, a newly mastered and another mastered module; every
other earlier example weighs 1. Each tier is drawn twice as often as the next."""


def replay_priority(state: IOAState) -> list[set[str]]:
    """Modules in the order replay favours them: forgotten, then newly mastered (mastered at the latest diagnosis
    but not the one before), then the rest of the mastered; what no tier names is replayed last."""
    latest = state.mastery[-1] if state.mastery else {}
    before = state.mastery[-2] if len(state.mastery) > 1 else {}
    forgotten = {k for k, v in latest.items() if v == "forgotten"}
    mastered = {k for k, v in latest.items() if v == "mastered"}
    fresh = {k for k in mastered if before.get(k) != "mastered"}
    return [forgotten, fresh, mastered - fresh]


def replay_pool(svc: Services, state: IOAState, per_epoch: int) -> Replay | None:
    """Every example trained in earlier rounds, weighted by its module's tier (``replay_priority``), to draw
    ``per_epoch`` of afresh each epoch. The focus modules' earlier lessons are in the pool too: a student forgets the
    words of last round's lesson while it learns this round's (r24: capitals 0.33 after round 1, 0.08 two rounds
    later), and the stage's gate needs them all at once."""
    if per_epoch <= 0 or not state.trained_files:
        return None
    pool = [r for f in state.trained_files for r in read_jsonl(svc.run_dir.resolve(f))]
    tiers = replay_priority(state)

    def weight(module: str) -> float:
        return next((w for tier, w in zip(tiers, REPLAY_WEIGHTS, strict=True) if module in tier), 1.0)

    return Replay(
        pool=[Example(prompt=r["prompt"], target=r["target"]) for r in pool],
        weights=[weight(r["module"]) for r in pool],
        per_epoch=per_epoch,
    )


def _examples(svc: Services, files: list[str]) -> list[Example]:
    return [Example(prompt=r["prompt"], target=r["target"]) for f in files for r in read_jsonl(svc.run_dir.resolve(f))]


def _train(
    svc: Services,
    state: IOAState,
    node: str,
    data: list[Example],
    cfg: TrainingConfig,
    what: str,
    pool: Replay | None = None,
    stop_when_learnt: bool = False,
    **log: int,
) -> dict[str, Any]:
    """Train ``cfg.epochs`` over ``data`` from the state's checkpoint (fewer, with ``stop_when_learnt``, once it is
    learnt), save round ``state.round + 1``, trace it."""
    round_ = state.round + 1
    student = svc.student(state.student_checkpoint)
    out = svc.run_dir.student / f"round_{round_}"
    started = time.perf_counter()
    drawn = pool.drawn if pool else 0
    steps = cfg.epochs * -(-(len(data) + drawn) // cfg.batch_size)
    svc.progress.node(node, round_, f"{what}, {'at most ' if stop_when_learnt else ''}{steps} steps")
    losses: list[float] = []  # every step's loss, traced for the report's loss curves
    with svc.progress.step(f"training the student (round {round_})", steps) as advance:

        def on_step(step: int, total: int, loss: float) -> None:
            losses.append(round(loss, 4))
            advance(1, f"loss {loss:.3f}")

        result = train_student(
            student,
            data,
            cfg,
            out,
            progress=on_step,
            max_len=state.lengths.get("train_seq"),
            replay=pool,
            stop_when_learnt=stop_when_learnt,
        )
    checkpoint = svc.run_dir.relative(out)
    svc.adopt_student(student, checkpoint)
    svc.tracer.event(
        round=round_,
        node=node,
        agent=AGENT,
        kind="training",
        summary=f"{result.steps} steps on {what}, loss {result.loss_first:.3f} -> {result.loss_last:.3f}"
        + (f"; stopped, the batch learnt (at most {steps})" if result.steps < steps else ""),
        latency_s=time.perf_counter() - started,
        checkpoint=checkpoint,
        steps=result.steps,
        max_steps=steps,
        tokens_trained=result.tokens,
        loss_first=result.loss_first,
        loss_last=result.loss_last,
        losses=losses,
        **log,
    )
    record = {
        "round": round_,
        "steps": result.steps,
        "passes": result.epochs * (len(data) + drawn),
        **log,
        "loss_first": result.loss_first,
        "loss_last": result.loss_last,
    }
    usage = {"truncated_train_seq": result.truncated, "items_train_seq": len(data)}
    return {"student_checkpoint": checkpoint, "train_log": [record], "usage": usage}


def _skip(svc: Services, state: IOAState, node: str) -> None:
    svc.tracer.event(
        round=state.round + 1,
        node=node,
        agent=AGENT,
        kind="skip",
        summary="no adapted example survived verification; nothing to train on",
    )


def train_on_batch(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Train from the checkpoint named in the state, save a new one, and clear the batch."""
    svc = runtime.context
    cfg = svc.config.training
    examples = _examples(svc, state.batch)
    done = {"batch": Overwrite([]), "batch_examples": 0, "teach_attempts": 0, "trained_files": list(state.batch)}
    if not examples:
        _skip(svc, state, "train")
        return done
    replay = replay_pool(svc, state, replay_count(cfg, len(examples)))
    drawn, earlier = (replay.drawn, len(replay.pool)) if replay else (0, 0)
    student = svc.student(state.student_checkpoint)
    epochs = round_epochs(student, cfg, len(examples) + drawn)
    stop = until_learnt(student, cfg)
    # Its own data order and replay draws: the seed of its round, as consolidation's.
    cfg = cfg.model_copy(update={"epochs": epochs, "seed": cfg.seed + state.round + 1})
    what = f"{len(examples)} new + {drawn} replayed per epoch (of {earlier} earlier)"
    log = {"examples": len(examples), "replay": drawn, "replay_pool": earlier}
    trained = _train(svc, state, "train", examples, cfg, what, replay, stop, **log)
    return {**done, **trained}


def consolidate_taught(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Train the epochs each example kept back (``training.consolidation_epochs``) over every example taught.

    Each round's batch trains on its own, so the last rounds weigh most in what the student keeps; consolidation
    spends the epochs each example kept back on one pass over the whole curriculum, as uniform synthesis
    trains on it, so no example is trained more often than without it.
    """
    svc = runtime.context
    examples = _examples(svc, state.trained_files)
    if not examples:
        _skip(svc, state, "consolidate")
        return {"consolidated": True}
    # Its own data order: the seed of its round, as each round's.
    cfg = svc.config.training
    kept = consolidation_epochs(svc.student(state.student_checkpoint), cfg)
    cfg = cfg.model_copy(update={"epochs": kept, "seed": cfg.seed + state.round + 1})
    what = f"consolidation of {len(examples)} examples"
    trained = _train(svc, state, "consolidate", examples, cfg, what, consolidation=len(examples))
    return {**trained, "consolidated": True}
