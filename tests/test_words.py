"""The embedded default domain, English word knowledge: its units, checkers and verification of new exercises."""

from __future__ import annotations

import pytest

from ioa.domains import get_domain
from ioa.domains.words import UNITS, WordsDomain, extract_form

DOMAIN = WordsDomain()


def test_every_unit_word_and_reference_has_a_library_answer_and_follows_its_rule() -> None:
    for unit in UNITS:
        words = [w for level in unit.words for w in level]
        assert len(unit.words) == 3 and all(len(level) == 4 for level in unit.words)
        for word in [*words, *unit.references]:
            assert unit.forms(word) and unit.follows(word), (unit.spec.id, word)
        # References are style only: never a word the probes ask.
        assert not set(unit.references) & set(words)


def test_prerequisites_build_rules_on_rules() -> None:
    specs = {m.id: m for m in DOMAIN.modules}
    assert len(specs) >= 6
    assert specs["plural/es"].prerequisites == ("plural/regular",)
    assert specs["degree/superlative"].prerequisites == ("degree/comparative",)
    assert get_domain("words", 0).modules == DOMAIN.modules  # the built-in registry serves it by name


def test_probes_ask_the_units_words_level_by_level() -> None:
    probes = DOMAIN.probes("plural/irregular", 12, seed=0)
    assert [p.level for p in probes] == [0, 1, 2] * 4
    unit = next(u for u in UNITS if u.spec.id == "plural/irregular")
    assert {p.entry["word"] for p in probes} == {w for level in unit.words for w in level}
    assert probes == DOMAIN.probes("plural/irregular", 12, seed=0)  # deterministic
    child = next(p for p in probes if p.entry["word"] == "child")
    assert child.question == 'What is the plural of "child"?' and child.answer == "children"


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('The plural of "child" is "children" (plural of the', 1.0),  # the embedded teacher's way
        ("children", 1.0),
        ("**children**", 1.0),
        ("The answer is $\\boxed{children}$.", 1.0),
        ("Step 1: child is irregular.\nAnswer: children", 1.0),  # the trained student's way
        ('The plural of "child" is "childs".', 0.0),
        ("", 0.0),
    ],
)
def test_score_reads_the_answer_out_of_any_reply(reply: str, score: float) -> None:
    [task] = [p for p in DOMAIN.probes("plural/irregular", 12, 0) if p.entry["word"] == "child"]
    assert DOMAIN.score(task, reply) == score


def test_capitals_are_checked_by_the_library() -> None:
    [task] = [p for p in DOMAIN.probes("capitals", 12, 0) if p.entry["word"] == "France"]
    assert DOMAIN.score(task, "The capital of France is Paris.") == 1.0
    assert DOMAIN.score(task, "Lyon") == 0.0
    assert extract_form("Answer: Buenos Aires", 2) == "Buenos Aires"


@pytest.mark.parametrize(
    ("module", "problem", "steps", "answer", "ok", "why"),
    [
        (
            "plural/ies",
            'What is the plural of "baby"?',
            "Baby ends in y. Its plural is babies.",
            "babies",
            True,
            "checked",
        ),
        ("plural/ies", 'What is the plural of "baby"?', "Its plural is babybabe.", "babies", False, "contradicts"),
        ("plural/es", 'What is the plural of "car"?', '"car" ends in sh. Add -es.', "cars", False, "rule"),
        ("plural/regular", 'What is the plural of "car"?', '"car" ends in sh. Add -es.', "cars", False, "contradicts"),
        ("plural/irregular", "One child, two ___?", "It is irregular.", "children", True, "checked"),
        ("plural/irregular", 'What is the plural of "man"?', "Man is a plural noun.", "man", False, "wrong answer"),
        ("capitals", "What is the capital of France?", "France is in Europe.", "France", False, "wrong answer"),
        (
            "capitals",
            "Name the capital city of Japan.",
            "Japan is in Asia. Its capital is Tokyo.",
            "Tokyo",
            True,
            "checked",
        ),
        ("past/regular", 'What is the past tense of "go"?', "Irregular.", "went", False, "rule"),
        ("plural/regular", "Where might we find a book?", "One book, two books.", "books", False, "ask for the plural"),
        ("plural/regular", 'What is the plural of "dog", "cat"?', "One dog, two dogs.", "dogs", False, "more than one"),
    ],
)
def test_verify_checks_answer_rule_and_steps_of_a_teacher_written_exercise(module, problem, steps, answer, ok, why):
    verdict = DOMAIN.verify(module, problem, steps, answer)
    assert verdict.ok is ok and why in verdict.reason


def test_lessons_name_the_units_words_with_caps_and_style_references() -> None:
    lesson = DOMAIN.lesson("plural/es", 1)
    assert lesson.items == ("dish", "lunch", "glass", "watch")
    assert lesson.size_cap == "words of at most 5 letters" and lesson.complexity_cap == "one rule only"
    assert [r.item for r in lesson.references] == ["tax", "wish"]
    for ref in lesson.references:  # the references are correct worked examples by the module's own checker
        assert DOMAIN.verify("plural/es", ref.problem, ref.steps, ref.answer).ok
