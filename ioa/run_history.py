"""State history and time travel: a run's LangGraph checkpoints, and forks of a run from any of them.

``history`` lists the checkpoints that SqliteSaver kept in RUN_DIR/checkpoints.sqlite (one per
super-step). ``fork`` starts a new run directory at one of them with a changed config: the
checkpoint chain up to that point is copied under the new run's thread id, together with the
files the state refers to, and ``ioa.resume`` (or ``ioa resume``) then continues it from there.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from ioa.config import Config, load_config
from ioa.errors import UsageError
from ioa.graph.build import build_graph
from ioa.rundir import RunDir, read_mastery, write_json, write_jsonl
from ioa.state import IOAState
from ioa.traces import read_traces

# The run's input checkpoint holds an IOAState; allowing the type by name keeps it readable without a warning.
SERDE = JsonPlusSerializer(allowed_msgpack_modules=[("ioa.state", "IOAState")])


@dataclass(frozen=True)
class Checkpoint:
    """One saved state of a run, as LangGraph's ``get_state_history`` reports it."""

    checkpoint_id: str
    parent_id: str | None
    step: int
    """LangGraph's super-step counter (-1 is the input, 0 the first node's start)."""
    created_at: str
    next: tuple[str, ...]
    """The nodes that run next from here; empty at the end of the run."""
    source: str
    """'input', 'loop' (a node ran), 'update' or 'fork'."""
    ran: tuple[str, ...]
    """The nodes whose output produced this checkpoint (its parent's ``next``)."""
    state: IOAState


