"""reasoning-gym datasets as a configured domain (domain.gym): modules, ladders, prerequisites, checking."""

from __future__ import annotations

import pytest

from ioa.config import GymDatasetConfig, load_config
from ioa.domains import build_domain
from ioa.domains.gym import GymDomain, curriculum_ladder
from ioa.errors import UsageError

pytestmark = pytest.mark.filterwarnings('ignore:"is" with a literal:SyntaxWarning')

GYM = (
    "domain.gym=["
    "{dataset: basic_arithmetic, id: arithmetic/basic, answer: number, levels: 2,"
    " config: {min_terms: 2, max_terms: 2, allow_parentheses: false, allow_negation: false}},"
    "{dataset: leg_counting, id: counting/legs, prerequisites: [arithmetic/basic], answer: number,"
    " ladder: [{num_animals: 1}, {num_animals: 2}, {num_animals: 3}]},"
    "{dataset: spell_backward, prerequisites: [counting/legs], levels: 3}]"
)


@pytest.fixture(scope="module")
def domain() -> GymDomain:
    built = build_domain(load_config(None, [GYM], environ={}))
    assert isinstance(built, GymDomain)
    return built


def test_modules_prerequisites_and_ladders(domain: GymDomain) -> None:
    specs = {m.id: m for m in domain.modules}
    assert list(specs) == ["arithmetic/basic", "counting/legs", "gym/spell_backward"]
    assert specs["counting/legs"].prerequisites == ("arithmetic/basic",)
    assert [specs[k].levels for k in specs] == [2, 3, 3]


def test_curriculum_ladder_climbs_every_attribute() -> None:
    ladder = curriculum_ladder("spell_backward", 3)
    assert [rung["word_len"] for rung in ladder] == [3, 5, 7]


def test_probes_exercises_and_scoring(domain: GymDomain) -> None:
    for spec in domain.modules:
        probes = domain.probes(spec.id, 6, seed=0)
        assert [p.level for p in probes] == [i % spec.levels for i in range(6)]
        exercises = {t.question for lv in range(spec.levels) for t in domain.exercises(spec.id, lv, 20, seed=1)}
        assert not exercises & {p.question for p in probes}
        for p in probes:
            assert domain.score(p, f"The answer is: {p.answer}") == 1.0
            assert domain.score(p, "certainly not the answer") == 0.0


def test_harder_rungs_are_harder(domain: GymDomain) -> None:
    words = [domain.exercises("gym/spell_backward", lv, 30, seed=0) for lv in range(3)]
    lengths = [sum(len(t.answer) for t in tasks) / len(tasks) for tasks in words]
    assert lengths == sorted(lengths) and lengths[0] < lengths[2]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([GymDatasetConfig(dataset="no_such_dataset")], r"domain.gym\[0\]: unknown reasoning-gym dataset"),
        ([GymDatasetConfig(dataset="leg_counting", prerequisites=["x/y"])], r"domain.gym\[0\]: unknown prerequisites"),
        ([GymDatasetConfig(dataset="leg_counting", id="Bad Id")], r"must look like 'category/name'"),
        ([GymDatasetConfig(dataset="leg_counting"), GymDatasetConfig(dataset="leg_counting")], r"ids repeat"),
        ([GymDatasetConfig(dataset="leg_counting", ladder=[{"no_such_knob": 1}])], r"level 0 is not a valid"),
    ],
)
def test_bad_gym_lists_are_usage_errors(entries, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        GymDomain(entries)


def test_path_and_gym_together_are_refused() -> None:
    with pytest.raises(UsageError, match="either domain.path or domain.gym"):
        load_config(None, ["domain.path=x.jsonl", GYM], environ={})
