"""Domains: knowledge modules, probes, exercises and answer checking (see ``base.py``)."""

from __future__ import annotations

from ioa.domains.arithmetic import ArithmeticDomain
from ioa.domains.base import Domain, ModuleSpec, Task, extract_answer
from ioa.errors import UsageError

DOMAINS = {"arithmetic": ArithmeticDomain}
"""Built-in domains by name; ``arithmetic`` is the default."""

__all__ = ["DOMAINS", "ArithmeticDomain", "Domain", "ModuleSpec", "Task", "extract_answer", "get_domain"]


def get_domain(name: str, seed: int) -> Domain:
    """The domain called ``name``, with its held-out probe reserve salted by ``seed``."""
    if name not in DOMAINS:
        raise UsageError(f"unknown domain {name!r}; known: {', '.join(DOMAINS)}")
    return DOMAINS[name](seed)
