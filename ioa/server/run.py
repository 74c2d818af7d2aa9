"""One run's life on LangGraph Server: made or reopened from its request, its services built in the server's own
process (the same builder as `ioa run`), and what it leaves in its run directory when it ends."""

from __future__ import annotations

import functools
import logging
from contextlib import ExitStack
from typing import Any, Literal

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.runtime import Runtime

from ioa.context import Services
from ioa.events import Event, GraphReporter
from ioa.graph.build import Node
from ioa.graph.checkpoints import copy_checkpoints
from ioa.graph.runner import json_summary, open_services, write_partial_summary, write_report_of
from ioa.lock import run_lock
from ioa.server.errors import shown
from ioa.server.request import RunRequest
from ioa.state import IOAState

log = logging.getLogger("ioa.server")

Outcome = Literal["ended", "failed", "stopped"]


class ServedRun:
    """The run a request names, held for one server run: its directory's lock and its services, open from
    ``open`` to ``close``; ``bind`` hands those services to every node and route."""

    def __init__(self, request: RunRequest, thread_id: str) -> None:
        self.request, self.thread_id = request, thread_id
        self.svc: Services | None = None
        self.state: IOAState | None = None
        """The state the latest node or route started from: what a failed run's summary is written from."""
        self._stack = ExitStack()

    def open(self) -> None:
        """Check the request and make or reopen its run directory (bad input leaves none), lock it, start the
        teacher and build the services. Blocking: the server calls it from a worker thread."""
        rd = None
        try:
            rd, config, _ = self.request.resolve(self.thread_id)
            self._stack.enter_context(run_lock(rd.root))
            self.svc = self._stack.enter_context(open_services(config, rd, GraphReporter(_log)))
        except BaseException as exc:
            self._stack.close()
            if isinstance(exc, Exception) and (error := shown(exc, rd)):
                raise error from exc
            raise

    def bind(self, fn: Node) -> Node:
        """``fn`` run with this run's services as its runtime context, whatever context the caller sent."""

        @functools.wraps(fn)
        def bound(state: IOAState, runtime: Runtime[Any]) -> Any:
            self.state = state
            try:
                return fn(state, runtime.override(context=self.svc))
            except Exception as exc:
                if error := shown(exc, self.svc.run_dir if self.svc else None):
                    raise error from exc
                raise

        return bound

    def close(self, outcome: Outcome, checkpoints: list[CheckpointTuple]) -> None:
        """The report of a completed run, or the summary of what a failed or cancelled run reached, and a copy of
        the thread's ``checkpoints`` in the run directory; then stop the teacher and release the run directory."""
        try:
            svc = self.svc
            assert svc is not None
            if checkpoints:
                copy_checkpoints(checkpoints, svc.run_dir)
            completed = svc.run_dir.summary.exists() and json_summary(svc.run_dir).get("status") == "completed"
            if completed and svc.config.observability.report:
                write_report_of(svc.run_dir, svc.progress)
            elif not completed:
                status = "failed" if outcome == "failed" else "stopped"
                write_partial_summary(lambda: self.state, svc, status)
        finally:
            self._stack.close()


def _log(event: Event) -> None:
    # Outside a graph step (the teacher's start, the report) there is no run stream to write to.
    log.info(event.line())