def _thread(run_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": run_id, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


@contextmanager
def _saver(rd: RunDir) -> Iterator[SqliteSaver]:
    if not rd.checkpoints.exists():
        raise UsageError(f"{rd.root} has no checkpoints.sqlite")
    with closing(sqlite3.connect(str(rd.checkpoints), check_same_thread=False)) as conn:
        yield SqliteSaver(conn, serde=SERDE)


def history(run_dir: str | Path) -> list[Checkpoint]:
    """Every checkpoint of the run, newest first (LangGraph's order)."""
    rd = RunDir.open(Path(run_dir))
    with _saver(rd) as saver:
        snapshots = list(build_graph(saver).get_state_history(_thread(rd.run_id)))
    next_of = {snap.config["configurable"]["checkpoint_id"]: tuple(snap.next) for snap in snapshots}
    out = []
    for snap in snapshots:
        meta = snap.metadata or {}
        parent = (snap.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        out.append(
            Checkpoint(
                checkpoint_id=snap.config["configurable"]["checkpoint_id"],
                parent_id=parent,
                step=int(meta.get("step", -1)),
                created_at=snap.created_at or "",
                next=tuple(snap.next),
                source=str(meta.get("source", "")),
                ran=next_of.get(parent, ()) if parent else (),
                state=IOAState(**snap.values),
            )
        )
    return out


def _assignments(overrides: dict[str, Any] | list[str] | None) -> list[str]:
    """Overrides as ``key=value`` strings; dict values are written as JSON, which YAML reads back unchanged."""
    if isinstance(overrides, dict):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    return list(overrides or [])


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def fork(
    run_dir: str | Path,
    checkpoint_id: str,
    new_run_dir: str | Path,
    overrides: dict[str, Any] | list[str] | None = None,
) -> Path:
    """A new run directory that starts at ``checkpoint_id`` of ``run_dir``, with ``overrides`` applied to its config.

    ``overrides`` are dotted keys like the CLI's --set: ``{"rules.tau_mastery": 0.5}`` or
    ``["rules.tau_mastery=0.5"]``. Continue the fork with ``ioa.resume(new_run_dir)``.
    Changes that make the saved student unloadable (its architecture) are the caller's to avoid.
    """
    src = RunDir.open(Path(run_dir))
    config = load_config(src.config, _assignments(overrides), environ={})
    with _saver(src) as saver:
        chain = []  # the fork point, then its ancestors back to the run's input
        at: dict[str, Any] | None = _thread(src.run_id, checkpoint_id)
        while at is not None:
            tup = saver.get_tuple(at)
            if tup is None:
                raise UsageError(f"no checkpoint {checkpoint_id} in {src.root} (see ioa.history)")
            chain.append(tup)
            at = tup.parent_config
        snapshot = build_graph(saver).get_state(_thread(src.run_id, checkpoint_id))
    if not snapshot.next:
        raise UsageError(f"checkpoint {checkpoint_id} is the end of the run; fork an earlier one")
    state = IOAState(**snapshot.values)
    cutoff = _epoch(chain[0].checkpoint["ts"])

    dst = RunDir.create(Path(new_run_dir), config.to_yaml())
    _copy_files(src, dst, state)
    _copy_traces(src, dst, cutoff)
    _rebuild_memory(dst, config, state)
    # Oldest first, each under its parent: the new thread has the same past, and resume starts at the fork point.
    dst.checkpoints.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(str(dst.checkpoints), check_same_thread=False)) as conn:
        saver = SqliteSaver(conn, serde=SERDE)
        for tup in reversed(chain):
            parent = tup.parent_config["configurable"]["checkpoint_id"] if tup.parent_config else None
            saver.put(_thread(dst.run_id, parent), tup.checkpoint, tup.metadata, {})
    write_json(
        dst.root / "fork.json",
        {
            "from_run_dir": str(src.root),
            "from_run_id": src.run_id,
            "checkpoint_id": checkpoint_id,
            "round": state.round,
            "overrides": _assignments(overrides),
        },
    )
    return dst.root


def _round_of(name: str) -> int | None:
    """K of a ``round_K_...`` file or folder name; None for run-wide files such as the probes."""
    if not name.startswith("round_"):
        return None
    return int(name.split("_")[1])


def _needed(name: str, state: IOAState) -> bool:
    """Whether the fork needs this data file as of ``state``: a run-wide file, a file of a finished round, or one
    the state names (the teach files, the batch, the replay pool)."""
    k = _round_of(name)
    named = {Path(f).name for f in state.teach_files + state.batch + state.trained_files}
    return k is None or k <= state.round or name in named


def _copy_files(src: RunDir, dst: RunDir, state: IOAState) -> None:
    for f in sorted(src.data.iterdir()):
        if f.is_file() and _needed(f.name, state):
            shutil.copy2(f, dst.data / f.name)
    wanted = {Path(state.student_checkpoint).name} if state.student_checkpoint else set()
    for d in sorted(src.student.iterdir()):
        k = _round_of(d.name)  # round_K folders only: e.g. final/ belongs to the source run's end
        if d.is_dir() and (d.name in wanted or (k is not None and k <= state.round) or d == src.student_tokenizer):
            shutil.copytree(d, dst.student / d.name)
    if src.mastery.exists():
        rows = [r for r in read_mastery(src.mastery) if r.round <= state.round]
        for k in sorted({r.round for r in rows}):
            dst.write_mastery_round(k, [vars(r) for r in rows if r.round == k])
    if src.curriculum.exists() and json.loads(src.curriculum.read_text()).get("round", 0) <= state.round:
        shutil.copy2(src.curriculum, dst.curriculum)


def _copy_traces(src: RunDir, dst: RunDir, cutoff: float) -> None:
    """The events that happened before the fork point; the fork appends its own after them."""
    events = [e for e in read_traces(src.traces) if e["ts"] <= cutoff]
    if events:
        write_jsonl(dst.traces, events)


def _rebuild_memory(dst: RunDir, config: Config, state: IOAState) -> None:
    """Chroma as the state's latest diagnosis left it, under the run's own module names and descriptions (a seed
    file's come from the decomposition copied with the data), so the adapter's scaffolds find what they found."""
    if not state.mastery:
        return
    from ioa.agents.diagnostician import remember
    from ioa.domains import build_domain
    from ioa.memory import ConceptMemory

    modules = build_domain(config, dst).modules
    remember(ConceptMemory.open(dst.chroma), modules, state.round, state.mastery[-1], state.p_teacher, state.p_student)
