"""The agent trace: one JSON event per agent action, appended to traces.jsonl."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ioa.errors import UsageError

AGENTS = ("teacher", "diagnostician", "planner", "adapter", "trainer")


class Tracer:
    """Appends events to ``traces.jsonl``; safe to call from the teacher's worker threads.

    Each line goes out in one append-mode write, so a killed run keeps every event it made; a line torn
    anyway (a full disk, a power cut) is ended before this tracer appends, so it costs no later event.
    """

    def __init__(self, path: Path | None, max_text: int = 2000) -> None:
        self.path = path
        self.max_text = max_text
        self._lock = threading.Lock()
        if path is not None:
            _end_torn_line(path)

    def clip(self, text: str) -> str:
        """Long prompts and outputs are cut so a trace stays readable and small."""
        if len(text) <= self.max_text:
            return text
        return text[: self.max_text] + f"... [{len(text) - self.max_text} more chars]"

    def event(
        self,
        *,
        round: int,
        node: str,
        agent: str,
        kind: str,
        summary: str,
        tokens: int = 0,
        latency_s: float = 0.0,
        **details: Any,
    ) -> dict[str, Any]:
        """Record one agent action; ``details`` carries the numbers behind it."""
        ev = {
            "ts": round_time(time.time()),
            "round": round,
            "node": node,
            "agent": agent,
            "kind": kind,
            "summary": summary,
            "tokens": tokens,
            "latency_s": round_time(latency_s),
            **details,
        }
        if self.path is not None:
            line = (json.dumps(ev, default=str) + "\n").encode()
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    while line:  # a short write means the disk is full: the next one raises
                        line = line[os.write(fd, line) :]
                finally:
                    os.close(fd)
        return ev


def _end_torn_line(path: Path) -> None:
    """Terminate a last line left without its newline, so the next event starts a line of its own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            fh.write(b"\n")


def round_time(seconds: float) -> float:
    return float(f"{seconds:.3f}")


def read_traces(path: Path) -> list[dict[str, Any]]:
    """All events of a run; a torn last line (a killed run) is skipped."""
    events = []
    if not path.exists():
        return events
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def select_events(events: list[dict[str, Any]], *, agent: str | None, round_: int | None) -> list[dict[str, Any]]:
    """The events of one agent and/or one round; an unknown agent name is a usage error, not an empty list."""
    if agent is not None and agent not in AGENTS:
        raise UsageError(f"unknown agent {agent!r}; agents: {', '.join(AGENTS)}")
    return [e for e in events if agent in (None, e.get("agent")) and round_ in (None, e.get("round"))]


def _detail(e: dict[str, Any]) -> str:
    """The why of an event, shown under its summary: a decision's reason, a failure's error."""
    if e.get("reason") and e["reason"] not in e["summary"]:
        return e["reason"]
    if e.get("error"):
        return e["error"]
    return ""


def print_traces(events: list[dict[str, Any]], console: Console | None = None) -> None:
    """A readable table of ``events``, one row per event."""
    table = Table("round", "node", "agent", "kind", "summary", "tokens", "s", title=f"{len(events)} events")
    for e in events:
        detail = _detail(e)
        text = Text(e["summary"])
        if detail:
            text.append("\n" + detail, style="dim")
        kind_style = "red" if e["kind"] in ("parse_failure", "request_failed") else ""
        table.add_row(
            str(e["round"]),
            e["node"],
            e["agent"],
            Text(e["kind"], style=kind_style),
            text,
            str(e.get("tokens", 0)),
            f"{e.get('latency_s', 0):.2f}",
        )
    (console or Console()).print(table)
