"""The Identifier's first job on a seed file: decompose the seeds into knowledge modules.

A small teacher cannot write a module list in a format (a 135M model continues the example
tasks instead), so the teacher is asked small questions and its near-misses are repaired
deterministically:

1. Per distinct seed instruction (its input left out), the teacher says what skill the exercise
   practises (``describe_skill``): "This exercise is about X". X is the module's description; its
   name is X's words that tell it apart from the category's other descriptions (``skill_name``),
   so the id is ``category/name``. A reply without such a phrase, too short, or restating the
   exercise is rejected, and the reason counted.
2. Near-duplicates are merged: the same id, or a MiniLM embedding within ``merge_similarity``
   (cosine) of a kept module (Chroma nearest-neighbour query).
3. A category for which the teacher gave nothing usable gets one fallback module of its own
   (``category/general``), so every seed has somewhere to go.
4. Every seed is assigned to a module of its category: the module its own description became;
   for a seed whose description was rejected the teacher classifies it (``classify_task``), and
   when that reply names no module, the nearest module by embedding wins.
5. Modules too small for a probe and a synthesis seed (fewer than 2 seeds), or beyond the
   module budget, are folded into their nearest neighbour.
6. Per kept module the teacher rates its difficulty (``rate_difficulty``; "easy" / "medium" /
   "hard" and their synonyms map onto the three levels, else the default) and, among the other
   modules of its category, names its prerequisites (``choose_prerequisites``).
7. Prerequisites are mapped through merges and folds; cycles are broken and reported.
8. Each module's seeds are split into synthesis seeds and probes (``probe_fraction``, 8:2),
   by a shuffle fixed by ``domain.seed`` and the module id.

Everything after the teacher's replies is deterministic, and ``Decomposition.sources`` records
which modules, assignments, difficulties and prerequisites came from the teacher and which from
a fallback, and why rejected replies were rejected.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ioa import rules
from ioa.config import DomainConfig
from ioa.domains.decomposition import MIN_SEEDS, Decomposition, SeedModule
from ioa.domains.replies import parse_choice, parse_level, parse_numbers, parse_skill, skill_name, slug
from ioa.domains.seeds import SeedTask

if TYPE_CHECKING:
    from chromadb.api.types import Documents, EmbeddingFunction

    from ioa.domains.seed_domain import SeedDomain
    from ioa.teacher.protocol import Teacher


def module_budget(n_seeds: int, cfg: DomainConfig) -> tuple[int, int]:
    """(fewest, most) modules: 25-35 by default, fewer when the seeds cannot fill them."""
    cap = max(1, n_seeds // cfg.seeds_per_module)
    return min(cfg.min_modules, cap), min(cfg.max_modules, cap)


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


def _instruction(seed: SeedTask) -> str:
    return " ".join(seed.instruction.split())[:400]


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
    category_of = {i: cat for cat, idx in by_category.items() for i in idx}

    # 1. per seed, the skill it practises
    proposed, replies, rejected = _describe(seeds, category_of, teacher)
    # 2. merge near-duplicates (exact id repeats included)
    index = _Index(embed)
    modules, alias, merges, described = _merge(proposed, index, cfg.merge_similarity)
    teacher_ids = list(modules)
    # 3. a fallback module for each category the teacher left empty
    fallback_ids = _fallbacks(seeds, by_category, modules, index)
    # 4. assignment: the seed's own description, else teacher classification, else the nearest embedding
    assignment, assigned_by = _assign(seeds, by_category, modules, described, teacher, index)
    # 5. fold modules that are too small (or beyond the budget) into their nearest neighbour
    folds = _fold(modules, assignment, assigned_by, index, hi)
    for folded, into in ((f["module"], f["into"]) for f in folds):
        alias[folded] = into
    # 6. difficulty and prerequisites of the kept teacher modules, one short question each
    rated = _rate(modules, teacher)
    prerequisites = _prerequisites(modules, teacher)
    # 7. prerequisites through merges and folds, made acyclic
    removed = _resolve_prerequisites(modules, alias)
    # 8. the 8:2 split, fixed by domain.seed and the module id
    order = list(modules)
    probes = _split(assignment, order, cfg)
    sources = {
        "budget": {"min": lo, "max": hi},
        "teacher_replies": replies,
        "usable_descriptions": len(proposed),
        "rejected_descriptions": dict(rejected),
        "modules_from_teacher": [k for k in order if k in teacher_ids],
        "modules_from_fallback": [k for k in order if k in fallback_ids],
        "too_few_teacher_modules": len([k for k in order if k in teacher_ids]) < lo,
        "merged": merges,
        "folded": folds,
        "assigned_by": dict(Counter(assigned_by)),
        "assignment_sources": assigned_by,
        "difficulty_from_teacher": rated,
        "prerequisites_from_teacher": prerequisites,
        "removed_cycle_edges": [list(e) for e in removed],
    }
    return Decomposition(list(modules.values()), assignment, probes, sources)


def _describe(
    seeds: list[SeedTask], category_of: dict[int, str], teacher: Teacher
) -> tuple[dict[int, SeedModule], int, Counter[str]]:
    """A module proposed per seed from the teacher's skill phrase; also the replies received and why others failed.

    The question is one sentence a small teacher can answer. The instruction alone names the skill (its input is
    the instance, which a small teacher would work on instead), and seeds sharing an instruction share one question.
    """
    texts = list(dict.fromkeys(_instruction(s) for s in seeds))
    unique = teacher.run(
        "describe_skill",
        [{"exercise": f'"{text}"'} for text in texts],
        round=0,
        node="identify",
        temperature=0.0,
        max_tokens=32,
    )
    replies = [unique[texts.index(_instruction(s))] for s in seeds]
    phrases: dict[int, str] = {}
    rejected: Counter[str] = Counter()
    for i, reply in enumerate(replies):
        phrase, why = parse_skill(reply.skill, _instruction(seeds[i])) if reply is not None else ("", "no_reply")
        if phrase:
            phrases[i] = phrase
        else:
            rejected[why] += 1
    proposed: dict[int, SeedModule] = {}
    for i, phrase in phrases.items():
        siblings = [p for j, p in phrases.items() if category_of[j] == category_of[i]]
        name = skill_name(phrase, siblings)  # not empty: parse_skill kept two words or more
        description = phrase[0].upper() + phrase[1:].rstrip(".") + "."
        proposed[i] = SeedModule(f"{category_of[i]}/{name}", description, "intermediate", difficulty_source="default")
    return proposed, sum(r is not None for r in unique), rejected


def _merge(
    proposed: dict[int, SeedModule], index: _Index, similarity: float
) -> tuple[dict[str, SeedModule], dict[str, str], list[dict[str, Any]], dict[int, str]]:
    """Kept modules, merged id -> kept id, the merges made, and the module each described seed's phrase became."""
    modules: dict[str, SeedModule] = {}
    alias: dict[str, str] = {}
    merges: list[dict[str, Any]] = []
    described: dict[int, str] = {}
    for i, m in proposed.items():
        near = index.nearest(_text(m), category=m.id.split("/")[0], anywhere=False) if modules else None
        if m.id in modules or (near is not None and near[1] >= similarity):
            into = m.id if m.id in modules else near[0]  # type: ignore[index]
            if into != m.id:
                alias[m.id] = into
            merges.append({"module": m.id, "into": into, "similarity": 1.0 if m.id == into else round(near[1], 3)})
            described[i] = into
            continue
        modules[m.id] = m
        index.add(m)
        described[i] = m.id
    return modules, alias, merges, described


