"""The adapter: plain lines, the fit to the student's budget, and practice items (checker-answered, never a probe)."""

from types import SimpleNamespace

from ioa.agents.adapter import fit_to_budget, plain_lines, practice_rows
from ioa.config import Config
from ioa.domains import get_domain


def _svc(per: int) -> SimpleNamespace:
    config = Config.model_validate({"adapter": {"practice_per_example": per}})
    return SimpleNamespace(config=config, domain=get_domain("arithmetic", 0))


def _worked(module: str, level: int, question: str) -> dict:
    return {"module": module, "level": level, "prompt": question, "target": "x", "mode": "new", "source": "teacher"}


def test_practice_follows_each_worked_example_at_its_module_and_level():
    svc = _svc(per=3)
    worked = [
        _worked("arithmetic/addition", 1, "Calculate 10 + 11."),
        _worked("number_theory/gcd", 0, "Find the GCD of 4 and 6."),
    ]
    rows = practice_rows(svc, worked, round_=1, attempt=0)

    assert len(rows) == 6
    assert {(r["module"], r["level"]) for r in rows} == {("arithmetic/addition", 1), ("number_theory/gcd", 0)}
    assert all(r["source"] == "practice" and r["mode"] == "new" for r in rows)
    # The answers are the checker's: each addition target is the true sum of its terms.
    for row in rows:
        if row["module"] == "arithmetic/addition":
            a, b = row["prompt"].removeprefix("Calculate ").rstrip(".").split(" + ")
            assert row["target"] == f"Answer: {int(a) + int(b)}"


def test_practice_fills_a_small_question_space_with_repeats_never_probes_and_zero_turns_it_off():
    svc = _svc(per=200)
    worked = [_worked("arithmetic/addition", 0, "Calculate 3 + 4.")]
    rows = practice_rows(svc, worked, round_=1, attempt=0)
    prompts = [r["prompt"] for r in rows]
    # Single-digit sums outside the probe reserve are fewer than 200: practice covers them all, then repeats.
    assert len(rows) == 200
    assert 80 <= len(set(prompts)) < 200
    assert all(not svc.domain.is_probe_question(p) for p in prompts)

    assert practice_rows(_svc(per=0), worked, round_=1, attempt=0) == []


def test_plain_lines_strip_list_decoration_but_keep_signs_and_decimals():
    steps = "1. 3 + 4 = 7\n- **-4 * -4** = 16\nStep 2: `-16 + 7` = -9\n* 3.5 + 1 = 4.5\n-1 + 0 = -1\n2) done"

    assert plain_lines(steps) == ["3 + 4 = 7", "-4 * -4 = 16", "-16 + 7 = -9", "3.5 + 1 = 4.5", "-1 + 0 = -1", "done"]


def test_fit_keeps_the_worked_tail_that_fits_and_always_ends_in_the_answer():
    def words(text: str) -> int:
        return len(text.split())

    steps = "-4 * 2 = -8\n-8 + 3 = -5\n-5 - 1 = -6"

    assert fit_to_budget(steps, "-6", 100, words) == "-4 * 2 = -8\n-8 + 3 = -5\n-5 - 1 = -6\nAnswer: -6"
    assert fit_to_budget(steps, "-6", 12, words) == "-8 + 3 = -5\n-5 - 1 = -6\nAnswer: -6"
    assert fit_to_budget(steps, "-6", 2, words) == "Answer: -6"
