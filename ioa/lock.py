"""One process per run directory: an exclusive ``flock`` on RUN_DIR/run.lock for the run's life.

The kernel drops the lock when its holder exits, however it exits, so a killed run never
leaves a stale lock behind. The file itself stays; it only ever holds the last holder's pid.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ioa.errors import UsageError

LOCK_NAME = "run.lock"


@contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold the run directory for this process; refuse at once if another process holds it."""
    path = root / LOCK_NAME
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise UsageError(
                f"{root} is in use by another ioa process (pid {holder}); wait for it to end or stop it first"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield  # closing the file at the end of the with releases the lock
