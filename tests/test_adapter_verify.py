"""Verification in the adapter node: the domain's checker, self-consistency through the real ChatTeacher client
against a scripted strong model, code in the sandbox, and the embedded teacher in the integration tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from adapter_harness import BOX, FOX_WRONG, LEGS, Harness, row

from ioa.config import Config
from ioa.domains.arithmetic import ArithmeticDomain
from ioa.domains.decomposition import Decomposition, SeedModule
from ioa.domains.lesson import Verdict
from ioa.domains.seed_domain import SeedDomain
from ioa.domains.seeds import SeedTask
from ioa.domains.words import WordsDomain
from ioa.metrics import code_correct


@pytest.fixture
def harness(tmp_path: Path, tokenizer_dir: Path, one_thread: None) -> Iterator[Harness]:
    yield Harness(tmp_path, tokenizer_dir)


class BrittleWords(WordsDomain):
    """The words domain with a checker that breaks on one problem, as a checker fed odd teacher text might."""

    def verify(self, module_id: str, problem: str, steps: str, answer: str) -> Verdict:
        if "crash" in problem:
            raise RecursionError("maximum recursion depth exceeded")
        return super().verify(module_id, problem, steps, answer)


def test_the_domain_checker_verifies_right_exercises_and_drops_the_rest_with_a_reason(harness: Harness) -> None:
    contradicted = row("plural/es", 'What is the plural of "bus"?', 'Its plural is "buss".', "buses")
    breaks = row("plural/es", 'What does "crash" become in the plural?', "Add -es.", "crashes")
    off_rule = row("plural/es", 'What is the plural of "cat"?', "Add -s.", "cats")  # a regular plural
    out = harness.adapt(BrittleWords(), [BOX, FOX_WRONG, contradicted, breaks, off_rule], strategies=[])

    (r,) = out.rows
    assert (r["prompt"], r["verified_by"], r["entry"]) == (BOX["problem"], "checker", {"word": "box"})
    assert out.dropped() == {
        FOX_WRONG["problem"]: "verification_failed",
        contradicted["problem"]: "verification_failed",
        breaks["problem"]: "checker_error",
        off_rule["problem"]: "verification_failed",
    }
    why = {e["problem"]: e["why"] for e in out.examples if e["outcome"] == "dropped"}
    assert "buss" in why[contradicted["problem"]] and "RecursionError" in why[breaks["problem"]]
    assert "rule" in why[off_rule["problem"]]
    assert harness.model.requests["answer_probe"] == 0  # the checker decided: no self-consistency solves


def test_self_consistency_through_the_chat_client_keeps_only_agreeing_answers(harness: Harness) -> None:
    ducks = row(LEGS, "How many legs do 2 ducks and 1 cow have?", "2 ducks have 4 legs.\n1 cow has 4 legs.", "8")
    spiders = row(LEGS, "How many legs do 3 spiders have?", "A spider has 8 legs.\n3 * 8 = 24.", "24")
    unknown = row(LEGS, "How many legs do 2 snakes have?", "Snakes have no legs.", "0")
    harness.model.answers = {ducks["problem"]: ["8"], spiders["problem"]: ["24", "18", "24"]}
    out = harness.adapt(ArithmeticDomain(), [ducks, spiders, unknown], strategies=[])

    (r,) = out.rows
    assert (r["prompt"], r["verified_by"]) == (ducks["problem"], "self_consistency")
    assert r["entry"]["consistency"] == {"k": 3, "agreeing": 3}
    assert out.dropped() == {spiders["problem"]: "not_self_consistent", unknown["problem"]: "not_self_consistent"}
    # k independent solves each: distinct draws, none served from a cache.
    assert harness.model.asked == {ducks["problem"]: 3, spiders["problem"]: 3, unknown["problem"]: 3}
    assert out.update["usage"]["teacher_calls"] == 9
    spider_event = next(e for e in out.examples if e["problem"] == spiders["problem"])
    assert "2/3" in spider_event["why"] and "18" in spider_event["why"]


def test_consistency_k_is_the_number_of_solves(harness: Harness) -> None:
    ducks = row(LEGS, "How many legs do 2 ducks have?", "A duck has 2 legs.\n2 * 2 = 4.", "4")
    harness.model.answers = {ducks["problem"]: ["4"]}
    out = harness.adapt(ArithmeticDomain(), [ducks], strategies=[], consistency_k=5)
    assert out.rows[0]["entry"]["consistency"] == {"k": 5, "agreeing": 5}
    assert harness.model.asked == {ducks["problem"]: 5}


def code_domain(tmp_path: Path) -> SeedDomain:
    """A seed domain of one code module: two synthesis seeds (one calls ``double``) and one probe."""
    seeds = [
        SeedTask(instruction="Double a number.", kind="code", entry_point="double", tests="assert double(2) == 4"),
        SeedTask(instruction="Add one.", kind="code", entry_point="inc", tests="assert inc(1) == 2"),
        SeedTask(instruction="Negate.", kind="code", entry_point="neg", tests="assert neg(1) == -1"),
    ]
    config = Config.model_validate({"domain": {"path": str(tmp_path / "seeds.jsonl")}})
    domain = SeedDomain(seeds, config)
    module = SeedModule("code/functions", "Write small Python functions.", "introductory")
    domain.adopt(Decomposition([module], ["code/functions"] * 3, [2], {}))
    return domain


def test_code_is_verified_in_the_sandbox_and_the_target_is_code_that_passes(harness: Harness) -> None:
    module = "code/functions"
    good = row(
        module,
        "Write double(x) that returns twice x.",
        "Multiply x by 2 and return it.",
        "```python\ndef double(x):\n    return 2 * x\n```",
        check="assert double(3) == 6",
    )
    # It passes its own test, not the seed's (double(2) == 4).
    fails_seed = row(module, "Write double(x).", "Add 3.", "def double(x):\n    return x + 3", "assert double(1) == 4")
    fails_own = row(module, "Write triple(x).", "Times 3.", "def triple(x):\n    return 3 * x", "assert triple(2) == 5")
    no_tests = row(module, "Write half(x).", "Divide by 2.", "def half(x):\n    return x / 2", "It halves x.")
    out = harness.adapt(code_domain(harness.tmp_path), [good, fails_seed, fails_own, no_tests])

    (r,) = out.rows
    assert r["verified_by"] == "sandbox" and r["entry"]["seed_lines"] == [0]
    assert r["target"].startswith("# Step 1: ") and r["target"].endswith("def double(x):\n    return 2 * x")
    # The training target itself passes the teacher's and the seed's tests.
    assert code_correct(r["target"], "assert double(3) == 6\nassert double(2) == 4", out.config.sandbox) == 1.0
    assert out.dropped() == {
        fails_seed["problem"]: "verification_failed",
        fails_own["problem"]: "verification_failed",
        no_tests["problem"]: "no_tests",
    }


@pytest.mark.integration  # the embedded 135M teacher, served by `transformers serve`
def test_the_embedded_teacher_rewrites_and_solves_without_breaking_the_adapter(harness: Harness) -> None:
    from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder

    long_words = row(
        "plural/es",
        'What is the plural of "fox"?',
        "Nouns that end in s, x, z, ch or sh always take the ending -es in the plural, never a plain -s.\n"
        "The word fox ends in x.",
        "foxes",
    )
    legs = row(LEGS, "How many legs do 2 ducks have?", "A duck has 2 legs.\n2 * 2 = 4.", "4")
    with LocalTeacherServer(ensure_teacher_folder(), log_path=harness.tmp_path / "serve.log") as server:
        words = harness.adapt(WordsDomain(), [long_words, BOX, FOX_WRONG], server=server)
        arithmetic = harness.adapt(ArithmeticDomain(), [legs], server=server, strategies=[])

    for out in (words, arithmetic):
        # Whatever the small teacher wrote, each exercise is kept whole or dropped with a counted reason.
        assert len(out.examples) == out.summary["counts"]["rows"]
        assert all(e["reason"] for e in out.examples if e["outcome"] == "dropped")
        for r in out.rows:
            assert r["verified_by"] in {"checker", "self_consistency"}
            assert r["target"].splitlines()[-1].startswith("Answer: ")
    assert words.dropped()[FOX_WRONG["problem"]] == "verification_failed"
    assert words.summary["rewrites"]["plain_words"]["asked"] == 2  # both long sentences
    kept = {r["prompt"]: r for r in words.rows}
    assert kept[long_words["problem"]]["target"].endswith("Answer: foxes")
    assert arithmetic.update["synthesis"][0]["verified"] == len(arithmetic.rows)
