"""The adapter's steps in order, the training rows of what it kept, and its trace.

verify -> small_instances_first -> plain_words -> small_steps -> concrete_example_first -> one_step_template
-> fit to the budget -> scaffold (bridging) -> de-duplicate -> smallest first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ioa.adapter.draft import Adaptation, Draft
from ioa.adapter.fit import deduplicate, fit_budget, scaffold
from ioa.adapter.strategies import STEPS, order_small_first
from ioa.adapter.verify import verify_drafts

AGENT = "adapter"


def adapt(drafts: list[Draft], ad: Adaptation, kept: list[tuple[str, str]]) -> list[Draft]:
    """Verify and adapt the drafts in place; the kept ones, in the order they are written."""
    verify_drafts(drafts, ad)
    for name, step in STEPS.items():
        if name in ad.strategies:
            step(_live(drafts), ad)
    for d in _live(drafts):
        if not d.lines and not d.code:
            d.drop("no_steps", "no worked step is left, only the answer")
    fit_budget(_live(drafts), ad)
    if ad.svc.config.adapter.scaffold:
        scaffold(_live(drafts), ad)
    deduplicate(_live(drafts), kept, ad.svc.config.adapter.dedup_rouge)
    live = _live(drafts)
    return order_small_first(live) if "small_instances_first" in ad.strategies else live


def _live(drafts: list[Draft]) -> list[Draft]:
    return [d for d in drafts if d.dropped is None]


def training_row(d: Draft) -> dict[str, Any]:
    """What the training node trains on (``module``, ``prompt``, ``target``), with where it came from."""
    return {
        "module": d.module,
        "level": d.level,
        "mode": d.mode,
        "prompt": d.problem,
        "target": d.target(),
        "source": "teacher",
        "verified_by": d.verified_by,
        "entry": d.entry,
        "steps_applied": d.applied,
    }


def synthesis_records(round_: int, drafts: list[Draft], malformed: list[tuple[Any, str]]) -> list[dict[str, Any]]:
    """One record per module of the batch: {round, module, verified, kept, dropped: {reason: count}}."""
    by_module: dict[str, dict[str, Any]] = defaultdict(lambda: {"verified": 0, "kept": 0, "dropped": Counter()})
    for d in drafts:
        record = by_module[d.module]
        record["verified"] += d.verified_by is not None
        if d.dropped is None:
            record["kept"] += 1
        else:
            record["dropped"][d.dropped] += 1
    for row, _ in malformed:
        module = row.get("module") if isinstance(row, dict) and isinstance(row.get("module"), str) else "?"
        by_module[module]["dropped"]["malformed"] += 1
    return [
        {"round": round_, "module": m, "verified": r["verified"], "kept": r["kept"], "dropped": dict(r["dropped"])}
        for m, r in sorted(by_module.items())
    ]


def trace_drafts(ad: Adaptation, drafts: list[Draft], malformed: list[tuple[Any, str]]) -> None:
    """One ``adapted_example`` event per kept or dropped exercise, with every step's target before and after."""
    tracer, clip = ad.svc.tracer, ad.svc.tracer.clip
    for d in drafts:
        outcome = "kept" if d.dropped is None else "dropped"
        tracer.event(
            round=ad.round,
            node="adapt",
            agent=AGENT,
            kind="adapted_example",
            summary=f"{d.module} level {d.level}: {outcome}"
            + (f" ({d.dropped}: {d.why})" if d.dropped else f", verified by {d.verified_by}"),
            outcome=outcome,
            reason=d.dropped,
            why=clip(d.why) if d.why else None,
            module=d.module,
            level=d.level,
            mode=d.mode,
            request=d.row.get("request"),
            problem=clip(d.problem),
            verified_by=d.verified_by,
            verdict=clip(d.verdict),
            steps=[{k: clip(v) for k, v in h.items()} for h in d.history],
            target=clip(d.target()) if d.dropped is None else None,
        )
    for row, why in malformed:
        tracer.event(
            round=ad.round,
            node="adapt",
            agent=AGENT,
            kind="adapted_example",
            summary=f"dropped (malformed: {why})",
            outcome="dropped",
            reason="malformed",
            why=why,
            row=clip(str(row)),
            steps=[],
        )
