"""The Identifier's first job on a seed file: decompose the seeds into knowledge modules.

1. The teacher proposes modules per seed category (``propose_modules``); each line is parsed
   leniently (a 135M teacher rarely keeps a format) and unusable lines are dropped.
2. Near-duplicates are merged: a module whose MiniLM embedding lies within
   ``merge_similarity`` (cosine) of a kept one joins it (Chroma nearest-neighbour query).
3. A category for which the teacher gave nothing usable gets one fallback module of its own
   (``category/general``), so every seed has somewhere to go.
4. Every seed is assigned to a module of its category: the teacher classifies it
   (``classify_task``); when the reply names no module, the nearest module by embedding wins.
5. Modules too small for a probe and a synthesis seed (fewer than 2 seeds), or beyond the
   module budget, are folded into their nearest neighbour.
6. Prerequisites are mapped through merges and folds; cycles are broken and reported.
7. Each module's seeds are split into synthesis seeds and probes (``probe_fraction``, 8:2),
   by a shuffle fixed by ``domain.seed`` and the module id.

Everything after the teacher's replies is deterministic, and ``Decomposition.sources`` records
which modules and assignments came from the teacher and which from a fallback.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ioa import rules
from ioa.config import DomainConfig
from ioa.domains.seeds import SeedTask

if TYPE_CHECKING:
    from chromadb.api.types import Documents, EmbeddingFunction

    from ioa.teacher_client import Teacher

Difficulty = Literal["introductory", "intermediate", "advanced"]
DIFFICULTIES: tuple[Difficulty, ...] = ("introductory", "intermediate", "advanced")
MIN_SEEDS = 2
"""A module needs at least one probe and one synthesis seed."""
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.):]|module\s*\d*\s*[:.)-])\s*", re.I)
_ECHO = {"name", "module", "modules", "difficulty", "description", "prerequisites", "none"}


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


def slug(text: str, limit: int = 40) -> str:
    """``"Adding Fractions!"`` -> ``"adding_fractions"``; empty when no letter survives."""
    out = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit].strip("_")
    return out if re.search(r"[a-z]", out) else ""


def module_budget(n_seeds: int, cfg: DomainConfig) -> tuple[int, int]:
    """(fewest, most) modules: 25-35 by default, fewer when the seeds cannot fill them."""
    cap = max(1, n_seeds // cfg.seeds_per_module)
    return min(cfg.min_modules, cap), min(cfg.max_modules, cap)


def parse_module_lines(text: str, category: str) -> list[SeedModule]:
    """Modules in a teacher reply, one per usable line; lines that are not modules are skipped."""
    found: list[SeedModule] = []
    for raw in text.splitlines():
        line = _BULLET.sub("", raw.replace("**", "")).strip()
        if "|" in line:
            parts = [p.strip() for p in line.split("|")]
        else:  # "name: description" or "name - description"
            match = re.match(r"^([\w /'-]{2,50}?)\s*(?::|\s-\s|\s–\s)\s*(.+)$", line)
            if not match:
                continue
            parts = [match.group(1), "", match.group(2)]
        name = slug(parts[0].split("/")[-1])
        if len(name) < 3 or name in _ECHO or len(name.split("_")) > 6:  # "A: 18/100" is not a module
            continue
        rest = " ".join(parts[1:]).lower()
        difficulty = next((d for d in DIFFICULTIES if d in rest), None)
        description = next((p for p in parts[2:3] if p and slug(p) not in _ECHO), "") or parts[0]
        prereq_text = parts[3] if len(parts) > 3 else ""
        prereqs = [f"{category}/{s}" for s in (slug(p.split("/")[-1]) for p in prereq_text.split(",")) if s]
        found.append(
            SeedModule(
                id=f"{category}/{name}",
                description=description.strip().rstrip(".") + ".",
                difficulty=difficulty or "intermediate",
                prerequisites=[p for p in prereqs if p.split("/")[1] not in _ECHO],
                difficulty_source="teacher" if difficulty else "default",
            )
        )
    return found


def parse_choice(text: str, options: list[SeedModule]) -> SeedModule | None:
    """The module a classification reply names: its number, or its id or name; None if neither."""
    for number in re.findall(r"\d+", text):
        if 1 <= int(number) <= len(options):
            return options[int(number) - 1]
    lowered = slug(text, limit=200)
    for option in sorted(options, key=lambda m: -len(m.id)):
        if option.id.split("/")[1] in lowered:
            return option
    return None


class _Index:
    """Module embeddings in an in-memory Chroma collection, for merges and nearest-module fallbacks."""

    def __init__(self, embed: EmbeddingFunction[Documents]) -> None:
        from ioa.memory import ephemeral_client

        self._col = ephemeral_client().create_collection(
            "modules", embedding_function=embed, configuration={"hnsw": {"space": "cosine"}}
        )

    def add(self, module: SeedModule) -> None:
        self._col.add(ids=[module.id], documents=[_text(module)], metadatas=[{"category": module.id.split("/")[0]}])

    def remove(self, module_id: str) -> None:
        self._col.delete(ids=[module_id])

    def nearest(
        self, text: str, category: str | None = None, exclude: str | None = None, anywhere: bool = True
    ) -> tuple[str, float] | None:
        """(id, cosine similarity) of the nearest module, in ``category`` first, then (``anywhere``) in any."""
        for where in ([{"category": category}] if category else []) + ([None] if anywhere else []):
            hits = self._col.get(where=where, include=[])["ids"] if where else self._col.get(include=[])["ids"]
            hits = [h for h in hits if h != exclude]
            if not hits:
                continue
            found = self._col.query(query_texts=[text], n_results=min(len(hits) + 1, self._col.count()), where=where)
            for mid, dist in zip(found["ids"][0], (found["distances"] or [[]])[0], strict=True):
                if mid != exclude:
                    return mid, 1.0 - float(dist)
        return None


def _text(module: SeedModule) -> str:
    return f"{module.id.split('/')[1].replace('_', ' ')}: {module.description}"


def _examples(seeds: list[SeedTask], limit: int = 6, width: int = 160) -> str:
    return "\n".join(s.question.replace("\n", " ")[:width] for s in seeds[:limit])


def decompose(
    seeds: list[SeedTask],
    teacher: Teacher,
    cfg: DomainConfig,
    embed: EmbeddingFunction[Documents],
) -> Decomposition:
    """Seeds -> knowledge modules, assignment and probe split (see the module docstring)."""
    lo, hi = module_budget(len(seeds), cfg)
    by_category: dict[str, list[int]] = {}
    for i, s in enumerate(seeds):
        by_category.setdefault(slug(s.category) or "general", []).append(i)
    categories = list(by_category)

    # 1. proposals, one request per category, asking for a share of the budget proportional to its seeds
    requests = [
        {
            "category": seeds[idx[0]].category,
            "examples": _examples([seeds[i] for i in idx]),
            "count": max(1, round(hi * len(idx) / len(seeds))),
        }
        for idx in by_category.values()
    ]
    # About 40 tokens a module line: a cap in proportion keeps a rambling small teacher short.
    cap = min(400, 40 * max(r["count"] for r in requests) + 40)
    replies = teacher.run("propose_modules", requests, round=0, node="identify", temperature=0.0, max_tokens=cap)
    proposed = [
        m
        for cat, reply in zip(categories, replies, strict=True)
        for m in (parse_module_lines(reply.modules, cat) if reply is not None else [])
    ]

    # 2. merge near-duplicates (exact id repeats included)
    index = _Index(embed)
    modules: dict[str, SeedModule] = {}
    alias: dict[str, str] = {}
    merges: list[dict[str, Any]] = []
    for m in proposed:
        near = index.nearest(_text(m), category=m.id.split("/")[0], anywhere=False) if modules else None
        same = m.id in modules or (near is not None and near[1] >= cfg.merge_similarity)
        if same:
            into = m.id if m.id in modules else near[0]  # type: ignore[index]
            if into != m.id:
                alias[m.id] = into
            modules[into].prerequisites += [p for p in m.prerequisites if p not in modules[into].prerequisites]
            merges.append({"module": m.id, "into": into, "similarity": 1.0 if m.id == into else round(near[1], 3)})
            continue
        modules[m.id] = m
        index.add(m)
    teacher_ids = list(modules)

    # 3. a fallback module for each category the teacher left empty
    fallback_ids = []
    for cat, idx in by_category.items():
        if not any(k.split("/")[0] == cat for k in modules):
            m = SeedModule(
                id=f"{cat}/general",
                description=f"Tasks about {seeds[idx[0]].category}, such as: {_examples([seeds[idx[0]]], 1, 100)}",
                difficulty="intermediate",
                source="fallback",
                difficulty_source="default",
            )
            modules[m.id] = m
            index.add(m)
            fallback_ids.append(m.id)

    # 4. assignment: teacher classification within the seed's category, else the nearest embedding
    assignment, assigned_by = _assign(seeds, by_category, modules, teacher, index)

    # 5. fold modules that are too small (or beyond the budget) into their nearest neighbour
    folds = _fold(modules, assignment, assigned_by, index, hi)
    for folded, into in ((f["module"], f["into"]) for f in folds):
        alias[folded] = into

    # 6. prerequisites through merges and folds, made acyclic
    def resolve(mid: str) -> str:
        seen = {mid}
        while mid in alias and alias[mid] not in seen:  # merges and folds only point at kept modules
            mid = alias[mid]
            seen.add(mid)
        return mid

    order = list(modules)
    prior = [(resolve(p), m.id) for m in modules.values() for p in m.prerequisites if resolve(p) in modules]
    edges, removed = rules.break_cycles(order, [(p, m) for p, m in prior if p != m])
    for m in modules.values():
        m.prerequisites = [p for p, d in edges if d == m.id]

    # 7. the 8:2 split, fixed by domain.seed and the module id
    probes = _split(assignment, order, cfg)
    sources = {
        "budget": {"min": lo, "max": hi},
        "teacher_replies": sum(r is not None for r in replies),
        "teacher_modules_parsed": len(proposed),
        "modules_from_teacher": [k for k in order if k in teacher_ids],
        "modules_from_fallback": [k for k in order if k in fallback_ids],
        "too_few_teacher_modules": len([k for k in order if k in teacher_ids]) < lo,
        "merged": merges,
        "folded": folds,
        "assigned_by": dict(Counter(assigned_by)),
        "assignment_sources": assigned_by,
        "removed_cycle_edges": [list(e) for e in removed],
    }
    return Decomposition(list(modules.values()), assignment, probes, sources)


def _assign(
    seeds: list[SeedTask],
    by_category: dict[str, list[int]],
    modules: dict[str, SeedModule],
    teacher: Teacher,
    index: _Index,
) -> tuple[list[str], list[str]]:
    assignment = [""] * len(seeds)
    assigned_by = [""] * len(seeds)
    asks: list[tuple[int, list[SeedModule]]] = []
    for cat, idx in by_category.items():
        options = [m for k, m in modules.items() if k.split("/")[0] == cat]
        for i in idx:
            if len(options) == 1:
                assignment[i], assigned_by[i] = options[0].id, "only_module"
            else:
                asks.append((i, options))
    replies = teacher.run(
        "classify_task",
        [
            {
                "task": seeds[i].question[:600],
                "modules": "\n".join(
                    f"{n}. {m.id.split('/')[1].replace('_', ' ')}: {m.description}" for n, m in enumerate(options, 1)
                ),
            }
            for i, options in asks
        ],
        round=0,
        node="identify",
        temperature=0.0,
        max_tokens=16,
    )
    for (i, options), reply in zip(asks, replies, strict=True):
        picked = parse_choice(reply.module, options) if reply is not None else None
        if picked is not None:
            assignment[i], assigned_by[i] = picked.id, "teacher"
        else:
            near = index.nearest(seeds[i].question, category=options[0].id.split("/")[0])
            assignment[i], assigned_by[i] = (near[0] if near else options[0].id), "embedding"
    return assignment, assigned_by


def _fold(
    modules: dict[str, SeedModule], assignment: list[str], assigned_by: list[str], index: _Index, most: int
) -> list[dict[str, Any]]:
    folds = []
    while len(modules) > 1:
        counts = Counter(assignment)
        smallest = min(modules, key=lambda k: (counts.get(k, 0), k))
        if counts.get(smallest, 0) >= MIN_SEEDS and len(modules) <= most:
            break
        index.remove(smallest)
        near = index.nearest(_text(modules[smallest]), category=smallest.split("/")[0])
        into = near[0] if near else next(k for k in modules if k != smallest)
        for i, mid in enumerate(assignment):
            if mid == smallest:
                assignment[i], assigned_by[i] = into, "folded"
        modules[into].prerequisites += [p for p in modules[smallest].prerequisites if p != into]
        del modules[smallest]
        folds.append({"module": smallest, "into": into, "seeds": counts.get(smallest, 0)})
    return folds


def _split(assignment: list[str], order: list[str], cfg: DomainConfig) -> list[int]:
    probes: list[int] = []
    for module in order:
        members = [i for i, m in enumerate(assignment) if m == module]
        digest = hashlib.blake2b(f"{cfg.seed}|{module}".encode(), digest_size=8).digest()
        random.Random(int.from_bytes(digest, "big")).shuffle(members)
        n_probe = min(len(members) - 1, max(1, round(cfg.probe_fraction * len(members))))
        probes += sorted(members[:n_probe])
    return sorted(probes)
