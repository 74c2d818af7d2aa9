"""The agent trace: one JSON event per agent action, appended to traces.jsonl."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

AGENTS = ("teacher", "diagnostician", "planner", "adapter", "trainer")


class Tracer:
    """Appends events to ``traces.jsonl``; safe to call from the teacher's worker threads.

    Each line is flushed as it is written, so a killed run keeps every event it made.
    """

    def __init__(self, path: Path | None, max_text: int = 2000) -> None:
        self.path = path
        self.max_text = max_text
        self._lock = threading.Lock()

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
            line = json.dumps(ev, default=str)
            with self._lock, self.path.open("a") as fh:
                fh.write(line + "\n")
        return ev


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
