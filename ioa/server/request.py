"""What a LangGraph Server caller sends to start or continue a run: plain values, never live objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict

from ioa.config import Config, load_config
from ioa.errors import UsageError
from ioa.rundir import RunDir


@dataclass
class RunRequest:
    """The run's context (``client.runs.stream(..., context={...})``), or its configurable for older clients and
    assistants that keep these values in their config. The server builds the run's services from it."""

    # Studio's form shows each field's docstring.
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(use_attribute_docstrings=True)

    run_dir: str | None = None
    """Where the run is written, on the server's file system. A new folder starts a run on this thread; the folder
    of this thread's stopped run continues it (send no input)."""

    config_path: str | None = None
    """A YAML config file on the server, as `ioa run --config` reads it."""

    config: dict[str, Any] | None = None
    """Inline config values by section, over the file and the server's IOA_* variables, e.g.
    {"budget": {"max_rounds": 2}}."""

    @classmethod
    def of(cls, context: Any, configurable: Mapping[str, Any]) -> RunRequest:
        """The request a run carries: each value from its context, else from its configurable."""
        given = asdict(context) if is_dataclass(context) else dict(context or {})
        values = {}
        for f in fields(cls):
            value = given.get(f.name)
            values[f.name] = configurable.get(f.name) if value is None else value
        return cls(**values)

    def resolve(self, thread_id: str) -> tuple[RunDir, Config, bool]:
        """(run directory, config, fresh): a new run made for this thread, or this thread's run to continue.

        Every problem is a ``UsageError`` raised before a new run directory is made, in the CLI's words.
        """
        from ioa.domains import resolve_domain
        from ioa.graph.runner import json_summary, new_run

        if not self.run_dir:
            raise UsageError(
                "a run on LangGraph Server needs run_dir (in its context or configurable): the folder, on the "
                "server, that the run is written to"
            )
        root = Path(self.run_dir).expanduser()
        if not (root / "run.json").exists():
            config = load_config(self.config_path, values=self.config)
            if config.checkpointer.backend != "sqlite":
                raise UsageError(
                    f"checkpointer {config.checkpointer.backend}: on LangGraph Server the server keeps the "
                    "checkpoints (its own Postgres when deployed; docs/deploy.md), so a request sets no checkpointer"
                )
            rd, config = new_run(config, root, run_id=thread_id)
            return rd, config, True
        rd = RunDir.open(root)
        if rd.run_id != thread_id:
            raise UsageError(f"{root} holds the run of thread {rd.run_id}; continue it there or pick another run_dir")
        config = load_config(rd.config, environ={})
        sent = self.config_path or self.config
        if sent and resolve_domain(load_config(self.config_path, values=self.config)) != config:
            raise UsageError(f"{root} already holds a run with another config; continue it without one")
        if rd.summary.exists() and json_summary(rd).get("status") == "completed":
            raise UsageError(f"{root} holds a completed run; start a new thread with another run_dir")
        return rd, config, False
