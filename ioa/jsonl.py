"""JSONL files that people write (seed files, training data): one JSON value per line.

Run files the program wrote itself are read with ``ioa.rundir.read_jsonl``; these need an
error a person can act on, at ``FILE:LINE``, before anything else happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ioa.errors import UsageError


def numbered_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line; a line that is not JSON is a UsageError at ``path:line``.

    The caller checks each value's shape and reports it at the same line number.
    """
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        yield number, value
