"""What the report shows, read from the run directory's files alone (docs/design.md §8), so any run can be reported."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ioa.config import load_config
from ioa.rundir import MasteryRow, RunDir, read_mastery
from ioa.traces import read_traces


@dataclass
class TrainingRound:
    """One training round, from the trainer's trace event: the loss after every optimizer step."""

    round: int
    steps: int
    losses: list[float]


@dataclass
class ReportData:
    """Everything the plots and the page need; a run stopped early simply has less of it."""

    run_dir: Path
    tau_mastery: float
    summary: dict[str, Any] | None
    mastery: list[MasteryRow]
    curriculum: dict[str, Any] | None
    teacher_calls: dict[int, int] = field(default_factory=dict)
    """Teacher requests per round (each traced completion, parse failure or failed request is one)."""
    teacher_tokens: dict[int, int] = field(default_factory=dict)
    """Prompt + completion tokens per round."""
    training: list[TrainingRound] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    """The planner's traced decisions, batch checks and curricula, in order."""

    @property
    def rounds(self) -> list[int]:
        return sorted({r.round for r in self.mastery})

    def last_states(self) -> dict[str, MasteryRow]:
        """Each module's row in the last diagnosed round."""
        if not self.mastery:
            return {}
        last = max(self.rounds)
        return {r.module: r for r in self.mastery if r.round == last}


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def load_report_data(run_dir: str | Path) -> ReportData:
    """Read one run directory (checked like `ioa resume` checks it) into a ReportData."""
    rd = RunDir.open(Path(run_dir))
    events = read_traces(rd.traces)
    calls: dict[int, int] = defaultdict(int)
    tokens: dict[int, int] = defaultdict(int)
    training: dict[int, TrainingRound] = {}
    decisions = []
    for e in events:
        if e.get("agent") == "teacher" and e.get("program"):
            # Per-request events carry the program name; the teach node's round summary does not.
            calls[e["round"]] += 1
            tokens[e["round"]] += int(e.get("tokens", 0))
        elif e.get("agent") == "trainer" and e.get("kind") == "training":
            losses = e.get("losses") or [e["loss_first"], e["loss_last"]]
            # A round killed after its event but before its checkpoint is trained again on resume: the last counts.
            training[e["round"]] = TrainingRound(
                round=e["round"], steps=int(e.get("steps", len(losses))), losses=losses
            )
        elif e.get("agent") == "planner":
            decisions.append(e)
    return ReportData(
        run_dir=rd.root,
        tau_mastery=load_config(rd.config, environ={}).rules.tau_mastery,
        summary=_read_json(rd.summary),
        mastery=read_mastery(rd.mastery),
        curriculum=_read_json(rd.curriculum),
        teacher_calls=dict(calls),
        teacher_tokens=dict(tokens),
        training=sorted(training.values(), key=lambda t: t.round),
        decisions=decisions,
    )
