"""`python tests/kill_harness.py POINT MARKER [--oracle TOKENIZER_DIR] ioa-args...`: the real `ioa` CLI, parked at
one point for a SIGKILL; and ``kill_at``, the test side that starts it, waits for it there and kills it.

The crash-and-resume tests (tests/test_resume_integration.py, tests/test_exact_resume_integration.py) kill real
runs with real SIGKILLs. To land each kill at its point every time rather than by timing luck, this wrapper runs
the unchanged CLI with one observer installed: when the run reaches POINT, the observer writes MARKER (JSON: the
pid and what it saw) and then sleeps until the test kills the process. Nothing of the run's own work is changed or
skipped. With ``--oracle``, the bench's oracle teacher stands in for the teacher server (tests/oracle_run.py), and
the tiny student speaks the tokenizer in TOKENIZER_DIR. Points (``none`` runs the CLI to its end):

- ``teach``: inside the teach node, right after the teacher's first worked solution of the round was paid
  for, cached and traced (the node's other requests may still be in flight);
- ``between``: between two nodes: adapt has finished and its checkpoint is written, train has done nothing;
- ``train``: inside the train node, after the first optimizer step was applied, before the round's
  checkpoint is saved;
- ``trained``: inside the train node, after the round's checkpoint folder was saved, before the node
  returns and LangGraph records the new state (the case where a resume could apply a round twice);
- ``diagnose``: inside a diagnose node (round >= 1), after mastery.csv and Chroma got the round's rows,
  before the node returns.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POINTS = ("teach", "between", "train", "trained", "diagnose")
HARNESS = Path(__file__).resolve()
TIMEOUT_S = 600


def run_args(run_dir: Path, overrides: list[str]) -> list[str]:
    """The CLI arguments of a quiet ``ioa run`` into ``run_dir`` with ``overrides`` (``--set`` each)."""
    return ["run", "--run-dir", str(run_dir), "--quiet", *(a for s in overrides for a in ("--set", s))]


def park(marker: Path, **seen: Any) -> None:
    """Tell the test we are at the point, then wait for its SIGKILL (never return)."""
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **seen}))
    tmp.rename(marker)
    while True:
        time.sleep(1)


def _teach(marker: Path) -> None:
    from ioa.traces import Tracer

    event = Tracer.event

    @functools.wraps(event)
    def traced(self: Tracer, **kw: Any) -> dict[str, Any]:
        ev = event(self, **kw)
        if kw.get("node") == "teach" and kw.get("agent") == "teacher" and kw.get("calls"):
            park(marker, item=kw.get("item"))
        return ev

    Tracer.event = traced  # type: ignore[method-assign]


def _train(marker: Path, after_save: bool) -> None:
    import ioa.student_train.node as node

    train_student = node.train_student

    @functools.wraps(train_student)
    def train(*args: Any, progress: Any = None, **kw: Any) -> Any:
        def on_step(step: int, total: int, loss: float) -> None:
            progress(step, total, loss)
            if not after_save:
                park(marker, step=step, loss=loss)

        result = train_student(*args, progress=on_step, **kw)
        park(marker, steps=result.steps, loss_first=result.loss_first, loss_last=result.loss_last)

    node.train_student = train


def _diagnose(marker: Path) -> None:
    import ioa.agents.diagnostician as diag

    record = diag._record

    @functools.wraps(record)
    def recorded(svc: Any, round_: int, *args: Any) -> dict[str, str]:
        verdicts = record(svc, round_, *args)
        if round_ >= 1:
            park(marker, round=round_)
        return verdicts

    diag._record = recorded


def _between(marker: Path) -> None:
    import ioa.graph.build as build
    import ioa.graph.runner as runner

    built = {}
    build_graph = runner.build_graph

    def keep(checkpointer: Any = None) -> Any:
        built["graph"] = build_graph(checkpointer)
        return built["graph"]

    def parked_train(state: Any, runtime: Any) -> dict[str, Any]:
        # Update chunks are streamed before their step is checkpointed, so park at the very start of the
        # next node instead, once the saved state says adapt is done ("async" durability writes it in the
        # background); the train node has done nothing yet.
        thread = {"configurable": {"thread_id": runtime.context.run_dir.run_id}}
        while (saved := built["graph"].get_state(thread)).next != ("train",):
            time.sleep(0.1)
        park(marker, next=list(saved.next))
        raise AssertionError("unreachable")

    runner.build_graph = keep
    build.train_on_batch = parked_train


def install(point: str, marker: Path) -> None:
    if point == "none":
        return
    if point == "teach":
        _teach(marker)
    elif point in ("train", "trained"):
        _train(marker, after_save=point == "trained")
    elif point == "diagnose":
        _diagnose(marker)
    elif point == "between":
        _between(marker)
    else:
        raise SystemExit(f"unknown point {point!r}; points: none, {', '.join(POINTS)}")


def _use_oracle(tokenizer_dir: Path) -> None:
    from oracle_run import runner_patches

    import ioa.graph.runner as runner

    for name, replacement in runner_patches(tokenizer_dir).items():
        setattr(runner, name, replacement)


# --- the test side ------------------------------------------------------------------------------


@dataclass
class Kill:
    """What one killed process left behind, read after it was dead."""

    point: str
    returncode: int
    seen: dict
    """The harness's marker: what the process saw when it parked."""
    children: list[int]
    """Children of the process when it parked (the embedded teacher server, if it serves the run)."""
    orphans: list[int]
    """Those children still alive 20 s after the kill."""
    events: list[dict]
    mastery: list[dict]
    student: list[str]


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent (here init) has yet to reap it


def read_mastery(run_dir: Path) -> list[dict]:
    path = run_dir / "mastery.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def kill_at(point: str, args: list[str], run_dir: Path, logs: Path, env: dict[str, str] | None = None) -> Kill:
    """Start the harness with ``args`` (harness options, then the CLI's), wait until it parks at ``point``, SIGKILL
    its process group, and read what it left in ``run_dir``; fails the test if it never gets there."""
    import pytest

    from ioa.traces import read_traces

    marker = logs / f"{point}.json"
    with (logs / f"{point}.log").open("w") as log:
        proc = subprocess.Popen(
            ["nice", "-n", "10", sys.executable, str(HARNESS), point, str(marker), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + TIMEOUT_S
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            tail = (logs / f"{point}.log").read_text()[-3000:]
            pytest.fail(f"the run never reached {point!r} (exit {proc.returncode}): {tail}")
        time.sleep(0.1)
    seen = json.loads(marker.read_text())
    children = _children(seen["pid"])
    with contextlib.suppress(ProcessLookupError):  # the group may be gone already under load
        os.killpg(proc.pid, signal.SIGKILL)  # the run's process group; the teacher server has its own session
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    return Kill(
        point=point,
        returncode=proc.returncode,
        seen=seen,
        children=children,
        orphans=[c for c in children if _alive(c)],
        events=read_traces(run_dir / "traces.jsonl"),
        mastery=read_mastery(run_dir),
        student=sorted(p.name for p in (run_dir / "student").iterdir()),
    )


if __name__ == "__main__":
    point, marker_path, *cli_args = sys.argv[1:]
    if cli_args[:1] == ["--oracle"]:
        _use_oracle(Path(cli_args[1]))
        cli_args = cli_args[2:]
    install(point, Path(marker_path))
    sys.argv = ["ioa", *cli_args]
    from ioa.cli import main

    main()
