"""The adapter (Knowledge Adapter): turns the teacher's exercises into what the student trains on.

Each exercise the teacher wrote is verified (the domain's checker, the sandbox for code, else the teacher's
self-consistency) and then adapted by the five strategies of docs/design.md §6, each a named step that can be
switched off (``adapter.strategies``): small instances first, plain words, small steps, the concrete example
first, one step template. The target is the adapted worked solution ending in ``Answer: X`` (or a code
exercise's verified code), within the student's token budget: never cut, rewritten shorter or dropped. Bridging
exercises get a reminder of the nearest mastered module; near-duplicates are dropped. Every exercise gets one
``adapted_example`` trace event with each step's before and after; the batch gets one ``adaptation`` event.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from langgraph.runtime import Runtime

from ioa.adapter.draft import Adaptation, Draft, draft_of
from ioa.adapter.fit import adapter_budget
from ioa.adapter.pipeline import AGENT, adapt, synthesis_records, trace_drafts, training_row
from ioa.adapter.practice import PRACTICE_SOURCE, checker_practice_rows
from ioa.adapter.rewrite import rewrite_counts
from ioa.context import Services
from ioa.rundir import read_jsonl, write_jsonl
from ioa.state import IOAState


def adapted_file(round_: int, attempt: int) -> str:
    """Where one adapt step writes its training rows, relative to the run directory."""
    return f"data/round_{round_}_adapted_{attempt}.jsonl"


def adapt_batch(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Verify and adapt the teacher's latest exercises into training rows (see the module docstring)."""
    svc = runtime.context
    round_, attempt = state.round + 1, state.teach_attempts - 1
    raw = read_jsonl(svc.run_dir.resolve(state.teach_files[-1]))
    drafts: list[Draft] = []
    malformed: list[tuple[Any, str]] = []
    for row in raw:
        draft = draft_of(row)
        if isinstance(draft, Draft):
            drafts.append(draft)
        else:
            malformed.append((row, draft))
    tokenizer = svc.student(state.student_checkpoint).tokenizer

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    budget = adapter_budget(state, svc, tokenizer, [d.problem for d in drafts])
    ad = Adaptation(svc, round_, attempt, budget, count_tokens)
    before = svc.teacher.snapshot()
    earlier = [r for f in state.batch for r in read_jsonl(svc.run_dir.resolve(f))]
    batch = [(r["prompt"], r["target"]) for r in earlier if r.get("source") != PRACTICE_SOURCE]
    kept = [training_row(d) for d in adapt(drafts, ad, batch)]
    rows = kept + checker_practice_rows(svc, kept, round_, attempt)
    path = adapted_file(round_, attempt)
    write_jsonl(svc.run_dir.resolve(path), rows)
    trace_drafts(ad, drafts, malformed)
    records = synthesis_records(round_, drafts, malformed)
    _summarize(ad, len(raw), kept, len(rows) - len(kept), records, path)
    # The adapter's own teacher calls (self-consistency, rewrites) count against the run's teacher budget.
    usage = {**svc.teacher.usage_since(before), "adapter_dropped": len(raw) - len(kept)}
    return {"batch": [path], "batch_examples": state.batch_examples + len(rows), "usage": usage, "synthesis": records}


def _summarize(
    ad: Adaptation, n_raw: int, kept: list[dict[str, Any]], practice: int, records: list[dict[str, Any]], path: str
) -> None:
    """The batch's one ``adaptation`` event and progress line: kept, verified, drops by reason, rewrites."""
    dropped: Counter[str] = Counter()
    for r in records:
        dropped.update(r["dropped"])
    verified = sum(r["verified"] for r in records)
    by = Counter(r["verified_by"] for r in kept)
    drops = ", ".join(f"{n} {reason}" for reason, n in dropped.most_common()) or "none"
    summary = (
        f"kept {len(kept)}/{n_raw} (verified {verified}: {dict(by)}); dropped {drops}"
        + (f"; +{practice} checker practice" if practice else "")
        + f"; budget {ad.budget} tokens"
    )
    ad.svc.progress.node("adapt", ad.round, summary)
    ad.svc.tracer.event(
        round=ad.round,
        node="adapt",
        agent=AGENT,
        kind="adaptation",
        summary=summary,
        counts={"rows": n_raw, "verified": verified, "kept": len(kept), "checker_practice": practice},
        verified_by=dict(by),
        dropped=dict(dropped),
        rewrites=rewrite_counts(ad),
        strategies=ad.strategies,
        token_budget=ad.budget,
        file=path,
        example=kept[0] if kept else None,
    )
