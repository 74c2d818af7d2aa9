"""OUT/trials.jsonl: every trial's record, written the moment it finishes, so a stopped bench resumes.

A trial is a pure function of (settings, strategy, seed, lr), so a record stays valid for any later
bench in the same OUT with the same settings, including one that asks for more seeds or strategies.
OUT/trial_settings.json holds those settings; a bench with other settings is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ioa.config import Config
from ioa.errors import UsageError
from ioa.rundir import atomic_write, write_json

TrialKey = tuple[str, int, float]
"""(strategy, seed, lr)."""

_NOT_PER_TRIAL = ("strategies", "seeds", "first_seed", "workers", "lrs")
"""Bench settings that choose which trials run and how, not what a trial computes (a trial's lr is in its key)."""


def trial_settings(config: Config) -> dict[str, Any]:
    """The config a trial's record depends on."""
    dump = config.model_dump(mode="json")
    dump["bench"] = {k: v for k, v in dump["bench"].items() if k not in _NOT_PER_TRIAL}
    return dump


def _first_difference(saved: Any, current: Any, path: str = "") -> str:
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current)):
            if saved.get(key) != current.get(key):
                return _first_difference(saved.get(key), current.get(key), f"{path}.{key}" if path else key)
    return f"{path}: {saved!r} there, {current!r} now"


class TrialLog:
    """The finished trials of one OUT directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, out: Path, config: Config) -> TrialLog:
        """OUT's trial log; refuses an OUT whose trials ran with other settings, before anything starts."""
        settings, saved_at = trial_settings(config), out / "trial_settings.json"
        if not saved_at.exists():
            write_json(saved_at, settings)
        else:
            saved = json.loads(saved_at.read_text())
            if saved != settings:
                raise UsageError(
                    f"{out} holds trials run with other settings ({_first_difference(saved, settings)}); "
                    "use another --out, or delete the directory to start over"
                )
        return cls(out / "trials.jsonl")

    def records(self) -> dict[TrialKey, dict[str, Any]]:
        """The finished trials, by (strategy, seed, lr)."""
        records: dict[TrialKey, dict[str, Any]] = {}
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill mid-write: that trial simply runs again
            records[(record["strategy"], record["seed"], record["lr"])] = record
        if len(records) < len(lines):  # drop the torn line, or the next record would be appended to it
            atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in records.values()))
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Add one finished trial, on disk before the next one is reported."""
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
