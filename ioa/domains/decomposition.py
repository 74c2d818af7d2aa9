"""What decomposing a seed file produces: knowledge modules, the seed -> module assignment and the probe split,
saved as data/decomposition.json (``ioa.domains.decompose`` makes it, ``SeedDomain`` adopts it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Difficulty = Literal["introductory", "intermediate", "advanced"]
DIFFICULTIES: tuple[Difficulty, ...] = ("introductory", "intermediate", "advanced")
MIN_SEEDS = 2
"""A module needs at least one probe and one synthesis seed."""


@dataclass
class SeedModule:
    """One knowledge module found in a seed file."""

    id: str
    """``category/name``."""
    description: str
    difficulty: Difficulty
    prerequisites: list[str] = field(default_factory=list)
    source: Literal["teacher", "fallback"] = "teacher"
    """Whether the teacher proposed it or the category fallback made it."""
    difficulty_source: Literal["teacher", "default"] = "teacher"


@dataclass
class Decomposition:
    """Modules, the seed -> module assignment and the probe split; saved as data/decomposition.json."""

    modules: list[SeedModule]
    assignment: list[str]
    """Module id per seed, in seed-file order."""
    probes: list[int]
    """Indices of the seeds held out as probes; the others are synthesis seeds."""
    sources: dict[str, Any]
    """What came from the teacher and what from fallbacks: merges, folds, removed edges, counts."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decomposition:
        return cls(
            modules=[SeedModule(**m) for m in data["modules"]],
            assignment=list(data["assignment"]),
            probes=list(data["probes"]),
            sources=dict(data["sources"]),
        )
