"""PlainAdapter's parsing of a small teacher's replies, called directly: labels, repairs and refusals."""

from __future__ import annotations

import pytest
from dspy.utils.exceptions import AdapterParseError

from ioa.teacher.prompt_format import PlainAdapter, derived_answer
from ioa.teacher.signatures import AnswerProbe, JudgeAnswer, WriteWorkedSolution


def parse(signature, reply):
    repairs: list[str] = []
    fields = PlainAdapter(on_repair=repairs.append).parse(signature, reply)
    return fields, repairs


def test_one_line_arithmetic_is_repaired_to_steps_and_its_result():
    # The embedded 135M teacher's typical worked solution: one unlabelled line, wrong here (25% of 80 is 20).
    fields, repairs = parse(WriteWorkedSolution, "25% of 80 is 0.25 * 80 = 18.")
    assert fields == {"steps": "25% of 80 is 0.25 * 80 = 18.", "answer": "18"}
    assert repairs == ["derivation"]


def test_one_line_sentence_gives_what_follows_the_last_is():
    fields, repairs = parse(WriteWorkedSolution, "So the total number of apples Sam has now is 12 apples.")
    assert fields["answer"] == "12 apples" and fields["steps"].startswith("So the total")
    assert repairs == ["derivation"]


def test_multi_line_unlabelled_derivation_keeps_every_line_as_a_step():
    fields, repairs = parse(WriteWorkedSolution, "Sam starts with 7 apples.\n\nHe buys 5 more.\n7 + 5 = 12")
    assert fields == {"steps": "Sam starts with 7 apples.\nHe buys 5 more.\n7 + 5 = 12", "answer": "12"}
    assert repairs == ["derivation"]


def test_multi_line_unlabelled_ending_in_a_bare_answer_splits_there():
    fields, repairs = parse(WriteWorkedSolution, "First add the ones.\n3 + 4 = 7\n7")
    assert fields == {"steps": "First add the ones.\n3 + 4 = 7", "answer": "7"}
    assert repairs == ["split"]


def test_labelled_worked_solution_is_parsed_as_before_and_is_no_repair():
    fields, repairs = parse(WriteWorkedSolution, "steps: 3/4 - 1/4 = 2/4\nthen simplify\n**Answer:** 1/2")
    assert fields == {"steps": "3/4 - 1/4 = 2/4\nthen simplify", "answer": "1/2"}
    assert repairs == []


@pytest.mark.parametrize("reply", ["I cannot help with that.", "Sorry.", "12", "x ="])
def test_a_line_that_derives_nothing_is_still_refused(reply):
    # No "=" or "is" with something after it, and no line before it to be the steps.
    with pytest.raises(AdapterParseError):
        parse(WriteWorkedSolution, reply)


def test_the_derivation_repair_is_only_for_worked_solutions():
    # The judge has one output field; an unlabelled line fills it whole, "=" or not.
    fields, repairs = parse(JudgeAnswer, "2 + 2 = 4 is correct")
    assert fields == {"verdict": "2 + 2 = 4 is correct"} and repairs == ["unlabelled"]
    assert parse(AnswerProbe, "answer: 4") == ({"answer": "4"}, [])


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("1/2 + 1/4 = 3/4", "3/4"),  # the last number would be 4
        ("The answer is 20 = 20.", "20"),
        ("0.25 * 80 = 20, so she pays is 20 dollars.", "20 dollars"),
        ("This isn't hard: 6 * 7 = 42.", "42"),
        ("He has five apples left.", ""),
    ],
)
def test_derived_answer_is_the_last_member_of_the_equality_chain(line, answer):
    assert derived_answer(line) == answer
