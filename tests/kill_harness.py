"""`python tests/kill_harness.py POINT MARKER ioa-args...`: the real `ioa` CLI, parked at one point for a SIGKILL.

The crash-and-resume test (tests/test_resume_integration.py) kills real runs with real SIGKILLs. To land each
kill at its point every time rather than by timing luck, this wrapper runs the unchanged CLI with one observer
installed: when the run reaches POINT, the observer writes MARKER (JSON: the pid and what it saw) and then
sleeps until the test kills the process. Nothing of the run's own work is changed or skipped. Points:

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

import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

POINTS = ("teach", "between", "train", "trained", "diagnose")


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
    if point == "teach":
        _teach(marker)
    elif point in ("train", "trained"):
        _train(marker, after_save=point == "trained")
    elif point == "diagnose":
        _diagnose(marker)
    elif point == "between":
        _between(marker)
    else:
        raise SystemExit(f"unknown point {point!r}; points: {', '.join(POINTS)}")


if __name__ == "__main__":
    point, marker_path, *cli_args = sys.argv[1:]
    install(point, Path(marker_path))
    sys.argv = ["ioa", *cli_args]
    from ioa.cli import main

    main()
