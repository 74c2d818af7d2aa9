"""Tests for the built-in arithmetic domain on reasoning-gym (offline, a few seconds)."""

from __future__ import annotations

import dataclasses
import json
import re
from statistics import mean

import pytest

from ioa.domains import ArithmeticDomain, Task, extract_answer, get_domain
from ioa.domains.arithmetic import RECIPES, WEEKDAYS, level_config
from ioa.errors import UsageError

# reasoning-gym imports cellpylib, whose source trips Python 3.11's "is" literal check.
pytestmark = pytest.mark.filterwarnings('ignore:"is" with a literal:SyntaxWarning')

DOMAIN = get_domain("arithmetic", seed=0)
MODULE_IDS = [m.id for m in DOMAIN.modules]
SPECS = {m.id: m for m in DOMAIN.modules}
SHORT_ANSWER = re.compile(rf"-?\d{{1,6}}|{'|'.join(WEEKDAYS)}")


# --- the domain and its module graph -------------------------------------------------


def test_get_domain_returns_arithmetic_and_rejects_unknown_names() -> None:
    assert isinstance(DOMAIN, ArithmeticDomain)
    assert DOMAIN.name == "arithmetic"
    with pytest.raises(UsageError, match="unknown domain"):
        get_domain("chemistry", seed=0)


def test_modules_are_many_and_well_formed() -> None:
    assert len(DOMAIN.modules) >= 6
    assert len(set(MODULE_IDS)) == len(MODULE_IDS)
    for spec in DOMAIN.modules:
        assert re.fullmatch(r"[a-z_]+/[a-z_0-9]+", spec.id)
        assert spec.name and spec.description
        assert 2 <= spec.levels <= 4


def test_prerequisites_form_a_dag_at_least_two_edges_deep() -> None:
    prereqs = {m.id: m.prerequisites for m in DOMAIN.modules}
    assert all(p in prereqs for ps in prereqs.values() for p in ps)

    depth: dict[str, int] = {}

    def longest_chain(module: str, path: tuple[str, ...] = ()) -> int:
        assert module not in path, f"cycle through {module}"
        if module not in depth:
            depth[module] = max((1 + longest_chain(p, (*path, module)) for p in prereqs[module]), default=0)
        return depth[module]

    assert max(longest_chain(m) for m in prereqs) >= 2
    assert any(not ps for ps in prereqs.values())  # somewhere to start


def test_level_knobs_are_curriculum_attribute_levels() -> None:
    from reasoning_gym.factory import create_curriculum

    for recipe in RECIPES:
        curriculum = create_curriculum(recipe.dataset)
        assert len(recipe.levels) == recipe.spec.levels
        for level, knobs in enumerate(recipe.levels):
            for name, value in knobs.items():
                assert value in curriculum.attributes[name].levels, (recipe.spec.id, level, name)
            level_config(recipe, level)  # a valid config for the dataset


# --- probes and exercises -------------------------------------------------------------


@pytest.mark.parametrize("module", MODULE_IDS)
def test_probes_are_deterministic_distinct_and_spread_over_levels(module: str) -> None:
    levels = SPECS[module].levels
    probes = DOMAIN.probes(module, 12, seed=0)
    assert probes == DOMAIN.probes(module, 12, seed=0)
    assert probes != DOMAIN.probes(module, 12, seed=1)
    assert [p.level for p in probes] == [i % levels for i in range(12)]
    assert len({p.question for p in probes}) == 12
    assert all(p.module == module for p in probes)


@pytest.mark.parametrize("module", MODULE_IDS)
def test_exercises_are_deterministic_per_seed_and_short(module: str) -> None:
    for level in range(SPECS[module].levels):
        tasks = DOMAIN.exercises(module, level, 20, seed=3)
        assert tasks == DOMAIN.exercises(module, level, 20, seed=3)
        assert tasks != DOMAIN.exercises(module, level, 20, seed=4)
        assert {(t.module, t.level) for t in tasks} == {(module, level)}
        for task in tasks:
            assert SHORT_ANSWER.fullmatch(task.answer), task
            assert len(task.question) <= 100, task.question


@pytest.mark.parametrize("module", MODULE_IDS)
def test_probes_never_appear_among_exercises(module: str) -> None:
    # Disjoint by construction (a hash of the question text reserves probe questions), so
    # this holds even where a level has only ~100 distinct questions.
    probe_questions = {p.question for seed in range(3) for p in DOMAIN.probes(module, 30, seed)}
    assert all(DOMAIN.is_probe_question(q) for q in probe_questions)
    for level in range(SPECS[module].levels):
        for seed in range(3):
            exercise_questions = {t.question for t in DOMAIN.exercises(module, level, 200, seed)}
            assert not probe_questions & exercise_questions


@pytest.mark.parametrize("module", MODULE_IDS)
def test_probes_held_out_items_and_exercises_are_three_disjoint_pools(module: str) -> None:
    """A benchmark scores held-out items no run ever measures or trains on: disjoint by the hash of the text."""
    probes = {p.question for seed in range(3) for p in DOMAIN.probes(module, 30, seed)}
    held_out = {p.question for seed in range(3) for p in DOMAIN.held_out(module, 30, seed)}
    exercises = {t.question for lv in range(SPECS[module].levels) for t in DOMAIN.exercises(module, lv, 100, 0)}
    assert {DOMAIN.pool(q) for q in probes} == {"probe"} and {DOMAIN.pool(q) for q in held_out} == {"held_out"}
    assert not probes & held_out and not (probes | held_out) & exercises
    # Drawn afresh per seed: two seeds' held-out draws are not the same items.
    assert [t.question for t in DOMAIN.held_out(module, 30, 0)] != [t.question for t in DOMAIN.held_out(module, 30, 1)]


