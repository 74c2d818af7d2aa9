"""IOA-Distill: distil a teacher LLM into a small student the way a good tutor teaches.

Python API (what notebooks use)::

    from ioa import Config, build_graph, run, stream
    summary = run(Config(), run_dir="runs/first")
    for event in stream(Config(), "runs/second"):   # progress events while it runs (ioa.events)
        print(event.line())

    from ioa import fork, history, resume, write_report
    checkpoints = history("runs/first")           # newest first
    fork("runs/first", checkpoints[3].checkpoint_id, "runs/fork", {"rules.tau_mastery": 0.8})
    resume("runs/fork")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Config", "build_graph", "fork", "history", "load_config", "resume", "run", "stream", "write_report"]

_EXPORTS = {
    "Config": "ioa.config",
    "load_config": "ioa.config",
    "build_graph": "ioa.graph.build",
    "run": "ioa.graph.runner",
    "resume": "ioa.graph.runner",
    "stream": "ioa.graph.runner",
    "history": "ioa.run_history",
    "fork": "ioa.run_history",
    "write_report": "ioa.report",
}


def __getattr__(name: str) -> Any:
    # Lazy, so `ioa --help` answers without importing torch and transformers.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ioa' has no attribute {name!r}")
