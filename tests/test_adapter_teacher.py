"""The adapter node's strategies against a real local HTTP teacher scripted to answer like a strong model.

Exercises are written as the teach node writes them, in a strong model's style (markdown, LaTeX, long
sentences, now and then a wrong answer); the adapter adapts them step by step, traces each step's before and
after, fits them to the tiny student's budget without ever cutting one, and counts and traces every drop.
Verification is in test_adapter_verify.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from adapter_harness import BOX, FOX_WRONG, SPAIN, Harness, row

from ioa.config import Config
from ioa.domains.words import WordsDomain


@pytest.fixture
def harness(tmp_path: Path, tokenizer_dir: Path, one_thread: None) -> Iterator[Harness]:
    yield Harness(tmp_path, tokenizer_dir)


def test_strong_model_output_becomes_plain_templated_verified_targets(harness: Harness) -> None:
    out = harness.adapt(WordsDomain(), [BOX, SPAIN, FOX_WRONG])

    assert [r["prompt"] for r in out.rows] == [BOX["problem"], SPAIN["problem"]]  # smallest instance first
    for r in out.rows:
        lines = r["target"].splitlines()
        assert lines[-1] == f"Answer: {'Madrid' if 'Spain' in r['prompt'] else 'boxes'}"
        assert all(line.startswith(f"Step {i}: ") for i, line in enumerate(lines[:-1], 1))
        assert not any(mark in r["target"] for mark in ("**", "$", "\\", "#", "*"))
        assert (r["source"], r["verified_by"], r["mode"], r["level"]) == ("teacher", "checker", "new", 0)
        assert r["steps_applied"] == [
            "small_instances_first",
            "small_steps",
            "plain_words",
            "concrete_example_first",
            "one_step_template",
        ]
    box = next(r for r in out.rows if "box" in r["prompt"])
    assert box["entry"] == {"word": "box"}
    # Spain's solution named the rule first: the line on the example moved before it.
    assert out.rows[1]["target"].startswith("Step 1: Spain is a country.")
    assert out.dropped() == {FOX_WRONG["problem"]: "verification_failed"}
    assert out.update["synthesis"] == [
        {"round": 1, "module": "capitals", "verified": 1, "kept": 1, "dropped": {}},
        {"round": 1, "module": "plural/es", "verified": 1, "kept": 1, "dropped": {"verification_failed": 1}},
    ]
    assert out.update["usage"]["adapter_dropped"] == 1 and out.update["batch_examples"] == 2
    # The adapter's own teacher calls (here one plain-words rewrite) count against the run's teacher budget.
    assert out.update["usage"]["teacher_calls"] == harness.model.requests["rewrite_solution"] == 1


def test_the_trace_shows_each_example_before_and_after_each_step(harness: Harness) -> None:
    out = harness.adapt(WordsDomain(), [BOX, FOX_WRONG])

    kept = next(e for e in out.examples if e["outcome"] == "kept")
    steps = {s["step"]: s for s in kept["steps"]}
    assert list(steps) == [
        "verify",
        "small_instances_first",
        "small_steps",
        "plain_words",
        "concrete_example_first",
        "one_step_template",
    ]
    assert "**" in steps["plain_words"]["before"] and "**" not in steps["plain_words"]["after"]
    # The 21-word sentence failed the plain-words check: the teacher's rewrite was accepted.
    assert "rewritten by the teacher" in steps["plain_words"]["note"]
    assert "Step 1:" not in steps["one_step_template"]["before"] and "Step 1:" in steps["one_step_template"]["after"]
    assert kept["target"] == next(r["target"] for r in out.rows)
    dropped = next(e for e in out.examples if e["outcome"] == "dropped")
    assert dropped["reason"] == "verification_failed" and "foxs" in dropped["why"]
    assert out.summary["dropped"] == {"verification_failed": 1}
    assert out.summary["rewrites"]["plain_words"] == {"asked": 1, "accepted": 1, "rejected": 0}


def test_each_strategy_switches_off(harness: Harness) -> None:
    out = harness.adapt(WordsDomain(), [BOX], strategies=[])
    (r,) = out.rows
    # The teacher's lines as they came (less the heading and the line restating the answer), then the answer.
    assert r["target"] == "\n".join(BOX["steps"].splitlines()[1:3]) + "\nAnswer: boxes"
    assert r["steps_applied"] == [] and harness.model.requests["rewrite_solution"] == 0

    only = harness.adapt(WordsDomain(), [BOX], strategies=["one_step_template"])
    assert only.rows[0]["steps_applied"] == ["one_step_template"]
    assert only.rows[0]["target"].startswith("Step 1: ")


def test_a_rewrite_that_changes_the_answer_is_rejected_and_the_original_stays(harness: Harness) -> None:
    harness.model.rewrites[BOX["problem"]] = "steps: Box ends in x.\nanswer: boxs"
    out = harness.adapt(WordsDomain(), [BOX])

    (r,) = out.rows
    assert r["target"].endswith("Answer: boxes")
    assert "always take the ending -es in the plural, never a plain -s" in r["target"]  # the long sentence stays
    (event,) = out.examples
    note = next(s["note"] for s in event["steps"] if s["step"] == "plain_words")
    assert "rejected" in note and "boxs" in note
    assert out.summary["rewrites"]["plain_words"] == {"asked": 1, "accepted": 0, "rejected": 1}


def test_a_solution_that_never_names_its_example_is_rewritten_to_start_from_it(harness: Harness) -> None:
    dish = row("plural/es", 'What is the plural of "dish"?', "Nouns that end in sh take -es.", "dishes")
    kiss = row("plural/es", 'What is the plural of "kiss"?', "Nouns that end in s take -es.", "kisses")
    harness.model.rewrites[kiss["problem"]] = "steps: Nouns ending in s take -es.\nanswer: kisses"
    out = harness.adapt(WordsDomain(), [dish, kiss], strategies=["concrete_example_first"])

    by_prompt = {r["prompt"]: r["target"] for r in out.rows}
    assert by_prompt[dish["problem"]] == "Take dish from the problem.\nNouns that end in sh take -es.\nAnswer: dishes"
    assert by_prompt[kiss["problem"]] == "Nouns that end in s take -es.\nAnswer: kisses"  # the rejected rewrite
    assert out.summary["rewrites"]["concrete_example_first"] == {"asked": 2, "accepted": 1, "rejected": 1}
    kiss_event = next(e for e in out.examples if e["problem"] == kiss["problem"])
    assert "does not start from the example" in kiss_event["steps"][-1]["note"]


def test_an_exercise_above_its_levels_size_is_dropped_and_the_batch_is_written_smallest_first(harness: Harness) -> None:
    words = ["kiss", "box", "sandwich"]  # level 0 of plural/es holds words of at most 4 letters
    rows = [row("plural/es", f'What is the plural of "{w}"?', f"{w} takes -es.", f"{w}es") for w in words]
    out = harness.adapt(WordsDomain(), rows, strategies=["small_instances_first"])

    assert [r["prompt"] for r in out.rows] == [rows[1]["problem"], rows[0]["problem"]]
    assert out.dropped() == {rows[2]["problem"]: "too_big"}
    assert "size 8, above level 0's 4" in next(e["why"] for e in out.examples if e["outcome"] == "dropped")


def test_bad_teacher_output_is_counted_and_traced_never_a_crash(harness: Harness) -> None:
    # An empty reply and a reply that is not the asked format: the rewrite fails, the original stays.
    harness.model.rewrites[BOX["problem"]] = ""
    rows: list[Any] = [
        BOX,
        {"module": "plural/es", "problem": "What is the plural of dish?"},  # no steps, no answer
        {**SPAIN, "level": "zero"},
        ["not", "an", "object"],
        row("nonsense/module", "What?", "Because.", "42"),
        row("plural/es", 'What is the plural of "bus"?', "Answer: buses", "buses"),  # steps only restate it
    ]
    out = harness.adapt(WordsDomain(), rows, strategies=["plain_words"])

    assert [r["prompt"] for r in out.rows] == [BOX["problem"]]
    assert out.reasons() == ["malformed", "malformed", "malformed", "no_steps", "unknown_module"]
    assert out.summary["rewrites"]["plain_words"] == {"asked": 1, "accepted": 0, "rejected": 1}
    assert out.summary["counts"] == {"rows": 6, "verified": 2, "kept": 1, "checker_practice": 0}
    assert len(out.examples) == 6


def test_a_too_long_solution_is_rewritten_shorter_or_dropped_never_cut(harness: Harness) -> None:
    long_steps = "\n".join(f"Look again at the word box, for the {i}th time, and see it ends in x." for i in range(12))
    fits = row("plural/es", 'What is the plural of "box"?', long_steps, "boxes")
    stays_long = row("plural/es", 'What is the plural of "bus"?', long_steps.replace("box", "bus"), "buses")
    harness.model.rewrites[stays_long["problem"]] = "steps: " + long_steps.replace("box", "bus") + "\nanswer: buses"
    out = harness.adapt(WordsDomain(), [fits, stays_long], strategies=["small_steps", "one_step_template"])

    (r,) = out.rows
    assert r["prompt"] == fits["problem"] and r["target"].endswith("Answer: boxes")
    (event,) = [e for e in out.examples if e["outcome"] == "kept"]
    fit = next(s for s in event["steps"] if s["step"] == "fit_budget")
    assert "rewritten" in fit["note"] and fit["after"] == r["target"]
    assert out.dropped() == {stays_long["problem"]: "too_long"}
    assert out.summary["rewrites"]["shorten"] == {"asked": 2, "accepted": 2, "rejected": 0}


def test_bridging_exercises_recall_the_nearest_mastered_module_when_it_fits(harness: Harness) -> None:
    harness.hints = ["Most nouns take -s in the plural: one cat, two cats."]
    bridging = {**BOX, "mode": "bridging"}
    out = harness.adapt(WordsDomain(), [bridging, SPAIN])

    by_prompt = {r["prompt"]: r for r in out.rows}
    assert by_prompt[BOX["problem"]]["target"].startswith("Recall: Most nouns take -s")
    assert not by_prompt[SPAIN["problem"]]["target"].startswith("Recall:")  # a new exercise gets no scaffold
    harness.hints = [" ".join(["a very long reminder"] * 40)]
    again = harness.adapt(WordsDomain(), [bridging])
    assert not again.rows[0]["target"].startswith("Recall:")  # no room in the budget: left out, not cut
    assert len(again.rows[0]["target"].split()) < 40


def test_near_duplicates_are_dropped_within_the_round(harness: Harness) -> None:
    twin = {**BOX, "request": 1}
    out = harness.adapt(WordsDomain(), [BOX, twin], strategies=["small_steps"])
    assert len(out.rows) == 1 and list(out.dropped().values()) == ["duplicate"]


def test_the_same_problem_with_other_steps_is_a_duplicate(harness: Harness) -> None:
    """Unlike for ROUGE-L, as r49's remedial wave wrote "bird" three times; spacing, case and punctuation aside."""
    other = {**BOX, "problem": "what is the plural of box ?", "steps": "One box, two boxes.", "request": 1}
    out = harness.adapt(WordsDomain(), [BOX, other], strategies=[])
    assert len(out.rows) == 1 and list(out.dropped().values()) == ["duplicate"]
    fox = {**other, "problem": 'What is the plural of "fox"?', "steps": "One fox, two foxes.", "answer": "foxes"}
    assert len(harness.adapt(WordsDomain(), [BOX, fox], strategies=[]).rows) == 2


