"""`langgraph dev` for tests: the LangGraph Server that `langgraph-cli[inmem]` runs, on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from postgres_server import free_port

STARTUP_S = 180


@contextmanager
def langgraph_dev(config: Path, work: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``config`` (a langgraph.json) from ``work``, where the server keeps its own files; yields its URL and
    stops the server's process group at the end. Its log is ``work/server.log``."""
    port = free_port()
    environ = {**os.environ, **(env or {}), "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
    with (work / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "langgraph"), "dev", "--host", "127.0.0.1", "--port", str(port)]
            + ["--no-browser", "--no-reload", "--config", str(config)],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _ok(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"langgraph dev did not come up: {(work / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ok", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def inline_config(items: list[str]) -> dict[str, Any]:
    """``section.key=value`` overrides (conftest's SMALL) as the inline config a request sends."""
    tree: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return tree
