"""Any list of reasoning-gym datasets as a domain (``domain.gym``), one knowledge module per entry.

Each entry names a dataset, its module id, prerequisites (ids of other entries) and a
difficulty ladder. The ladder is either explicit (``ladder``: per level, curriculum attribute
-> value) or the first ``levels`` rungs of the dataset's reasoning-gym curriculum, where rung
``i`` puts every curriculum attribute on its ``i``-th level. Probes, exercises and checking
work exactly as in the built-in arithmetic domain, which is this machinery with hand-made
recipes. For example::

    domain:
      gym:
        - {dataset: basic_arithmetic, id: arithmetic/basic, levels: 2, answer: number}
        - {dataset: leg_counting, id: counting/legs, prerequisites: [arithmetic/basic], answer: number}
"""

from __future__ import annotations

import re
from typing import Any

from ioa.config import GymDatasetConfig
from ioa.domains.arithmetic import ArithmeticDomain, Recipe, level_config
from ioa.domains.base import ModuleSpec
from ioa.errors import UsageError


def curriculum_ladder(dataset: str, levels: int) -> list[dict[str, Any]]:
    """The first ``levels`` rungs of the dataset's curriculum: rung i = every attribute's i-th level."""
    from reasoning_gym.factory import create_curriculum, has_curriculum

    if not has_curriculum(dataset):
        return [{}]  # no curriculum: one level, the dataset's defaults
    attributes = create_curriculum(dataset).attributes
    depth = min(levels, max((len(a.levels) for a in attributes.values()), default=1))
    return [{name: a.levels[min(i, len(a.levels) - 1)] for name, a in attributes.items()} for i in range(depth)]


def recipe(entry: GymDatasetConfig, where: str) -> Recipe:
    """One module's recipe, checked: the dataset exists and every rung is a valid dataset config."""
    import reasoning_gym
    from reasoning_gym.factory import DATASETS

    if entry.dataset not in DATASETS:
        raise UsageError(f"{where}: unknown reasoning-gym dataset {entry.dataset!r}")
    module_id = entry.id or f"gym/{entry.dataset}"
    if not re.fullmatch(r"[a-z0-9_]+/[a-z0-9_]+", module_id):
        raise UsageError(f"{where}: module id {module_id!r} must look like 'category/name' (lowercase, _)")
    ladder = entry.ladder or curriculum_ladder(entry.dataset, entry.levels)
    spec = ModuleSpec(
        module_id,
        entry.dataset.replace("_", " ").capitalize(),
        entry.description or f"Solve reasoning-gym {entry.dataset.replace('_', ' ')} problems.",
        tuple(entry.prerequisites),
        len(ladder),
    )
    made = Recipe(spec, entry.dataset, dict(entry.config), tuple(ladder), kind=entry.answer)
    for level in range(len(ladder)):
        try:
            reasoning_gym.create_dataset(entry.dataset, seed=0, size=1, **level_config(made, level))
        except Exception as exc:  # reasoning-gym raises assorted types for a bad config
            raise UsageError(f"{where}: level {level} is not a valid {entry.dataset} config: {exc}") from exc
    return made


class GymDomain(ArithmeticDomain):
    """reasoning-gym datasets as modules, with declared prerequisites and difficulty ladders."""

    name = "gym"

    def __init__(self, entries: list[GymDatasetConfig], seed: int = 0) -> None:
        recipes = tuple(recipe(e, f"domain.gym[{i}]") for i, e in enumerate(entries))
        ids = [r.spec.id for r in recipes]
        if len(set(ids)) != len(ids):
            raise UsageError(f"domain.gym: module ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        for i, r in enumerate(recipes):
            unknown = [p for p in r.spec.prerequisites if p not in ids]
            if unknown:
                raise UsageError(f"domain.gym[{i}]: unknown prerequisites {unknown}; known ids: {ids}")
        super().__init__(seed, recipes)
