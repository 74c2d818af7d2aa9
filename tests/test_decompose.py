"""Decomposition of seed files into modules with a fake teacher (LangChain's FakeListChatModel).

The embeddings are the real bundled MiniLM (offline); only the teacher's replies are scripted.
"""

from __future__ import annotations

from collections import Counter

import pytest
from langchain_core.language_models import FakeListChatModel

from ioa.config import Config, DomainConfig, TeacherConfig
from ioa.domains.decompose import decompose, module_budget, parse_choice, parse_module_lines, slug
from ioa.domains.seed_domain import SeedDomain
from ioa.domains.seeds import SeedTask
from ioa.memory import BundledMiniLM
from ioa.teacher_client import Teacher
from ioa.traces import Tracer


@pytest.fixture(scope="module")
def embed() -> BundledMiniLM:
    return BundledMiniLM()


def teacher(replies: list[str], tmp_path) -> Teacher:
    # One request at a time, so the scripted replies meet the requests in order.
    return Teacher(
        FakeListChatModel(responses=replies),
        TeacherConfig(max_concurrency=1, parse_retries=0),
        Tracer(tmp_path / "traces.jsonl"),
    )


SUMS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (15, 27), (38, 45), (5, 1), (66, 17)]]
WORDS = ["Spell 'cat' backwards.", "Spell 'dog' backwards.", "Spell 'sun' backwards.", "Spell 'hat' backwards."]
SEEDS = [SeedTask(instruction=q, reference="x", category="sums", kind="math", line=i + 1) for i, q in enumerate(SUMS)]
SEEDS += [SeedTask(instruction=q, reference="x", category="Words", line=7 + i) for i, q in enumerate(WORDS)]
CFG = DomainConfig(seeds_per_module=2, merge_similarity=0.9, seed=0)

PROPOSAL = """Here are the modules:
1. adding small numbers | introductory | add two one-digit numbers | carrying
2. Adding Small Numbers! | introductory | add two one-digit numbers | none
3. carrying | intermediate | add two-digit numbers, carrying the tens | adding small numbers
name | difficulty | description | prerequisites
"""


def test_parse_module_lines_is_lenient() -> None:
    found = parse_module_lines(PROPOSAL + "- column addition: line digits up\nrandom chatter without a module", "sums")
    assert [m.id for m in found] == [
        "sums/adding_small_numbers",
        "sums/adding_small_numbers",
        "sums/carrying",
        "sums/column_addition",
    ]
    assert found[2].difficulty == "intermediate" and found[2].prerequisites == ["sums/adding_small_numbers"]
    assert found[3].difficulty_source == "default"
    assert parse_module_lines("", "sums") == []
    assert parse_module_lines("A: 18 / 100 = 18/100", "sums") == []  # a real 135M reply


def test_parse_choice() -> None:
    options = parse_module_lines(PROPOSAL, "sums")[1:]
    assert parse_choice("module: 2", options) is options[1]
    assert parse_choice("It practises carrying.", options) is options[1]
    assert parse_choice("no idea", options) is None
    assert parse_choice("7", options) is None


def test_budget_shrinks_for_small_seed_sets() -> None:
    assert module_budget(1000, DomainConfig()) == (25, 35)
    assert module_budget(30, DomainConfig()) == (7, 7)
    assert module_budget(3, DomainConfig()) == (1, 1)
    assert slug("Adding Fractions!") == "adding_fractions" and slug("123") == ""


def test_decompose_merges_falls_back_breaks_cycles_and_splits(tmp_path, embed) -> None:
    replies = [PROPOSAL, "Sorry, I cannot help with that.", "1", "module: 2", "carrying", "hmm", "1", "2"]
    t = teacher(replies, tmp_path)
    d = decompose(SEEDS, t, CFG, embed)
    ids = [m.id for m in d.modules]
    assert ids == ["sums/adding_small_numbers", "sums/carrying", "words/general"]
    src = d.sources
    assert src["modules_from_teacher"] == ids[:2] and src["modules_from_fallback"] == ["words/general"]
    assert [m["module"] for m in src["merged"]] == ["sums/adding_small_numbers"]
    # adding <- carrying and carrying <- adding: one of the two edges is removed and reported
    assert len(src["removed_cycle_edges"]) == 1
    assert sum(len(m.prerequisites) for m in d.modules) == 1
    # "hmm" names no module: that seed went to the nearest module by embedding
    assert src["assigned_by"] == {"teacher": 5, "embedding": 1, "only_module": 4}
    assert Counter(d.assignment)["words/general"] == 4
    for m in d.modules:
        members = [i for i, a in enumerate(d.assignment) if a == m.id]
        held = [i for i in members if i in d.probes]
        assert 1 <= len(held) < len(members)  # a probe and a synthesis seed for every module
    assert t.stats.calls == len(replies)


def test_split_is_fixed_by_the_seed(tmp_path, embed) -> None:
    replies = ["nothing useful", "nothing either"]
    first = decompose(SEEDS, teacher(replies, tmp_path), CFG, embed)
    again = decompose(SEEDS, teacher(replies, tmp_path), CFG, embed)
    assert first.to_json() == again.to_json()
    # the teacher gave nothing usable: one fallback module per category
    assert [m.id for m in first.modules] == ["sums/general", "words/general"]
    assert first.sources["too_few_teacher_modules"] and first.sources["modules_from_teacher"] == []
    other = [decompose(SEEDS, teacher(replies, tmp_path), CFG.model_copy(update={"seed": s}), embed) for s in (1, 2, 3)]
    assert any(o.probes != first.probes for o in other)


def test_small_modules_are_folded(tmp_path, embed) -> None:
    proposal = "adding | introductory | add numbers | none\nfractions | advanced | add fractions | adding"
    replies = [proposal, "no modules here", "1", "1", "1", "1", "1", "2"]  # fractions gets a single seed
    d = decompose(SEEDS, teacher(replies, tmp_path), CFG, embed)
    assert [f["module"] for f in d.sources["folded"]] == ["sums/fractions"]
    assert "sums/fractions" not in d.assignment and d.assignment.count("sums/adding") == 6
    assert d.sources["assignment_sources"][5] == "folded"


def test_seed_domain_adopts_saves_and_restores(tmp_path, embed) -> None:
    config = Config()
    domain = SeedDomain(SEEDS, config)
    domain.adopt(decompose(SEEDS, teacher(["x", "y"], tmp_path), CFG, embed))
    module = domain.modules[0].id
    probes = domain.probes(module, 10, seed=0)
    exercises = domain.exercises(module, 0, 7, seed=3)
    assert probes and not {p.question for p in probes} & {e.question for e in exercises}
    assert len(exercises) == 7 and exercises == domain.exercises(module, 0, 7, seed=3)
    domain.save(tmp_path / "decomposition.json")
    back = SeedDomain.restore(tmp_path / "decomposition.json", config)
    assert back.modules == domain.modules and back.probes(module, 10, 0) == probes