def test_a_tiny_question_space_still_gives_the_requested_number_of_tasks() -> None:
    # Single-digit sums: 121 questions, about 97 outside the probe reserve; 300 must repeat.
    tasks = DOMAIN.exercises("arithmetic/addition", 0, 300, seed=0)
    assert len(tasks) == 300
    assert 80 < len({t.question for t in tasks}) < 121


@pytest.mark.parametrize("module", MODULE_IDS)
def test_difficulty_rises_with_level(module: str) -> None:
    # Larger operands, more terms or longer answers all show up as more digits.
    def digits(task: Task) -> int:
        return sum(c.isdigit() for c in task.question + task.answer)

    means = [mean(map(digits, DOMAIN.exercises(module, lv, 200, seed=0))) for lv in range(SPECS[module].levels)]
    assert means == sorted(means) and len(set(means)) == len(means), means


def test_level_0_is_single_digit_arithmetic() -> None:
    for task in DOMAIN.exercises("arithmetic/addition", 0, 50, seed=0):
        a, b = map(int, re.findall(r"\d+", task.question))
        assert a <= 10 and b <= 10 and int(task.answer) == a + b


def test_bad_module_or_level_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown module"):
        DOMAIN.probes("arithmetic/calculus", 4, seed=0)
    with pytest.raises(UsageError, match="levels"):
        DOMAIN.exercises("arithmetic/addition", 3, 4, seed=0)


def test_entries_survive_a_json_round_trip_and_still_score() -> None:
    for module in MODULE_IDS:
        for task in DOMAIN.probes(module, 6, seed=0):
            loaded = Task(**json.loads(json.dumps(dataclasses.asdict(task))))
            assert loaded == task
            assert DOMAIN.score(loaded, task.answer) == 1.0


# --- scoring -------------------------------------------------------------------------


def _wrong(answer: str) -> str:
    if answer in WEEKDAYS:
        return WEEKDAYS[(WEEKDAYS.index(answer) + 1) % 7]
    return "1" + answer.lstrip("-")  # contains the reference: must not get partial credit


@pytest.mark.parametrize("module", MODULE_IDS)
def test_score_accepts_reference_and_chatty_forms_and_rejects_wrong(module: str) -> None:
    for task in DOMAIN.probes(module, 9, seed=0):
        a = task.answer
        assert DOMAIN.score(task, a) == 1.0
        assert DOMAIN.score(task, f"The answer is {a}.") == 1.0
        assert DOMAIN.score(task, f"Let me think. Answer: {a}") == 1.0
        assert DOMAIN.score(task, f"{task.question.rstrip('.?')} = {a}") == 1.0
        assert DOMAIN.score(task, _wrong(a)) == 0.0
        assert DOMAIN.score(task, f"The answer is {_wrong(a)}.") == 0.0
        assert DOMAIN.score(task, "I don't know.") == 0.0
        assert DOMAIN.score(task, "") == 0.0
        assert DOMAIN.score(task, None) == 0.0  # type: ignore[arg-type]  # a failed teacher call


def test_score_on_a_worked_sum() -> None:
    task = next(t for t in DOMAIN.probes("arithmetic/addition", 30, seed=0) if t.question == "Calculate 9 + 3.")
    assert DOMAIN.score(task, "9 + 3 = 12") == 1.0
    assert DOMAIN.score(task, "9 + 3 = 12. The answer is 12.") == 1.0
    assert DOMAIN.score(task, "9 + 3 = 11") == 0.0


def test_weekday_answers_ignore_case() -> None:
    task = DOMAIN.probes("calendar/weekday_offset", 1, seed=0)[0]
    assert DOMAIN.score(task, f"the answer is {task.answer.lower()}") == 1.0
    assert DOMAIN.score(task, task.answer.upper()) == 1.0


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("12", "number", "12"),
        ("7 + 5 = 12", "number", "12"),
        ("The answer is 12.", "number", "12"),
        ("The answer is 12, since 5 + 7 is twelve.", "number", "12"),
        ("First 3 + 4 = 7, then 7 + 5 = 12. Answer: 12", "number", "12"),
        ("Final answer = -4", "number", "-4"),
        ("3 - 7 = -4", "number", "-4"),
        ("10-4=6", "number", "6"),
        ("It is 1,000 legs.", "number", "1000"),
        ("The GCD of 98, 58 is 2", "number", "2"),
        ("The answer is: **42**", "number", "42"),
        ("no idea", "number", "no idea"),
        ("It is Sunday.", "word", "Sunday"),
        ("The answer is Friday, because Monday + 4 days", "word", "Friday"),
    ],
)
def test_extract_answer(text: str, kind: str, expected: str) -> None:
    assert extract_answer(text, kind) == expected  # type: ignore[arg-type]


def test_extract_answer_with_choices_finds_the_last_mentioned_choice() -> None:
    assert extract_answer("Monday plus 3 days is thursday, I think", "word", WEEKDAYS) == "Thursday"
    assert extract_answer("answer: friday. Not Monday", "word", WEEKDAYS) == "Friday"
    assert extract_answer("I think so", "word", WEEKDAYS) == "I think so"
