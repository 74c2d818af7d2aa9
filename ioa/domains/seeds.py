"""Seed files: a domain of your own as JSONL, one task per line, checked line by line.

Each line is a JSON object with ``instruction`` (required), ``input``, ``reference`` (the
answer; required except for code, whose tests are the reference), ``category``, ``kind``
(``math`` | ``text`` | ``code`` | ``choice``; default ``text``), ``choices`` (labels of a
``choice`` task), and for ``code`` the ``tests`` (Python asserts) and ``entry_point``.
Every problem is reported as ``FILE:LINE: what is wrong`` (a UsageError, exit code 2),
before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ioa.errors import UsageError
from ioa.jsonl import numbered_json_lines
from ioa.metrics import KINDS, Kind


class SeedTask(BaseModel):
    """One task of a seed file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = Field(min_length=1, description="What to do.")
    input: str = Field("", description="The material the instruction works on, if any.")
    reference: str = Field("", description="The reference answer.")
    category: str = Field("general", min_length=1, description="A coarse subject, the first half of module ids.")
    kind: Kind = Field("text", description="Which metric scores it.")
    choices: list[str] = Field(default_factory=list, description="choice tasks: the labels offered.")
    tests: str = Field("", description="code tasks: Python asserts that a correct solution passes.")
    entry_point: str = Field("", description="code tasks: the function the tests call.")
    line: int = Field(0, description="Line of the seed file it came from (for messages and traces).")

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> object:
        if value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; known: {', '.join(KINDS)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SeedTask:
        if self.kind == "code":
            if not self.tests.strip():
                raise ValueError("a code task needs 'tests' (Python asserts)")
            if self.entry_point and not re.fullmatch(r"[A-Za-z_]\w*", self.entry_point):
                raise ValueError(f"entry_point {self.entry_point!r} is not a Python name")
            try:
                compile(self.tests, "tests", "exec")
            except SyntaxError as exc:
                raise ValueError(f"'tests' is not valid Python: {exc.msg}") from exc
        elif not self.reference.strip():
            raise ValueError(f"a {self.kind} task needs a 'reference' answer")
        if self.kind == "choice" and self.choices and self.reference not in self.choices:
            raise ValueError(f"reference {self.reference!r} is not one of the choices")
        return self

    @property
    def question(self) -> str:
        """The text shown to teacher and student."""
        parts = [self.instruction.strip()]
        if self.kind == "code" and self.entry_point and self.entry_point not in self.instruction:
            parts.append(f"Name the function {self.entry_point}.")
        if self.choices:
            parts.append("Choices: " + ", ".join(self.choices))
        if self.input.strip():
            parts.append(self.input.strip())
        return "\n".join(parts)


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing":
            parts.append(f"missing required field {field!r}")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown field {field!r}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{field}: {msg}" if field else msg)
    return "; ".join(parts)


def load_seeds(path: str | Path) -> list[SeedTask]:
    """Every task of a seed file, or a UsageError naming ``file:line`` and the problem."""
    path = Path(path)
    try:
        rows = list(numbered_json_lines(path))
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: seed file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read seed file: {exc}") from exc
    tasks: list[SeedTask] = []
    for number, row in rows:
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        if "line" in row:
            raise UsageError(f"{path}:{number}: unknown field 'line'")
        try:
            tasks.append(SeedTask.model_validate({**row, "line": number}))
        except ValidationError as exc:
            raise UsageError(f"{path}:{number}: {_problem(exc)}") from exc
    if not tasks:
        raise UsageError(f"{path}: the seed file holds no tasks")
    return tasks
