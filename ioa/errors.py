"""The two kinds of failure a user can see, and their exit codes (docs/design.md §9)."""

from __future__ import annotations

import errno


class IOAError(Exception):
    """A failure reported as one clear line; ``exit_code`` tells the CLI what to return."""

    exit_code = 1


class UsageError(IOAError):
    """Bad usage, config or input: the user can fix it (exit code 2)."""

    exit_code = 2


class RuntimeFailure(IOAError):
    """Something failed while running: a server, a model, the disk (exit code 1)."""

    exit_code = 1


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# How libraries that wrap the OS error word it: SQLite, and safetensors' Rust I/O errors.
_DISK_FULL_WORDS = ("No space left on device", "File too large", "Disk quota exceeded", "database or disk is full")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from, is the disk (or a quota or file-size limit) running out."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if any(words in str(current) for words in _DISK_FULL_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False
