"""Progress events: what a run reports while it runs, one typed object per report.

The same events feed every display: ``ioa.stream`` yields them, the CLI's progress (``ioa.progress.RunProgress``)
and notebook 01 render them, and on LangGraph Server they travel as the run's ``custom`` stream (node reports)
and ``updates`` stream (finished nodes), from which ``event_from_dict`` and ``node_finished`` rebuild them.
Every event names a node and a round and carries a one-line ``summary`` and its ``numbers``.
"""

from __future__ import annotations

import contextvars
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

Advance = Callable[..., None]


@dataclass(frozen=True)
class Event:
    """Something a run reports: where (``node``, ``round``), what (``summary``) and how much (``numbers``)."""

    node: str
    round: int
    summary: str
    numbers: dict[str, float] = field(default_factory=dict)
    kind: ClassVar[str] = "event"

    def line(self) -> str:
        """The event as one line of text, as the CLI and the notebook print it."""
        return f"round {self.round} {self.node:<11} {self.summary}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, tagged with ``kind``: what crosses LangGraph Server's stream."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class NodeMessage(Event):
    """A node says what it is doing or decided (the CLI's log lines)."""

    kind: ClassVar[str] = "message"


@dataclass(frozen=True)
class StepProgress(Event):
    """A long step (probes answered, solutions written, training steps) has done ``numbers['done']`` of
    ``numbers['total']``; ``summary`` names the step, ``note`` adds a detail (the loss), ``finished`` ends it."""

    note: str = ""
    finished: bool = False
    kind: ClassVar[str] = "step"

    def line(self) -> str:
        done, total = int(self.numbers["done"]), int(self.numbers["total"])
        return f"round {self.round} {self.node:<11} {self.summary}: {done}/{total} {self.note}".rstrip()


@dataclass(frozen=True)
class NodeFinished(Event):
    """A node returned and its update is part of the state; ``numbers`` are the numeric parts of that update."""

    kind: ClassVar[str] = "node"


@dataclass(frozen=True)
class RunFinished(Event):
    """The run ended; ``result`` is its summary.json."""

    result: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "run"


SCORES = ("p_teacher", "p_student", "p_student_initial")
"""State fields holding a score per module; a finished node reports their mean."""

KINDS: dict[str, type[Event]] = {cls.kind: cls for cls in (NodeMessage, StepProgress, NodeFinished, RunFinished)}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The typed event of ``Event.to_dict`` output, e.g. a ``custom`` chunk streamed by LangGraph Server."""
    values = dict(data)
    cls = KINDS[values.pop("kind")]
    return cls(**values)


def node_finished(node: str, update: dict[str, Any] | None, round_: int) -> NodeFinished:
    """The event of one ``updates`` chunk entry: the node's numeric fields, usage counters and mean scores."""
    numbers: dict[str, float] = {}
    for key, value in (update or {}).items():
        if _is_number(value):
            numbers[key] = value
        elif key == "usage" and isinstance(value, dict):  # the counters the state sums
            numbers.update({f"usage.{k}": v for k, v in value.items() if _is_number(v)})
        elif key in SCORES and isinstance(value, dict) and value:
            numbers[f"{key}.mean"] = statistics.fmean(value.values())
    changed = ", ".join(sorted(update or {})) or "nothing"
    return NodeFinished(
        node=node, round=int(numbers.get("round", round_)), summary=f"updated {changed}", numbers=numbers
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Reporter:
    """What nodes report progress through (``Services.progress``): ``node`` for a line, ``step`` for a long step.

    Each report becomes an event handed to ``emit``; subclasses decide where it goes.
    """

    def __init__(self) -> None:
        self._node, self._round = "setup", 0

    def emit(self, event: Event) -> None:
        """Deliver one event; the base reporter drops it."""

    def node(self, name: str, round_: int, message: str) -> None:
        """Report what node ``name`` is doing in round ``round_``."""
        self._node, self._round = name, round_
        self.emit(NodeMessage(node=name, round=round_, summary=message))

    @contextmanager
    def step(self, description: str, total: int) -> Iterator[Advance]:
        """A long step of ``total`` units; the caller advances it, optionally with a note."""
        emit = self._sink()  # fixed here, in the node's thread: advances may come from worker threads
        where = {"node": self._current_node(), "round": self._round, "summary": description}
        state = {"done": 0}

        def report(note: str = "", finished: bool = False) -> None:
            numbers = {"done": state["done"], "total": total}
            emit(StepProgress(**where, numbers=numbers, note=note, finished=finished))

        def advance(n: int = 1, note: str = "") -> None:
            state["done"] += n
            report(note)

        report()
        try:
            yield advance
        finally:
            report(finished=True)

    def _sink(self) -> Callable[[Event], None]:
        return self.emit

    def _current_node(self) -> str:
        return self._node


class GraphReporter(Reporter):
    """Reports into the running graph's ``custom`` stream, so ``ioa.stream`` and LangGraph Server clients see them
    live; outside a graph step (starting the teacher, writing the report) it hands them to ``outside``."""

    def __init__(self, outside: Callable[[Event], None] | None = None) -> None:
        super().__init__()
        self.outside = outside

    def emit(self, event: Event) -> None:
        self._sink()(event)

    def _sink(self) -> Callable[[Event], None]:
        from langgraph.config import get_stream_writer

        try:
            writer = get_stream_writer()
        except (RuntimeError, AttributeError):  # no graph step is running here (or a server's graph factory is)
            return self.outside or (lambda event: None)
        # The async graph's writer looks up the run's config in context variables, which the teacher's worker
        # threads lack: each write runs in a copy of this thread's context.
        context = contextvars.copy_context()
        return lambda event: context.copy().run(writer, event.to_dict())

    def _current_node(self) -> str:
        from langgraph.config import get_config

        try:  # a step may start before its node's first message
            return get_config()["metadata"].get("langgraph_node", self._node)
        except RuntimeError:
            return self._node
