"""Decomposition of seed files into modules with a fake teacher (LangChain's FakeListChatModel).

The embeddings are the real bundled MiniLM (offline); only the teacher's replies are scripted.
"""

from __future__ import annotations

from collections import Counter

import pytest
from langchain_core.language_models import FakeListChatModel

from ioa.config import Config, DomainConfig, TeacherConfig
from ioa.domains.decompose import decompose, module_budget
from ioa.domains.decomposition import SeedModule
from ioa.domains.replies import parse_choice, parse_level, parse_numbers, parse_skill, skill_name, slug
from ioa.domains.seed_domain import SeedDomain
from ioa.domains.seeds import SeedTask
from ioa.memory import BundledMiniLM
from ioa.teacher.client import ChatTeacher
from ioa.traces import Tracer


@pytest.fixture(scope="module")
def embed() -> BundledMiniLM:
    return BundledMiniLM()


def teacher(replies: list[str], tmp_path) -> ChatTeacher:
    # One request at a time, so the scripted replies meet the requests in order.
    return ChatTeacher(
        FakeListChatModel(responses=replies),
        TeacherConfig(max_concurrency=1, parse_retries=0),
        Tracer(tmp_path / "traces.jsonl"),
    )


SUMS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (15, 27), (38, 45), (5, 1), (66, 17)]]
WORDS = ["Spell 'cat' backwards.", "Spell 'dog' backwards.", "Spell 'sun' backwards.", "Spell 'hat' backwards."]
SEEDS = [SeedTask(instruction=q, reference="x", category="sums", kind="math", line=i + 1) for i, q in enumerate(SUMS)]
SEEDS += [SeedTask(instruction=q, reference="x", category="Words", line=7 + i) for i, q in enumerate(WORDS)]
CFG = DomainConfig(seeds_per_module=2, merge_similarity=0.9, seed=0)


def about(phrase: str) -> str:
    return f"This exercise is about {phrase}."


def test_parse_skill_repairs_near_misses_and_says_why_it_rejects() -> None:
    assert parse_skill(about("adding small numbers"), "x") == ("adding small numbers", "")
    # real 135M replies: a bullet list after "about:", and a quoted instance of the task
    bullet = "This exercise is about:\n\n- The function is_even() that takes an integer n. More."
    assert parse_skill(bullet, "x") == ("The function is_even() that takes an integer n", "")
    quoted = 'This exercise is about correcting the spelling in the sentence "The weather is beautifull today."'
    assert parse_skill(quoted, "x") == ("correcting the spelling in the sentence", "")
    assert parse_skill("She walked to school every day.", "x") == ("", "no_skill_phrase")
    assert parse_skill("This exercise is about it.", "x") == ("", "too_short")
    assert parse_skill(about("finding the remainder of 18 by 5"), "What is 18 / 5?") == ("", "copies_the_task")
    task = "Is the sentiment of the review positive or negative?"
    assert parse_skill(f"This exercise is about {task}", task) == ("", "copies_the_task")


def test_skill_name_keeps_the_words_that_tell_siblings_apart() -> None:
    siblings = [f"writing a Python function that {x}" for x in ("reverses a string", "counts vowels", "shouts")]
    assert skill_name(siblings[0], siblings) == "reverses_string"
    assert skill_name(siblings[2], siblings) == "writing_python_function"  # one word of its own is too few
    assert skill_name("Adding small numbers", ["Adding small numbers"]) == "adding_small_numbers"


def test_parse_level_and_numbers() -> None:
    assert parse_level("level: easy") == "introductory" and parse_level("Quite HARD, not easy") == "advanced"
    assert parse_level("medium") == "intermediate" and parse_level("Here's a Python function") is None
    options = [
        SeedModule("sums/adding", "Adding.", "introductory"),
        SeedModule("sums/carrying", "Carrying.", "advanced"),
    ]
    assert parse_numbers("2, 1, 2", options) == options[::-1]
    assert parse_numbers("none", options) == [] and parse_numbers("7", options) is None
    assert parse_numbers("The skills of the past tense are: 1.", options) == options[:1]
    # real 135M replies that copy a line of the numbered list: not an answer
    assert parse_numbers("skills: 2. Correcting the spelling of the sentence", options) is None


