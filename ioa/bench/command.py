"""The `ioa bench` command's logic: resolve the teacher, run every trial, write the results."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ioa.bench.results import write_results
from ioa.bench.runner import quick as quick_setting
from ioa.bench.runner import run_bench
from ioa.config import BenchConfig, Config, describe_validation_error
from ioa.errors import UsageError


def with_options(
    config: Config,
    *,
    quick: bool = False,
    strategies: str | None = None,
    seeds: int | None = None,
    budget: int | None = None,
    teacher: str | None = None,
    lrs: str | None = None,
) -> Config:
    """The command-line options on top of the config (and of the --quick setting), validated."""
    if quick:
        config = quick_setting(config)
    given: dict[str, Any] = {"seeds": seeds, "budget": budget, "teacher": teacher}
    if strategies:
        given["strategies"] = [s.strip() for s in strategies.split(",") if s.strip()]
    if lrs:
        try:
            given["lrs"] = [float(x) for x in lrs.split(",")]
        except ValueError as exc:
            raise UsageError(f"--lrs expects comma-separated numbers, got {lrs!r}") from exc
    from ioa.bench.strategies import STRATEGIES

    unknown = [s for s in given.get("strategies") or config.bench.strategies if s not in STRATEGIES]
    if unknown:
        raise UsageError(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    try:
        options = BenchConfig.model_validate(
            {**config.bench.model_dump(), **{k: v for k, v in given.items() if v is not None}}
        )
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc).replace("invalid config: ", "invalid bench option: ")) from exc
    return config.model_copy(update={"bench": options})


def bench(config: Config, out: Path, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark with ``config.bench`` and write OUT/results.{json,md} and the plot."""
    from ioa.local_teacher import ensure_teacher_folder
    from ioa.progress import RunProgress

    # The tiny student speaks the bundled teacher's tokenizer, whichever teacher teaches.
    tokenizer_dir = ensure_teacher_folder(progress=report)
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        endpoint = None
        if config.bench.teacher == "llm":
            from ioa.graph.runner import teacher_endpoint
            from ioa.rundir import RunDir

            # One teacher (the configured endpoint or one embedded server) for every trial.
            endpoint = stack.enter_context(teacher_endpoint(config, RunDir(out), RunProgress(enabled=False)))
        result = run_bench(config, tokenizer_dir, endpoint, report)
    return write_results(out, result)
