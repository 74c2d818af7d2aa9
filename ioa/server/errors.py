"""ioa's one-line errors as LangGraph Server reports them to the caller.

The server streams the message of a ``ValueError`` (and a few other builtins) to the client and replaces every
other exception's with "An internal error occurred". These two carry ioa's errors across with their kind's name
and the CLI's words, minus its ``ioa: error:`` prefix.
"""

from __future__ import annotations

from ioa import errors
from ioa.rundir import RunDir


class UsageError(ValueError):
    """Bad usage, config or input in a run's request (the CLI's exit code 2)."""


class RuntimeFailure(ValueError):
    """Something failed while the run ran: a server, a model, the disk (the CLI's exit code 1)."""


def shown(exc: BaseException, rd: RunDir | None = None) -> ValueError | None:
    """The error the caller is shown for ``exc``, or None when ``exc`` is not one of ioa's one-line errors."""
    from ioa.graph.runner import failure_of

    if isinstance(exc, Exception) and not isinstance(exc, errors.IOAError) and rd is not None:
        exc = failure_of(exc, rd) or exc
    if isinstance(exc, errors.UsageError):
        return UsageError(str(exc))
    if isinstance(exc, errors.IOAError):
        return RuntimeFailure(str(exc))
    return None
