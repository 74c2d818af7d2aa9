"""Domains: knowledge modules, probes, exercises and answer checking (see ``base.py``).

Three sources, chosen by the config: a built-in domain (``words``, the default, or ``arithmetic``), a seed file of your
own (``domain.path``, ``seed_domain.py``) and any list of reasoning-gym datasets (``domain.gym``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ioa.domains.arithmetic import ArithmeticDomain
from ioa.domains.base import Domain, ModuleSpec, Task, extract_answer
from ioa.domains.words import WordsDomain
from ioa.errors import UsageError

if TYPE_CHECKING:
    from ioa.config import Config
    from ioa.rundir import RunDir
    from ioa.teacher.protocol import Teacher

DOMAINS = {"words": WordsDomain, "arithmetic": ArithmeticDomain}
"""Built-in domains by name; ``words`` is the default (the embedded teacher knows it), ``arithmetic`` the bench's."""

__all__ = [
    "DOMAINS",
    "ArithmeticDomain",
    "Domain",
    "ModuleSpec",
    "Task",
    "build_domain",
    "resolve_domain",
    "extract_answer",
    "get_domain",
]


def get_domain(name: str, seed: int) -> Domain:
    """The domain called ``name``, with its held-out probe reserve salted by ``seed``."""
    if name not in DOMAINS:
        raise UsageError(f"unknown domain {name!r}; known: {', '.join(DOMAINS)}")
    return DOMAINS[name](seed)


def build_domain(config: Config, run_dir: RunDir | None = None, teacher: Teacher | None = None) -> Domain:
    """The configured domain: a seed file, reasoning-gym datasets, or a built-in one by name.

    A seed domain reloads the seeds and decomposition an earlier part of the run saved in ``run_dir``;
    ``teacher`` is its judge when ``metric.judge`` is on.
    """
    cfg = config.domain
    if cfg.path:
        from ioa.domains.seed_domain import DECOMPOSITION, SeedDomain
        from ioa.metrics import TeacherJudge

        judge = TeacherJudge(teacher) if config.metric.judge and teacher is not None else None
        if run_dir is not None and run_dir.resolve(DECOMPOSITION).exists():
            return SeedDomain.restore(run_dir.resolve(DECOMPOSITION), config, judge)
        return SeedDomain.from_config(config, judge)
    if cfg.gym:
        from ioa.domains.gym import GymDomain

        return GymDomain(cfg.gym, cfg.seed)
    return get_domain(cfg.name, cfg.seed)


def resolve_domain(config: Config) -> Config:
    """Check the domain before a run directory is touched (one UsageError for a bad seed file or gym
    list), and return the config with the seed file's path made absolute, so ``ioa resume`` finds it."""
    build_domain(config)
    if not config.domain.path:
        return config
    path = str(Path(config.domain.path).resolve())
    return config.model_copy(update={"domain": config.domain.model_copy(update={"path": path})})