def test_checker_practice_is_an_explicit_supplement_off_by_default(harness: Harness) -> None:
    assert Config().adapter.checker_practice_per_example == 0
    off = harness.adapt(WordsDomain(), [BOX])
    assert {r["source"] for r in off.rows} == {"teacher"}

    on = harness.adapt(WordsDomain(), [BOX], checker_practice_per_example=3)
    practice = [r for r in on.rows if r["source"] == "checker_practice"]
    assert len(practice) == 3 and len(on.rows) == 4
    assert all(r["module"] == "plural/es" and r["level"] == 0 and r["target"].startswith("Answer: ") for r in practice)
    assert on.summary["counts"]["checker_practice"] == 3 and on.update["synthesis"][0]["kept"] == 1


def test_the_budget_is_the_runs_adapter_budget_or_a_share_of_the_students_context(harness: Harness) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(harness.tokenizer_dir)
    stated = harness.adapt(WordsDomain(), [BOX, SPAIN], state={"lengths": {"adapter_budget": 20}})
    assert stated.budget() == 20
    assert stated.rows and all(len(tokenizer(r["target"])["input_ids"]) <= 20 for r in stated.rows)

    fallback = harness.adapt(WordsDomain(), [BOX, SPAIN], strategies=[])
    config = fallback.config
    assert fallback.budget() == int(config.adapter.target_token_share * config.student.context_length)
