"""A content-addressed disk cache of teacher completions, so no request is paid for twice.

The key is a hash of the model, the messages, the sampling parameters and a *draw* label.
Sampled requests (temperature > 0) are meant to differ: ten exercises of one round, or a
re-ask after an unparseable answer, must not collapse into one cached reply. The draw label
names the request's position in the run (round, node, call, item index, attempt), so it is
distinct for every intended draw and identical when a resumed or repeated run asks again.
Greedy requests (temperature 0) are deterministic, so their key leaves the draw out and any
run that asks the same question reuses the answer.

Storage is SQLite in WAL mode, one short connection per operation: safe across threads and
processes, and a killed run leaves at most its last write unfinished.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CachedCompletion:
    """A completion as the endpoint returned it, with the tokens it cost then."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def cache_key(model: str, messages: Sequence[tuple[str, str]], params: dict[str, Any], draw: str) -> str:
    """sha256 over everything that determines the reply; see the module docstring for ``draw``."""
    sampled = float(params.get("temperature") or 0.0) > 0
    payload = {
        "model": model,
        "messages": [list(m) for m in messages],
        "params": {k: params[k] for k in sorted(params)},
        "draw": draw if sampled else "",
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class TeacherCache:
    """Completions by key in one SQLite file (``RUN_DIR/teacher_cache.sqlite`` or ``teacher.cache_path``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # A generous busy timeout: writers from other threads or runs wait rather than fail.
        con = sqlite3.connect(self.path, timeout=60)
        con.execute("PRAGMA busy_timeout=60000")
        return con

    def get(self, key: str) -> CachedCompletion | None:
        con = self._connect()
        try:
            row = con.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM completions WHERE key = ?", (key,)
            ).fetchone()
        finally:
            con.close()
        return CachedCompletion(*row) if row else None

    def put(self, key: str, model: str, completion: CachedCompletion) -> None:
        """Store a completion; the first one stored under a key wins."""
        con = self._connect()
        try:
            with con:
                con.execute(
                    "INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        model,
                        completion.text,
                        completion.prompt_tokens,
                        completion.completion_tokens,
                        time.time(),
                    ),
                )
        finally:
            con.close()

    def __len__(self) -> int:
        con = self._connect()
        try:
            return int(con.execute("SELECT count(*) FROM completions").fetchone()[0])
        finally:
            con.close()
