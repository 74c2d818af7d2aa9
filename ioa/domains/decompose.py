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
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ioa import rules
from ioa.config import DomainConfig
from ioa.domains.seeds import SeedTask

if TYPE_CHECKING:
    from chromadb.api.types import Documents, EmbeddingFunction

    from ioa.teacher.protocol import Teacher

Difficulty = Literal["introductory", "intermediate", "advanced"]
DIFFICULTIES: tuple[Difficulty, ...] = ("introductory", "intermediate", "advanced")
MIN_SEEDS = 2
"""A module needs at least one probe and one synthesis seed."""
_ABOUT = re.compile(r"\b(?:about|practi[sc]es?)\s*:?\s+(.+)", re.I | re.S)
_SENTENCE_END = re.compile(r"(?<=[\w)`'\"])[.!?](?:\s|$)|\n")
_WORD = re.compile(r"[a-z]{2,}")
_STOP = frozenset(
    "a an the of to in on for and or with that which how what it its is are be this these those by as at from into"
    " using use given new simple basic some your their them they if then than can will so about exercise when while"
    " where".split()
)
"""Words that name no skill: function words, and the filler a small teacher pads skills with."""
LEVELS: dict[Difficulty, tuple[str, ...]] = {
    "introductory": ("introductory", "easy", "basic", "beginner", "elementary", "simple"),
    "intermediate": ("intermediate", "medium", "moderate", "average"),
    "advanced": ("advanced", "hard", "difficult", "challenging", "complex", "expert"),
}
"""How a teacher's level word maps onto a difficulty."""


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


def parse_skill(reply: str, exercise: str) -> tuple[str, str]:
    """(the skill phrase X of "This exercise is about X", "") or ("", why the reply is unusable)."""
    match = _ABOUT.search(reply.replace("**", ""))
    if not match:
        return "", "no_skill_phrase"  # the teacher solved, echoed or chatted instead
    # Near-misses: "about:" then a bullet list (the first bullet is the phrase), and a quoted instance
    # of the task ("correcting the sentence "The weather..."": the words before the quote are the skill).
    phrase = _SENTENCE_END.split(match.group(1).strip().lstrip("-*• \n"), maxsplit=1)[0]
    phrase = re.split(r"[\"“]", phrase.strip(" \"'`*:"), maxsplit=1)[0]
    phrase = " ".join(phrase.split()[:20])
    if len(content_words(phrase)) < 2:
        return "", "too_short"
    # The exercise said again, or a number of it in the "skill": the teacher described no skill.
    if slug(phrase, 400) == slug(exercise, 400) or set(re.findall(r"\d+", phrase)) & set(re.findall(r"\d+", exercise)):
        return "", "copies_the_task"
    return phrase, ""


def content_words(text: str) -> list[str]:
    """The words of ``text`` that can name a skill, in order, each once."""
    return list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in _STOP))


def skill_name(phrase: str, siblings: list[str], words: int = 3) -> str:
    """A short name for a skill phrase: its first words that its category's other phrases do not mostly share.

    "writing a Python function that reverses a string" among other "writing a Python function ..."
    phrases is named ``reverses_string``; a phrase with fewer than two words of its own keeps its first words.
    """
    own = content_words(phrase)
    counts = Counter(w for s in siblings for w in content_words(s))
    shared = {w for w, n in counts.items() if len(siblings) > 2 and n > len(siblings) / 2}
    distinct = [w for w in own if w not in shared]
    return slug(" ".join((distinct if len(distinct) >= 2 else own)[:words]))


def parse_level(reply: str) -> Difficulty | None:
    """The difficulty a level reply names first ("easy" -> introductory), or None."""
    found = [
        (m.start(), level)
        for level, names in LEVELS.items()
        for n in names
        for m in re.finditer(rf"\b{n}\b", reply, re.I)
    ]
    return min(found)[1] if found else None


def parse_numbers(reply: str, options: list[SeedModule]) -> list[SeedModule] | None:
    """The options a reply lists by number ([] for "none"), or None when it is not such a list.

    Only a bare list counts ("1, 3", "They are: 2."): "2. Correcting the spelling" copies a line
    of the numbered list it was shown, which a small teacher does whatever the question.
    """
    answer = reply.rsplit(":", 1)[-1].strip().rstrip(".").strip()
    if re.fullmatch(r"(?:none|no|nothing)", answer, re.I):
        return []
    if not re.fullmatch(r"\d+(?:\s*(?:,|and)\s*\d+)*", answer):
        return None
    picked = [options[int(n) - 1] for n in re.findall(r"\d+", answer) if 1 <= int(n) <= len(options)]
    return list({m.id: m for m in picked}.values()) if picked else None


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

    # 1. per seed, the skill it practises: a one-sentence question a small teacher can answer. The
    # instruction alone names the skill (its input is the instance, which a small teacher would work
    # on instead), and seeds sharing an instruction share one question.
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

    # 2. merge near-duplicates (exact id repeats included)
    index = _Index(embed)
    modules: dict[str, SeedModule] = {}
    alias: dict[str, str] = {}
    merges: list[dict[str, Any]] = []
    described: dict[int, str] = {}
    for i, m in proposed.items():
        near = index.nearest(_text(m), category=m.id.split("/")[0], anywhere=False) if modules else None
        if m.id in modules or (near is not None and near[1] >= cfg.merge_similarity):
            into = m.id if m.id in modules else near[0]  # type: ignore[index]
            if into != m.id:
                alias[m.id] = into
            merges.append({"module": m.id, "into": into, "similarity": 1.0 if m.id == into else round(near[1], 3)})
            described[i] = into
            continue
        modules[m.id] = m
        index.add(m)
        described[i] = m.id
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

    # 8. the 8:2 split, fixed by domain.seed and the module id
    probes = _split(assignment, order, cfg)
    sources = {
        "budget": {"min": lo, "max": hi},
        "teacher_replies": sum(r is not None for r in unique),
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
