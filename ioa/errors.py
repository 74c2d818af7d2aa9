"""The two kinds of failure a user can see, and their exit codes (DESIGN §4)."""

from __future__ import annotations


class IOAError(Exception):
    """A failure reported as one clear line; ``exit_code`` tells the CLI what to return."""

    exit_code = 1


class UsageError(IOAError):
    """Bad usage, config or input: the user can fix it (exit code 2)."""

    exit_code = 2


class RuntimeFailure(IOAError):
    """Something failed while running: a server, a model, the disk (exit code 1)."""

    exit_code = 1
