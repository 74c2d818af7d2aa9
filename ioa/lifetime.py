"""Child processes that end with their parent.

A parent stopped with SIGKILL (or SIGTERM without a handler) runs no cleanup, so whatever it
started would run on as an orphan: a teacher server holding its port, bench workers training
for the rest of their trials. Each such child watches its own parent instead.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """End this process (exit code 1) once its parent is no longer ``parent``, checked every ``poll_s`` seconds.

    Polling from a daemon thread, because PR_SET_PDEATHSIG ties a child to the *thread* that started
    it, which may be a short-lived worker thread, and exists on Linux only. ``os._exit``, because the
    process has nobody left to report to and its own cleanup may wait on work that never finishes.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
