"""The five adaptation strategies (docs/design.md §6), each a named step over the batch's verified drafts.

- ``small_instances_first``: cognitive-load control. An exercise whose instance is bigger than the level's
  (the longest of the lesson's items, or the most digits of its references) is dropped (``too_big``); the
  batch is written smallest first. Deterministic.
- ``small_steps``: one idea per line (a sentence, or a clause joined by ", so" / ", then"), without list
  decoration. Deterministic.
- ``plain_words``: markdown and LaTeX written out as plain text (deterministic); where a sentence is still too
  long or markup is left, a teacher rewrite, accepted only if it keeps the answer and passes the check.
- ``concrete_example_first``: the line that works on the problem's own instance goes before the general rule;
  where no line does, a teacher rewrite that starts from it.
- ``one_step_template``: ``Step 1: ...`` lines, then ``Answer: X``. Deterministic.

Each step records every draft's target before and after it; a switched-off strategy does not run.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ioa.adapter.draft import Adaptation, Draft
from ioa.adapter.rewrite import formal_lines, rewrite
from ioa.adapter.text import instance_tokens, mentions, one_idea_per_line, plain_words_problems, templated
from ioa.domains.lesson import Lesson
from ioa.errors import UsageError

_QUOTED = re.compile(r"[\"“‘']([^\"”’']{1,40})[\"”’']")
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"[A-Za-z]+")


def small_instances_first(drafts: list[Draft], ad: Adaptation) -> None:
    """Drop the drafts whose instance exceeds their level's size; record each one's size for the ordering."""
    lessons: dict[tuple[str, int], Lesson | None] = {}
    for d in drafts:
        key = (d.module, d.level)
        if key not in lessons:
            lessons[key] = _lesson(ad, *key)
        d.size, cap = instance_size(d.problem, lessons[key])
        if cap is not None and d.size > cap:
            d.drop("too_big", f"its instance has size {d.size:g}, above level {d.level}'s {cap:g}")
        else:
            d.record("small_instances_first", d.target(), f"size {d.size:g}" + (f" of at most {cap:g}" if cap else ""))


def _lesson(ad: Adaptation, module: str, level: int) -> Lesson | None:
    """The module's lesson at ``level``; None where the domain has none there (then nothing is too big)."""
    try:
        return ad.svc.domain.lesson(module, level)
    except (UsageError, IndexError):
        return None


def instance_size(problem: str, lesson: Lesson | None) -> tuple[float, float | None]:
    """(the size of the problem's instance, the level's cap or None).

    A level with items (a unit's words) measures letters: the item the problem names, else its quoted word,
    else its last word, against the longest item. A level with numbers in its references measures digits of
    the largest number. Otherwise there is no cap, and the size is the problem's word count.
    """
    if lesson is not None and lesson.items:
        named = [item for item in lesson.items if re.search(rf"\b{re.escape(item)}\b", problem, re.I)]
        quoted = _QUOTED.findall(problem)
        words = _WORD.findall(problem)
        instance = named[0] if named else quoted[0] if quoted else words[-1] if words else problem
        return float(len(instance.strip())), float(max(len(item) for item in lesson.items))
    digits = [len(n) for n in _NUMBER.findall(problem)]
    reference_digits = [len(n) for ex in (lesson.references if lesson else ()) for n in _NUMBER.findall(ex.problem)]
    if digits and reference_digits:
        return float(max(digits)), float(max(reference_digits))
    return float(len(problem.split())), None


def order_small_first(drafts: list[Draft]) -> list[Draft]:
    """The batch smallest instance first (stable, so equal sizes keep the teacher's order)."""
    return sorted(drafts, key=lambda d: d.size)


def plain_words(drafts: list[Draft], ad: Adaptation) -> None:
    """Plain text deterministically; a teacher rewrite where the plain-words check still fails."""
    limit = ad.svc.config.adapter.max_sentence_words
    failing: list[tuple[Draft, str, list[str]]] = []
    for d in drafts:
        before = d.target()
        d.lines = formal_lines(ad, "\n".join(d.lines))
        if problems := plain_words_problems(d.lines, limit):
            failing.append((d, before, problems))
        else:
            d.record("plain_words", before, "markup written out" if before != d.target() else "")
    request = (
        f"Use plain words and short sentences of at most {limit} words, one sentence per line. "
        "No markdown, no LaTeX, no symbols that are not needed."
    )

    def passes(d: Draft, lines: list[str]) -> str:
        still = plain_words_problems(lines, limit)
        return f"it still fails the check ({', '.join(still)})" if still else ""

    done = rewrite(ad, "plain_words", [(d, request) for d, _, _ in failing], check=passes)
    for (d, before, problems), result in zip(failing, done, strict=True):
        failed = ", ".join(problems)
        if result.lines is not None:
            d.lines = result.lines
            d.record("plain_words", before, f"rewritten by the teacher ({failed})")
        else:
            d.record("plain_words", before, f"{failed}; the teacher's rewrite was rejected: {result.why}")


def small_steps(drafts: list[Draft], ad: Adaptation) -> None:
    """One idea per line."""
    for d in drafts:
        d.change("small_steps", one_idea_per_line(d.lines))


def concrete_example_first(drafts: list[Draft], ad: Adaptation) -> None:
    """The problem's own instance before the rule: move the first concrete line up, or have the teacher rewrite."""
    missing: list[tuple[Draft, str]] = []
    for d in drafts:
        tokens = instance_tokens(d.problem)
        first = next((i for i, line in enumerate(d.lines) if mentions(line, tokens)), None)
        if not tokens:
            d.record("concrete_example_first", d.target(), "the problem names no instance to start from")
        elif first == 0:
            d.record("concrete_example_first", d.target(), "already starts from the example")
        elif first is not None:
            lines = [d.lines[first], *d.lines[:first], *d.lines[first + 1 :]]
            d.change("concrete_example_first", lines, f"line {first + 1} works on the example: moved first")
        else:
            missing.append((d, d.target()))
    request = "Start with the concrete example of the problem, using its own words or numbers; then give the rule."

    def starts_concrete(d: Draft, lines: list[str]) -> str:
        return "" if mentions(lines[0], instance_tokens(d.problem)) else "it does not start from the example either"

    done = rewrite(ad, "concrete_example_first", [(d, request) for d, _ in missing], check=starts_concrete)
    for (d, before), result in zip(missing, done, strict=True):
        if result.lines is not None:
            d.lines = result.lines
            d.record("concrete_example_first", before, "rewritten by the teacher to start from the example")
        else:
            note = f"no line works on the example; the teacher's rewrite was rejected: {result.why}"
            d.record("concrete_example_first", before, note)


def one_step_template(drafts: list[Draft], ad: Adaptation) -> None:
    """``Step 1: ...`` lines, then the answer line the target always ends in."""
    for d in drafts:
        d.change("one_step_template", templated(d.lines))


STEPS: dict[str, Callable[[list[Draft], Adaptation], None]] = {
    "small_instances_first": small_instances_first,
    "small_steps": small_steps,
    "plain_words": plain_words,
    "concrete_example_first": concrete_example_first,
    "one_step_template": one_step_template,
}
"""The strategies in the order they run: size first (nothing is rewritten that is then dropped), sentences split
before the plain-words check (a split is free, a rewrite is not), the template last."""