def test_parse_choice() -> None:
    options = [
        SeedModule("sums/adding", "Adding.", "introductory"),
        SeedModule("sums/carrying", "Carrying.", "advanced"),
    ]
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
    describe = [
        about("adding small numbers"),
        about("adding small numbers") + " It is fun.",
        about("carrying the tens in column addition"),
        "This exercise is about:\n- carrying the tens in column addition",
        "What is 5 + 1? It is 6.",  # no skill phrase: classified below
        about("adding the numbers 66 and 17"),  # the task's numbers: classified below
    ] + ["Sorry, I cannot help with that."] * 4  # the words category gets its fallback module
    classify = ["1", "hmm"]  # "hmm" names no module: that seed goes to the nearest module by embedding
    rate = ["level: easy", "It is quite hard."]
    prerequisites = ["1", "1"]  # adding <- carrying and carrying <- adding: a cycle
    replies = describe + classify + rate + prerequisites
    t = teacher(replies, tmp_path)
    d = decompose(SEEDS, t, CFG, embed)
    ids = [m.id for m in d.modules]
    assert ids == ["sums/adding_small_numbers", "sums/carrying_tens_column", "words/general"]
    src = d.sources
    assert src["modules_from_teacher"] == ids[:2] and src["modules_from_fallback"] == ["words/general"]
    assert src["rejected_descriptions"] == {"no_skill_phrase": 5, "copies_the_task": 1}
    assert [m["module"] for m in src["merged"]] == ids[:2]  # the second description of each
    assert [m.difficulty for m in d.modules] == ["introductory", "advanced", "intermediate"]
    assert [m.difficulty_source for m in d.modules] == ["teacher", "teacher", "default"]
    assert d.modules[0].description == "Adding small numbers."
    # one of the two cycle edges is removed and reported
    assert len(src["removed_cycle_edges"]) == 1 and src["prerequisites_from_teacher"]["edges"] == 2
    assert sum(len(m.prerequisites) for m in d.modules) == 1
    assert src["assigned_by"] == {"description": 4, "teacher": 1, "embedding": 1, "only_module": 4}
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
    assert first.sources["rejected_descriptions"] == {"no_skill_phrase": 10}
    other = [decompose(SEEDS, teacher(replies, tmp_path), CFG.model_copy(update={"seed": s}), embed) for s in (1, 2, 3)]
    assert any(o.probes != first.probes for o in other)


def test_small_modules_are_folded(tmp_path, embed) -> None:
    describe = [about("adding whole numbers")] * 5 + [about("adding fractions with unlike denominators")]
    replies = describe + ["no modules here"] * 4 + ["easy"]  # the fractions module gets a single seed
    d = decompose(SEEDS, teacher(replies, tmp_path), CFG, embed)
    assert [f["module"] for f in d.sources["folded"]] == ["sums/fractions_unlike_denominators"]
    assert d.assignment.count("sums/adding_whole_numbers") == 6
    assert d.sources["assignment_sources"][5] == "folded"
    assert (
        d.sources["prerequisites_from_teacher"]["asked"] == 0
    )  # a module alone in its category has no one to ask about


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


def test_seeds_sharing_an_instruction_share_one_question(tmp_path, embed) -> None:
    words = ["cat", "dog", "sun", "hat"]
    seeds = [
        SeedTask(instruction="Spell the word backwards.", input=w, reference=w[::-1], line=i + 1)
        for i, w in enumerate(words)
    ]
    t = teacher([about("spelling words backwards"), "easy"], tmp_path)
    d = decompose(seeds, t, CFG, embed)
    assert t.stats.calls == 2  # one description for the four seeds, one difficulty
    assert [m.id for m in d.modules] == ["general/spelling_words_backwards"]
    assert d.sources["assigned_by"] == {"description": 4} and d.modules[0].difficulty == "introductory"
