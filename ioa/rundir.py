"""The run directory (docs/design.md §8): where a run keeps everything, written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ioa.errors import UsageError

FORMAT_VERSION = 1
MASTERY_COLUMNS = ["round", "module", "p_teacher", "p_student", "ratio", "state"]


def atomic_write(path: Path, text: str | bytes) -> None:
    """Temp file, then rename: a crash or a full disk leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, default=str) + "\n")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write(path, "".join(json.dumps(r, default=str) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class MasteryRow:
    """One line of mastery.csv."""

    round: int
    module: str
    p_teacher: float
    p_student: float
    ratio: float
    state: str


def read_mastery(path: Path) -> list[MasteryRow]:
    if not path.exists():
        return []
    with path.open() as fh:
        return [
            MasteryRow(
                round=int(r["round"]),
                module=r["module"],
                p_teacher=float(r["p_teacher"]),
                p_student=float(r["p_student"]),
                ratio=float(r["ratio"]),
                state=r["state"],
            )
            for r in csv.DictReader(fh)
        ]


@dataclass(frozen=True)
class RunDir:
    """Paths of one run; ``create`` makes a new one, ``open`` checks an existing one."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def meta(self) -> Path:
        return self.root / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints.sqlite"

    @property
    def chroma(self) -> Path:
        return self.root / "chroma"

    @property
    def traces(self) -> Path:
        return self.root / "traces.jsonl"

    @property
    def curriculum(self) -> Path:
        return self.root / "curriculum.json"

    @property
    def mastery(self) -> Path:
        return self.root / "mastery.csv"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def student(self) -> Path:
        return self.root / "student"

    @property
    def student_tokenizer(self) -> Path:
        """The tiny student's tokenizer, cut to the run's domain (``ioa.student_train.run_vocab``)."""
        return self.student / "tokenizer"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def teacher_log(self) -> Path:
        return self.root / "teacher_server.log"

    @property
    def teacher_cache(self) -> Path:
        return self.root / "teacher_cache.sqlite"

    @property
    def run_id(self) -> str:
        return json.loads(self.meta.read_text())["run_id"]

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def resolve(self, rel: str) -> Path:
        return self.root / rel

    @classmethod
    def create(cls, root: Path, config_yaml: str, run_id: str | None = None) -> RunDir:
        """A fresh run directory; refuses one that already holds a run, so nothing is overwritten.

        ``run_id`` is the LangGraph thread id; LangGraph Server passes its own thread's, ``ioa run`` makes one.
        """
        rd = cls(root)
        if rd.meta.exists():
            raise UsageError(
                f"{root} already holds a run; continue it with `ioa resume {root}` or pick another --run-dir"
            )
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"{root} is not empty and holds no IOA run; pick an empty or new --run-dir")
        root.mkdir(parents=True, exist_ok=True)
        rd.data.mkdir(exist_ok=True)
        rd.student.mkdir(exist_ok=True)
        atomic_write(rd.config, config_yaml)
        run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
        write_json(rd.meta, {"run_id": run_id, "format_version": FORMAT_VERSION})
        return rd

    @classmethod
    def open(cls, root: Path) -> RunDir:
        """An existing run directory, checked before anything in it is touched."""
        rd = cls(root)
        if not root.is_dir():
            raise UsageError(f"no run directory at {root}")
        if not os.access(root, os.R_OK | os.X_OK):
            # Checked up front: otherwise the first file looked at fails with a bare PermissionError.
            raise UsageError(f"cannot read run directory {root}: permission denied")
        if not rd.meta.exists() or not rd.config.exists():
            raise UsageError(f"{root} is not an IOA run directory (no run.json / config.yaml)")
        try:
            meta = json.loads(rd.meta.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{rd.meta} is unreadable: {exc}") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise UsageError(
                f"{root} was written by an incompatible IOA version (format {meta.get('format_version')}, "
                f"this ioa reads {FORMAT_VERSION})"
            )
        return rd

    def write_mastery_round(self, round_: int, rows: list[dict[str, Any]]) -> None:
        """Replace this round's rows: a diagnosis re-run after a crash never duplicates them."""
        kept: list[dict[str, Any]] = []
        if self.mastery.exists():
            kept = [r for r in csv.DictReader(self.mastery.open()) if int(r["round"]) != round_]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=MASTERY_COLUMNS)
        writer.writeheader()
        for row in sorted(kept + rows, key=lambda r: (int(r["round"]), r["module"])):
            writer.writerow({k: row[k] for k in MASTERY_COLUMNS})
        atomic_write(self.mastery, buf.getvalue())