def _fallbacks(
    seeds: list[SeedTask], by_category: dict[str, list[int]], modules: dict[str, SeedModule], index: _Index
) -> list[str]:
    """Add a ``category/general`` module for each category without one; returns their ids."""
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
    return fallback_ids


def _resolve_prerequisites(modules: dict[str, SeedModule], alias: dict[str, str]) -> list[tuple[str, str]]:
    """Point each module's prerequisites at kept modules through merges and folds, acyclic; returns removed edges."""

    def resolve(mid: str) -> str:
        seen = {mid}
        while mid in alias and alias[mid] not in seen:  # merges and folds only point at kept modules
            mid = alias[mid]
            seen.add(mid)
        return mid

    prior = [(resolve(p), m.id) for m in modules.values() for p in m.prerequisites if resolve(p) in modules]
    edges, removed = rules.break_cycles(list(modules), [(p, m) for p, m in prior if p != m])
    for m in modules.values():
        m.prerequisites = [p for p, d in edges if d == m.id]
    return removed


def _assign(
    seeds: list[SeedTask],
    by_category: dict[str, list[int]],
    modules: dict[str, SeedModule],
    described: dict[int, str],
    teacher: Teacher,
    index: _Index,
) -> tuple[list[str], list[str]]:
    assignment = [""] * len(seeds)
    assigned_by = [""] * len(seeds)
    asks: list[tuple[int, list[SeedModule]]] = []
    for cat, idx in by_category.items():
        options = [m for k, m in modules.items() if k.split("/")[0] == cat]
        for i in idx:
            if i in described:
                assignment[i], assigned_by[i] = described[i], "description"
            elif len(options) == 1:
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


def _rate(modules: dict[str, SeedModule], teacher: Teacher) -> int:
    """Ask the teacher how hard each of its modules is; unusable replies keep the default. Returns how many it rated."""
    rated = [m for m in modules.values() if m.source == "teacher"]
    replies = teacher.run(
        "rate_difficulty",
        [{"skill": m.description} for m in rated],
        round=0,
        node="identify",
        temperature=0.0,
        max_tokens=8,
    )
    count = 0
    for m, reply in zip(rated, replies, strict=True):
        level = parse_level(reply.level) if reply is not None else None
        if level is not None:
            m.difficulty, m.difficulty_source = level, "teacher"
            count += 1
    return count


def _prerequisites(modules: dict[str, SeedModule], teacher: Teacher) -> dict[str, int]:
    """Ask, per teacher module, which of its category's other modules come first; counts of asked, answered, edges."""
    asks = []
    for m in modules.values():
        others = [o for o in modules.values() if o.id != m.id and o.id.split("/")[0] == m.id.split("/")[0]]
        if m.source == "teacher" and others:
            asks.append((m, others))
    replies = teacher.run(
        "choose_prerequisites",
        [
            {"skill": m.description, "skills": "\n".join(f"{n}. {o.description}" for n, o in enumerate(others, 1))}
            for m, others in asks
        ],
        round=0,
        node="identify",
        temperature=0.0,
        max_tokens=12,
    )
    edges = answered = 0
    for (m, others), reply in zip(asks, replies, strict=True):
        picked = parse_numbers(reply.prerequisites, others) if reply is not None else None
        if picked is not None:
            answered += 1
            m.prerequisites += [o.id for o in picked if o.id not in m.prerequisites]
            edges += len(picked)
    return {"asked": len(asks), "answered": answered, "edges": edges}


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


def decompose_into(domain: SeedDomain, teacher: Teacher, cfg: DomainConfig, path: Path) -> Decomposition:
    """Decompose a seed domain's seeds with ``teacher``, give the domain those modules and save them at ``path`` (the
    run's or an optimization's ``data/decomposition.json``), where ``build_domain`` restores them next time."""
    from ioa.memory import BundledMiniLM

    found = decompose(domain.seeds, teacher, cfg, BundledMiniLM())
    domain.adopt(found)
    domain.save(path)
    return found
