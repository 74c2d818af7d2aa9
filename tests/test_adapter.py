"""The adapter's deterministic parts: the formal text transforms, instance sizes, drafts of teach rows, a seed
domain's lessons and verdicts, and the no-adapter ablation. The node against a teacher is in
test_adapter_teacher.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ioa.adapter.draft import Draft, draft_of
from ioa.adapter.strategies import instance_size
from ioa.adapter.text import (
    instance_tokens,
    mentions,
    normalized_answer,
    one_idea_per_line,
    plain_words_problems,
    same_answer,
    solution_lines,
    strip_markup,
    templated,
)
from ioa.config import Config
from ioa.context import Services
from ioa.domains.decomposition import Decomposition, SeedModule
from ioa.domains.lesson import Lesson, StyleExample
from ioa.domains.seed_domain import SeedDomain
from ioa.domains.seeds import SeedTask
from ioa.graph.ablations import pass_through_batch
from ioa.rundir import RunDir, read_jsonl, write_jsonl
from ioa.state import IOAState
from ioa.traces import Tracer, read_traces


def test_markup_is_written_out_but_products_signs_and_decimals_stay() -> None:
    text = (
        "### Solution\n**Step 1:** The word *box* ends in `x`.\n"
        "- We get $\\frac{3}{4} \\times 2$ and \\(\\boxed{boxes}\\).\n"
        "3 * 4 * 5 = 60, -4 * 2 = -8, 3.5 + 1 = 4.5, snake_case_name\n```\n---"
    )
    assert strip_markup(text).splitlines() == [
        "Solution",
        "Step 1: The word box ends in x.",
        "- We get 3/4 * 2 and boxes.",
        "3 * 4 * 5 = 60, -4 * 2 = -8, 3.5 + 1 = 4.5, snake_case_name",
    ]


def test_solution_lines_drop_headings_and_lines_that_only_restate_the_answer() -> None:
    steps = "Solution:\n\n3 + 4 = 7\nSo, the final answer is 7.\nAnswer: 7\nThe answer comes from adding."
    assert solution_lines(steps) == ["3 + 4 = 7", "The answer comes from adding."]


def test_one_idea_per_line_splits_sentences_and_list_decoration_but_not_decimals() -> None:
    lines = ["1. Step 1: Look at 3.5 first. Then add 1; you get 4.5.", "- e.g. the next one", "2) Done!"]
    assert one_idea_per_line(lines) == [
        "Look at 3.5 first.",
        "Then add 1",
        "you get 4.5.",
        "e.g. the next one",
        "Done!",
    ]
    assert templated(["Look at 3.5 first.", "Step 7: Then add 1."]) == [
        "Step 1: Look at 3.5 first.",
        "Step 2: Then add 1.",
    ]


def test_the_plain_words_check_names_long_sentences_and_leftover_markup() -> None:
    assert plain_words_problems(["One box, many boxes."], 16) == []
    assert plain_words_problems(["a " * 17 + "end."], 16) == ["1 sentence(s) over 16 words"]
    assert plain_words_problems(["Use \\alpha here."], 16) == ["markup left"]


def test_answers_agree_after_markup_case_and_sentence_are_stripped() -> None:
    assert normalized_answer("**Answer:** $\\boxed{Boxes}$.") == "boxes"
    assert same_answer("12", "Let me see.\nThe answer is **12**.")
    assert same_answer("Paris", "The capital of France is Paris.")
    assert same_answer("8", "2 ducks have 4 legs, and 4 + 4 = 8")
    assert not same_answer("12", "13") and not same_answer("boxes", "boxs") and not same_answer("12", "twelve")


def test_the_instance_of_a_problem_is_its_quoted_words_numbers_and_names() -> None:
    assert instance_tokens('What is the plural of "box"?') == {"box"}
    assert instance_tokens("What is the capital of France?") == {"france"}
    assert instance_tokens("Calculate 3 + 12.") == {"3", "12"}
    assert mentions("France is a country.", {"france"}) and not mentions("Francesca sings.", {"france"})
    assert mentions("3 + 12 = 15", {"12"}) and not mentions("0.12 apart", {"12"})


def test_instance_size_against_the_level_cap() -> None:
    words = Lesson(items=("cat", "dog", "pen"), size_cap="", complexity_cap="")
    assert instance_size('What is the plural of "window"?', words) == (6.0, 3.0)
    assert instance_size("What is the plural of dog?", words) == (3.0, 3.0)
    sums = Lesson(items=(), size_cap="", complexity_cap="", references=(StyleExample("Calculate 3 + 4.", "", "7"),))
    assert instance_size("Calculate 12 + 5.", sums) == (2.0, 1.0)
    assert instance_size("Say hello politely.", sums) == (3.0, None)
    assert instance_size("Say hello.", None) == (2.0, None)


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ({"module": "m", "problem": "p", "steps": "s"}, "missing or empty answer"),
        ({"module": "m", "problem": " ", "steps": "s", "answer": "a"}, "missing or empty problem"),
        ({"module": "m", "problem": "p", "steps": "s", "answer": "a", "level": "2"}, "level is not an integer"),
        (["a", "list"], "not an object"),
    ],
)
def test_a_teach_row_without_an_exercise_is_a_reason_not_a_draft(row: object, why: str) -> None:
    got = draft_of(row)
    assert isinstance(got, str) and why in got


def test_a_draft_ends_in_its_answer_or_its_code() -> None:
    draft = draft_of({"module": "m", "problem": "p", "steps": "One.\nAnswer: x", "answer": " x \n y "})
    assert isinstance(draft, Draft) and draft.target() == "One.\nAnswer: x y"
    draft.change("small_steps", ["Two."], "note")
    assert draft.history == [
        {"step": "small_steps", "before": "One.\nAnswer: x y", "after": "Two.\nAnswer: x y", "note": "note"}
    ]
    draft.code, draft.scaffold = "def f():\n    return 1", "Recall: f"
    assert draft.target() == "# Recall: f\n# Two.\ndef f():\n    return 1"


def seed_domain(tmp_path: Path) -> SeedDomain:
    """Two modules: sums (math; seeds 0-2, seed 2 held out) and code (seeds 3-5, seed 5 held out)."""
    seeds = [
        SeedTask(instruction="What is 2 + 3?", reference="5", kind="math", category="sums"),
        SeedTask(instruction="What is 10 + 4?", reference="14", kind="math", category="sums"),
        SeedTask(instruction="PROBE: what is 7 + 8?", reference="15", kind="math", category="sums"),
        SeedTask(instruction="Double x.", kind="code", entry_point="double", tests="assert double(2) == 4"),
        SeedTask(instruction="Add one.", kind="code", tests="assert inc(1) == 2"),
        SeedTask(instruction="PROBE: negate.", kind="code", entry_point="neg", tests="assert neg(1) == -1"),
    ]
    domain = SeedDomain(seeds, Config.model_validate({"domain": {"path": str(tmp_path / "s.jsonl")}}))
    modules = [
        SeedModule("sums/adding", "Add numbers.", "introductory"),
        SeedModule("code/small", "Code.", "introductory"),
    ]
    domain.adopt(Decomposition(modules, ["sums/adding"] * 3 + ["code/small"] * 3, [2, 5], {}))
    return domain


def test_a_seed_modules_lesson_shows_its_synthesis_seeds_never_its_probes(tmp_path: Path) -> None:
    domain = seed_domain(tmp_path)
    sums = domain.lesson("sums/adding", 0)
    assert [r.problem for r in sums.references] == ["What is 2 + 3?", "What is 10 + 4?"]
    assert [r.answer for r in sums.references] == ["5", "14"]
    assert sums.complexity_cap == "one skill only" and "5 words" in sums.size_cap
    code = domain.lesson("code/small", 0)
    assert all("PROBE" not in r.problem for r in code.references)
    assert code.references[0].check == "assert double(2) == 4"


def test_a_seed_domain_verifies_code_in_the_sandbox_and_leaves_other_kinds_to_self_consistency(tmp_path: Path) -> None:
    domain = seed_domain(tmp_path)
    assert domain.verify("sums/adding", "What is 1 + 1?", "1 + 1 = 2", "2").ok is None
    assert domain.verify("sums/adding", "What is 1 + 1?", "", "2").entry == {"kind": "math"}
    good = domain.verify("code/small", "Double it.", "", "def double(x):\n    return x * 2")
    assert good.ok is True and good.entry["kind"] == "code"
    assert domain.verify("code/small", "Double it.", "", "def double(x):\n    return x + 1").ok is False
    # inc has no entry point: its seed's tests name the function.
    assert domain.verify("code/small", "Inc.", "", "```python\ndef inc(x):\n    return x\n```").ok is False
    unmatched = domain.verify("code/small", "Square.", "", "def square(x):\n    return x * x")
    assert unmatched.ok is None and unmatched.entry == {"kind": "code", "functions": ["square"]}
    assert domain.verify("code/small", "Square.", "I would square it.", "x * x").ok is False
    # Self-consistency compares answers by the module's own metric: math-verify for math.
    task = domain.reference_task("sums/adding", "What is 1/2 + 1/4?", "3/4")
    assert domain.score(task, "0.75") == 1.0 and domain.score(task, "1/2") == 0.0


def test_without_the_adapter_the_teach_rows_train_verbatim_unverified(tmp_path: Path) -> None:
    rows = [
        {
            "module": "plural/es",
            "level": 0,
            "mode": "new",
            "problem": "Plural of box?",
            "steps": "**Add** -es.",
            "answer": "boxs",
        },
        {"module": "plural/es", "problem": "No answer", "steps": "x"},
    ]
    svc = Services(
        config=Config(),
        run_dir=RunDir(tmp_path),
        domain=None,  # type: ignore[arg-type]  # nothing is verified
        teacher=None,  # type: ignore[arg-type]  # nothing is rewritten
        memory=None,  # type: ignore[arg-type]
        tracer=Tracer(tmp_path / "traces.jsonl"),
        tokenizer_dir=tmp_path,
    )
    write_jsonl(tmp_path / "data/round_1_teach_0.jsonl", rows)
    state = IOAState(teach_attempts=1, teach_files=["data/round_1_teach_0.jsonl"])
    update = pass_through_batch(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]

    (out,) = read_jsonl(tmp_path / update["batch"][0])
    assert (out["prompt"], out["target"]) == ("Plural of box?", "**Add** -es.\nAnswer: boxs")  # wrong, and kept
    assert (out["source"], out["verified_by"], out["steps_applied"]) == ("teacher", None, [])
    assert update["synthesis"] == [
        {"round": 1, "module": "plural/es", "verified": 0, "kept": 1, "dropped": {"malformed": 1}}
    ]
    (event,) = read_traces(tmp_path / "traces.jsonl")
    assert event["kind"] == "adaptation" and event["counts"]["kept"] == 1
