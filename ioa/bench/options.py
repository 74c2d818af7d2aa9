"""The command-line options of `ioa bench`, kept apart so bad input fails before torch is imported."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ioa.config import BenchConfig, Config, describe_validation_error
from ioa.errors import UsageError

QUICK = [
    "student.hidden_size=64",
    "student.num_layers=2",
    "student.num_heads=2",
    "student.intermediate_size=128",
    "bench.diagnostic_probes_per_module=3",
    "bench.budget=48",
    "bench.epochs=8",
    "bench.lrs=[3e-3]",
    "bench.eval_probes_per_module=6",
    "bench.eval_points=2",
    "bench.rounds=2",
]
"""The --quick setting, as config overrides that --set can still override: a smoke run for tests."""


def with_options(
    config: Config,
    *,
    strategies: str | None = None,
    seeds: int | None = None,
    budget: int | None = None,
    teacher: str | None = None,
    lrs: str | None = None,
) -> Config:
    """The command-line options on top of the config, validated."""
    given: dict[str, Any] = {"seeds": seeds, "budget": budget, "teacher": teacher}
    if strategies:
        given["strategies"] = [s.strip() for s in strategies.split(",") if s.strip()]
    if lrs:
        try:
            given["lrs"] = [float(x) for x in lrs.split(",")]
        except ValueError as exc:
            raise UsageError(f"--lrs expects comma-separated numbers, got {lrs!r}") from exc
    try:
        options = BenchConfig.model_validate(
            {**config.bench.model_dump(), **{k: v for k, v in given.items() if v is not None}}
        )
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc).replace("invalid config: ", "invalid bench option: ")) from exc
    return config.model_copy(update={"bench": options})
