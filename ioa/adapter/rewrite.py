"""Teacher rewrites: where a strategy is not purely formal, or a check fails, the teacher rewrites the solution.

One teacher call per adaptation step carries every draft that step asks about (``rewrite_solution``, at
temperature 0: a rewrite is an edit, not a new draw). A rewrite is accepted only if it keeps the verified
answer (``still_verified``); otherwise the draft keeps its text and the rejection is counted and traced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ioa.adapter.draft import Adaptation, Draft
from ioa.adapter.text import one_idea_per_line, solution_lines, strip_markup, templated
from ioa.adapter.verify import still_verified


@dataclass(frozen=True)
class Rewrite:
    """The outcome of one rewrite request."""

    draft: Draft
    lines: list[str] | None
    """The rewritten solution's lines, formally adapted like the rest; None when rejected."""
    why: str
    """Why it was rejected ("" when accepted)."""


Check = Callable[[Draft, list[str]], str]
"""What a step asks of a rewrite besides the verified answer: why the new lines do not do ("" when they do)."""


def rewrite(
    ad: Adaptation, step: str, requests: list[tuple[Draft, str]], *, template: bool = False, check: Check | None = None
) -> list[Rewrite]:
    """Ask the teacher to rewrite each draft as its request says; count and return what was accepted."""
    if not requests:
        return []
    inputs = [
        {"problem": d.problem, "solution": "\n".join(d.lines), "final_answer": d.code or d.answer, "request": request}
        for d, request in requests
    ]
    with ad.svc.progress.step(f"teacher rewrites solutions ({step})", len(inputs)) as advance:
        replies = ad.svc.teacher.run(
            "rewrite_solution",
            inputs,
            round=ad.round,
            node="adapt",
            temperature=0.0,
            draw=f"attempt{ad.attempt}/{step}",
            on_done=advance,
        )
    out = []
    for (d, _), reply in zip(requests, replies, strict=True):
        ad.counts[f"rewrite:{step}:asked"] += 1
        lines: list[str] = []
        if reply is None:
            why = "no usable reply from the teacher"
        elif not (lines := formal_lines(ad, reply.steps, template=template)):
            why = "the rewrite has no steps"
        else:
            why = still_verified(d, ad, reply.steps, reply.answer) or (check(d, lines) if check else "")
        accepted = not why
        ad.counts[f"rewrite:{step}:{'accepted' if accepted else 'rejected'}"] += 1
        out.append(Rewrite(d, lines if accepted else None, why))
    return out


def formal_lines(ad: Adaptation, text: str, *, template: bool = False) -> list[str]:
    """A (rewritten) solution through the formal strategies that are on: plain text, one idea per line, the template."""
    on = ad.strategies
    if "plain_words" in on:
        text = strip_markup(text)
    lines = solution_lines(text)
    if "small_steps" in on:
        lines = one_idea_per_line(lines)
    if template and "one_step_template" in on:
        lines = templated(lines)
    return lines


def rewrite_counts(ad: Adaptation) -> dict[str, dict[str, int]]:
    """The batch's rewrites per step: {step: {asked, accepted, rejected}}."""
    out: dict[str, dict[str, int]] = {}
    for key, n in ad.counts.items():
        if key.startswith("rewrite:"):
            _, step, outcome = key.split(":")
            out.setdefault(step, {"asked": 0, "accepted": 0, "rejected": 0})[outcome] = n
    return out
