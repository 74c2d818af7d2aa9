"""The student's length budget, the bridging scaffold and de-duplication: the adapter's last steps.

A target is never cut mid-way. One that takes more student tokens than the budget is rewritten shorter
by the teacher, once, and dropped (``too_long``) if it still does not fit or the rewrite loses the
verified answer. The scaffold line is added only where it fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ioa.adapter.draft import Adaptation, Draft
from ioa.adapter.rewrite import rewrite
from ioa.metrics import rouge_l

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ioa.context import Services
    from ioa.domains.base import ModuleSpec
    from ioa.state import IOAState

# Student tokens per English word, roughly, for the word limit a shorter rewrite is asked for.
_TOKENS_PER_WORD = 1.5


def adapter_budget(state: IOAState, svc: Services, tokenizer: PreTrainedTokenizerBase, prompts: list[str]) -> int:
    """Student tokens one adapted target may take: the run's ``lengths["adapter_budget"]``.

    A state without lengths (a run from before they were derived) falls back to ``lengths.adapter_budget`` in the
    config, else ``adapter.target_token_share`` of the student's context, never more than the context leaves after
    the longest prompt, so that a target is never cut in training either.
    """
    if state.lengths.get("adapter_budget"):
        return int(state.lengths["adapter_budget"])
    cfg = svc.config
    if cfg.lengths.adapter_budget:
        return cfg.lengths.adapter_budget
    from ioa.student_train.generate import format_prompt

    encoded = tokenizer([format_prompt(tokenizer, p) for p in prompts], add_special_tokens=False)["input_ids"]
    longest = max((len(ids) for ids in encoded), default=0)
    share = int(cfg.adapter.target_token_share * cfg.student.context_length)
    return max(1, min(share, cfg.student.context_length - longest - 1))  # - 1: the end-of-sequence token


def fit_budget(drafts: list[Draft], ad: Adaptation) -> None:
    """Every target within the budget: a too-long one is rewritten shorter once, or dropped."""
    too_long = []
    for d in drafts:
        n = ad.count_tokens(d.target())
        if n <= ad.budget:
            continue
        if d.code and ad.count_tokens(d.code) > ad.budget:
            d.drop("too_long", f"its code alone takes {ad.count_tokens(d.code)} tokens; the budget is {ad.budget}")
        else:
            too_long.append((d, d.target(), n))
    words = max(3, int(ad.budget / _TOKENS_PER_WORD))
    request = f"Make the solution shorter: at most {words} words in all, in as few short steps as it needs."
    template = "one_step_template" in ad.strategies
    done = rewrite(ad, "shorten", [(d, request) for d, _, _ in too_long], template=template)
    for (d, before, n), result in zip(too_long, done, strict=True):
        if result.lines is None:
            d.drop("too_long", f"{n} tokens, budget {ad.budget}; the shorter rewrite was rejected: {result.why}")
            continue
        d.lines = result.lines
        after = ad.count_tokens(d.target())
        if after > ad.budget:
            d.drop("too_long", f"{n} tokens, and {after} after the teacher's shorter rewrite; budget {ad.budget}")
        else:
            d.record("fit_budget", before, f"{n} tokens over the budget of {ad.budget}: rewritten to {after}")


def bridge_from(svc: Services, spec: ModuleSpec) -> tuple[str, str] | None:
    """The mastered module a bridging round on ``spec`` starts from, as (module id, 'name: description'): the nearest
    by embedding (Chroma ``mastered``), None when none lies within ``synthesis.bridge_max_distance``. A small teacher
    told that the student mastered capital cities wrote exercises on capitals for 41 of 46 bridging requests on
    regular plurals (docs/main-job.md)."""
    found = svc.memory.nearest_mastered(
        f"{spec.name}: {spec.description}",
        k=1,
        exclude={spec.id},
        max_distance=svc.config.synthesis.bridge_max_distance,
    )
    return (found[0][0], found[0][1]) if found else None


def scaffold(drafts: list[Draft], ad: Adaptation) -> None:
    """Bridging drafts start with a reminder of the nearest mastered module (Chroma), where the budget has room and
    the module is near enough (``synthesis.bridge_max_distance``) to be worth recalling."""
    svc = ad.svc
    specs = {m.id: m for m in svc.domain.modules}
    hints: dict[str, tuple[str, str] | None] = {}
    for d in drafts:
        if d.mode != "bridging":
            continue
        if d.module not in hints:
            source = bridge_from(svc, specs[d.module])
            hints[d.module] = (source[0], f"Recall: {source[1]}") if source else None
        if hints[d.module] is None:
            d.record("scaffold", d.target(), "no mastered module near enough to recall", strategy=False)
            continue
        source, hint = hints[d.module]  # type: ignore[misc]  # None was handled above
        before = d.target()
        d.scaffold = hint
        if ad.count_tokens(d.target()) > ad.budget:
            d.scaffold = ""
            d.record("scaffold", before, f"a recall of {source} does not fit the budget", strategy=False)
        else:
            d.record("scaffold", before, f"recalls {source}", strategy=False)


def deduplicate(drafts: list[Draft], kept: list[tuple[str, str]], threshold: float) -> None:
    """Drop a draft this similar (ROUGE-L) to one kept in the round's batch, or that sets a problem kept there already
    (spacing, case and punctuation aside) with other steps; ``kept`` (problem, target) grows with the kept.

    A student taught two worked solutions of one problem can write only one of them: the embedded teacher wrote
    "bird" three times in r49's remedial wave of 16, in solutions too unlike for ROUGE-L, and the round trained on
    five examples of two words."""
    for d in drafts:
        text = f"{d.problem}\n{d.target()}"
        same = _problem_key(d.problem)
        twin = next((p for p, t in kept if _problem_key(p) == same), None)
        if twin is not None:
            d.drop("duplicate", f"the same problem as a kept example: {twin[:80]!r}")
            continue
        twin = next((f"{p}\n{t}" for p, t in kept if rouge_l(f"{p}\n{t}", text) >= threshold), None)
        if twin is not None:
            d.drop("duplicate", f"ROUGE-L >= {threshold} against a kept example: {twin[:80]!r}")
        else:
            kept.append((d.problem, d.target()))


def _problem_key(problem: str) -> str:
    return "".join(ch for ch in problem.casefold() if ch.isalnum())
