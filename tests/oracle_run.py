"""The real pipeline (`ioa run`, `ioa resume`, ``ioa.run``, ``ioa.fork``) with the bench's oracle teacher in place
of a teacher server.

The oracle answers and writes worked solutions exactly and at once, so a test of the graph's own machinery
(checkpoints, resume, fork) takes seconds of teaching instead of minutes of a served LLM, and its results depend
on nothing but the code. ``runner_patches`` replaces the two places where the runner reaches for a teacher.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import SMALL as CONFTEST_SMALL

SMALL = [
    *CONFTEST_SMALL,
    "domain.name=arithmetic",  # the oracle computes its answers from reasoning-gym's entries: the bench's domain
    "synthesis.examples_per_module=2",
    "adapter.checker_practice_per_example=4",
    "training.epochs=3",
    "training.batch_size=4",
    "observability.report=false",
]
"""Overrides that make an oracle-taught run of two rounds (and its consolidation) take seconds of work."""


def runner_patches(tokenizer_dir: Path) -> dict[str, Any]:
    """Replacements for ``ioa.graph.runner``'s ``teacher_endpoint`` and ``_services``: no server, the oracle."""
    from ioa.bench.oracle import OracleTeacher, TaskBook
    from ioa.context import Services
    from ioa.domains import build_domain
    from ioa.memory import ConceptMemory
    from ioa.traces import Tracer

    @contextmanager
    def no_server(config: Any, rd: Any, progress: Any) -> Iterator[tuple[str, str]]:
        yield "oracle", "oracle"

    def oracle_services(config: Any, rd: Any, base_url: str, model: str, progress: Any) -> Services:
        book = TaskBook(build_domain(config, rd))
        return Services(
            config=config,
            run_dir=rd,
            domain=book,
            teacher=OracleTeacher(book),
            memory=ConceptMemory.open(rd.chroma),
            tracer=Tracer(rd.traces, config.observability.trace_max_chars),
            tokenizer_dir=tokenizer_dir,
            progress=progress,
        )

    return {"teacher_endpoint": no_server, "_services": oracle_services}
