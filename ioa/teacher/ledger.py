"""The teacher section of summary.json, read from the teacher's events in traces.jsonl.

The traces are the ledger because they outlive processes: a request paid for in a node that was
then killed is in them, and so is its free replay from the cache after ``ioa resume``. An item's
last event tells whether it was finally obtained.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ioa.config import TeacherConfig

MAX_LISTED_FAILURES = 50
_COUNTED = ("calls", "prompt_tokens", "completion_tokens", "cache_hits")
_SUMMED = (*_COUNTED, "retries", "derailed", "late")


def teacher_summary(events: list[dict[str, Any]], cfg: TeacherConfig) -> dict[str, Any]:
    """Totals, faults, failed and repaired items, and calls and tokens per round and per requesting agent."""
    requests = [e for e in events if e.get("agent") == "teacher" and "item" in e]
    totals: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    by_round: dict[str, Counter[str]] = {}
    by_agent: dict[str, Counter[str]] = {}
    last: dict[str, dict[str, Any]] = {}
    for e in requests:
        totals.update({k: int(e.get(k, 0)) for k in _SUMMED})
        counts = Counter({k: int(e.get(k, 0)) for k in _COUNTED})
        faults.update(e.get("faults") or {})
        by_round.setdefault(str(e["round"]), Counter()).update(counts)
        by_agent.setdefault(e.get("for_agent", e["node"]), Counter()).update(counts)
        last[e["item"]] = e
    kinds = Counter(e["kind"] for e in requests)
    failed = [e for e in last.values() if e["kind"] == "request_failed"]
    # Items obtained only through the adapter's repair of a reply that missed its labels, by kind of repair.
    repairs = Counter(e["repair"] for e in last.values() if e["kind"] == "completion" and e.get("repair"))
    summary: dict[str, Any] = {
        **{k: totals[k] for k in _COUNTED},
        "parse_failures": kinds["parse_failure"],
        "repaired": dict(sorted(repairs.items())),
        "failed_requests": kinds["request_failed"],
        "dropped": sum(e["kind"] != "completion" for e in last.values()),
        "retries": totals["retries"],
        # Replies read only up to where they derailed (ioa.teacher.derail); their prompt tokens are estimated.
        "derailed": totals["derailed"],
        # Replies read up to their last complete line when their wave had waited long enough (ioa.teacher.wave).
        "late": totals["late"],
        "faults": dict(sorted(faults.items())),
        "failed_items_count": len(failed),
        "failed_items": [
            {k: e.get(k) for k in ("round", "node", "program", "item", "error")} for e in failed[:MAX_LISTED_FAILURES]
        ],
        "by_round": {r: _with_cost(c, cfg) for r, c in sorted(by_round.items(), key=lambda kv: int(kv[0]))},
        "by_agent": {a: _with_cost(c, cfg) for a, c in sorted(by_agent.items())},
    }
    cost = cost_usd(totals["prompt_tokens"], totals["completion_tokens"], cfg)
    if cost is not None:
        summary["cost_usd"] = cost
    return summary


def cost_usd(prompt_tokens: int, completion_tokens: int, cfg: TeacherConfig) -> float | None:
    """The price table applied to token counts; None when no price is configured."""
    if cfg.price_per_1k_prompt is None and cfg.price_per_1k_completion is None:
        return None
    cost = prompt_tokens / 1000 * (cfg.price_per_1k_prompt or 0.0)
    cost += completion_tokens / 1000 * (cfg.price_per_1k_completion or 0.0)
    return round(cost, 6)


def _with_cost(counts: Counter[str], cfg: TeacherConfig) -> dict[str, Any]:
    out: dict[str, Any] = {k: counts[k] for k in _COUNTED}
    cost = cost_usd(counts["prompt_tokens"], counts["completion_tokens"], cfg)
    if cost is not None:
        out["cost_usd"] = cost
    return out
