"""What the teacher is asked to write: one synthesis request per module, level and draw (docs/design.md §6).

A request names the module, its prerequisites, the level with its size and complexity caps, the
student's ratio P_S/P_T, the items the level teaches (for domains with a syllabus) and J, and shows
the domain's style references as a worked demo. Remedial requests add the student's actual wrong
answers on the module's probes; bridging requests add the nearest mastered module, found by
embedding in Chroma's ``mastered`` collection.

How many requests a teach step sends follows the yield measured so far: a strong teacher that keeps
J of J needs one per module and level, a weak one that keeps a few gets several, all sent together
(up to the teacher's concurrency) so that a batching server decodes them side by side.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import dspy

from ioa import rules
from ioa.adapter.fit import bridge_from
from ioa.context import Services
from ioa.domains.base import Domain, ModuleSpec, Task
from ioa.domains.lesson import Lesson
from ioa.rundir import read_jsonl
from ioa.state import IOAState
from ioa.teacher.exercises import render_exercises
from ioa.teacher.signatures import saved_demos

Mode = Literal["new", "remedial", "bridging"]
PROGRAMS: dict[str, str] = {
    "new": "synthesize_new",
    "remedial": "synthesize_remedial",
    "bridging": "synthesize_bridging",
}
"""The teacher program of each mode (ioa/teacher/signatures.py)."""
MAX_MISTAKES = 3
"""Wrong answers shown in one remedial request: enough to aim at, few enough for a small teacher's context (the
embedded teacher copied five whole wrong replies into its exercises instead of answering them)."""
T = TypeVar("T")
_ANSWER_MARKER = re.compile(r"answer\s*(?:is|:|=)\s*", re.I)


@dataclass(frozen=True)
class SynthesisRequest:
    """One request to the teacher: J exercises of one module at one level, in one mode."""

    module: str
    level: int
    mode: Mode
    count: int
    inputs: dict[str, Any]
    """The program's input fields, plus ``demos`` (the style references) unless an optimized program brings its
    own."""


def module_yield(state: IOAState, module: str) -> float | None:
    """Exercises kept per request so far for ``module`` (all modules when it has none yet); None before any."""
    for records in ([r for r in state.synthesis if r["module"] == module], state.synthesis):
        sent = sum(r.get("requests", 0) for r in records)
        if sent:
            return sum(r.get("kept", 0) for r in records) / sent
    return None


def request_counts(state: IOAState, needs: dict[tuple[str, int], int], concurrency: int) -> dict[tuple[str, int], int]:
    """Requests per (module, level): enough to reach its J at the measured yield, all within one wave.

    One per pair before anything was measured; then ceil(J / yield), shared out round-robin so that the
    whole step fits ``concurrency`` requests in flight (never fewer than one per pair).
    """
    want = {}
    for (module, level), n in needs.items():
        measured = module_yield(state, module)
        want[(module, level)] = 1 if measured is None else math.ceil(n / max(measured, 1 / n, 1e-9))
    budget = max(concurrency, len(want))
    counts = dict.fromkeys(want, 1)
    spare = budget - len(want)
    while spare > 0 and any(counts[k] < want[k] for k in want):
        for key in want:
            if spare and counts[key] < want[key]:
                counts[key] += 1
                spare -= 1
    return counts


def build_requests(state: IOAState, svc: Services, modes: dict[str, Mode], draw: int) -> list[SynthesisRequest]:
    """Every request of one teach step, for the focus modules at their ZPD levels (and the stretch above)."""
    cfg = svc.config
    specs = {m.id: m for m in svc.domain.modules}
    needs: dict[tuple[str, int], int] = {}
    j = cfg.synthesis.examples_per_module
    for module in state.focus:
        levels = specs[module].levels
        if cfg.ablation.organizer:
            split = rules.stretch_split(j, _zpd_level(state, specs[module]), levels, cfg.rules.zpd_stretch)
        else:  # the ZPD is the organizer's: without it (`ioa bench`'s ablations), J spreads over every level
            split = rules.even_split(j, levels)
        needs.update({(module, lv): n for lv, n in split.items()})
    counts = request_counts(state, needs, cfg.teacher.max_concurrency)
    wrong = {m: wrong_answers(state, svc, m) for m in state.focus if modes[m] == "remedial"}
    taught = taught_prompts(state, svc)  # read once for every focus module
    out = []
    for (module, level), n in needs.items():
        mode = modes[module]
        fields = _fields(state, svc, specs[module], level, n, mode)
        lesson = svc.domain.lesson(module, level)
        for k in range(counts[(module, level)]):
            inputs = {**fields, "items": _items(lesson, draw + k, taught[module])}
            if mode == "remedial":  # like the items, each request of a step leads with another mistake
                inputs["mistakes"] = mistake_lines(svc.domain, wrong[module], draw + k) or "none recorded"
            optimized = cfg.teacher.programs.get(PROGRAMS[mode])
            if not (optimized and saved_demos(optimized)):  # an optimized program may bring its own demos
                inputs["demos"] = _style_demos(fields, lesson)
            out.append(SynthesisRequest(module, level, mode, n, inputs))
    return out


def _zpd_level(state: IOAState, spec: ModuleSpec) -> int:
    """One notch above the student's level; a remedial round never climbs past the level its stage teaches."""
    zpd = rules.next_difficulty(state.levels.get(spec.id, -1), spec.levels)
    return min(zpd, state.stage_levels.get(spec.id, zpd))


def _fields(state: IOAState, svc: Services, spec: ModuleSpec, level: int, n: int, mode: Mode) -> dict[str, Any]:
    specs = {m.id: m for m in svc.domain.modules}
    lesson = svc.domain.lesson(spec.id, level)
    prerequisites = [specs[p] for p in _prerequisites(state, spec)]
    p_t, p_s = state.p_teacher.get(spec.id, 0.0), state.p_student.get(spec.id, 0.0)
    fields: dict[str, Any] = {
        "skill": f"{spec.id} ({spec.name}): {spec.description}",
        "prerequisites": "; ".join(f"{p.name}: {p.description}" for p in prerequisites) or "none",
        "level": f"level {level + 1} of {spec.levels}",
        "size_cap": lesson.size_cap,
        "complexity_cap": lesson.complexity_cap,
        "student": f"the student scores {rules.mastery_ratio(p_t, p_s):.0%} of what you score on this skill",
        "count": n,
    }
    if mode == "bridging":
        source = bridge_from(svc, spec)
        fields["mastered"] = source[1] if source else "none near this skill"
    return fields


def _prerequisites(state: IOAState, spec: ModuleSpec) -> list[str]:
    """The prerequisite edges in force (the domain's, refined by Eq. 3), else the domain's own."""
    found = [a for a, b in state.edges if b == spec.id]
    return found or list(spec.prerequisites)


def _items(lesson: Lesson, turn: int, taught: list[str]) -> str:
    """The level's items, those no kept example teaches yet first, each group rotated so that each request of a step
    starts with another: a small teacher writes about the first items it reads, and a student learns the items it
    is taught. In the fresh clone of de1690d the student answered exactly the five plurals in -es it had kept
    examples of, and none of the other seven; the round's later waves listed the five as often as the rest, and 8 of
    its 54 parsed exercises were dropped as duplicates of words already kept."""
    new = [i for i in lesson.items if not any(re.search(rf"\b{re.escape(i)}\b", p) for p in taught)]
    old = [i for i in lesson.items if i not in new]
    return ", ".join(_rotated(new, turn) + _rotated(old, turn)) or "any, within the caps"


def _style_demos(fields: dict[str, Any], lesson: Lesson) -> list[dspy.Example]:
    """The domain's style references as one worked demo of the same request: the form, never the content."""
    if not lesson.references:
        return []
    refs = list(lesson.references)
    items = ", ".join(r.item for r in refs if r.item) or "any, within the caps"
    shown = {k: v for k, v in fields.items() if k not in ("mistakes", "mastered", "count")}
    return [dspy.Example(**shown, count=len(refs), items=items, exercises=render_exercises(refs))]


def _rotated(seq: Sequence[T], turn: int) -> list[T]:
    """``seq`` starting from its ``turn``-th element (modulo its length), the ones before it moved to the end."""
    k = turn % len(seq) if seq else 0
    return [*seq[k:], *seq[:k]]


def taught_prompts(state: IOAState, svc: Services) -> defaultdict[str, list[str]]:
    """The problems of every kept example so far (trained on, or waiting in the batch), by module."""
    taught: defaultdict[str, list[str]] = defaultdict(list)
    for f in [*state.trained_files, *state.batch]:
        for row in read_jsonl(svc.run_dir.resolve(f)):
            taught[row["module"]].append(row["prompt"])
    return taught


def wrong_answers(state: IOAState, svc: Services, module: str) -> list[tuple[Task, str]]:
    """The student's wrong answers on ``module``'s probes at the latest diagnosis, in the probes' order."""
    probes = {p["question"]: Task(**p) for p in read_jsonl(svc.run_dir.resolve(state.probes_file))}
    answers = read_jsonl(svc.run_dir.resolve(state.answer_files[-1])) if state.answer_files else []
    wrong = []
    for row in answers:
        task = probes.get(row["question"])
        if task and task.module == module and svc.domain.score(task, row["answer"]) < 1.0:
            wrong.append((task, row["answer"]))
    return wrong


def mistake_lines(domain: Domain, wrong: list[tuple[Task, str]], turn: int = 0) -> str:
    """At most ``MAX_MISTAKES`` wrong answers as a remedial request shows them, from the ``turn``-th on (rotated): the
    item asked about (the lesson's item the question names, else the question) and what the student wrote, on one
    line. Shown as whole questions, one per line, the embedded teacher copied them as its problems: 1 of 4 exercises
    verified, against 5 of 6. It writes about the first mistake it reads: when every request of a remedial round led
    with the same one (r42, "book"), 21 of its 59 parsed exercises were dropped as duplicates of "book"."""
    parts = []
    for task, said in _rotated(wrong, turn)[:MAX_MISTAKES]:
        items = domain.lesson(task.module, task.level).items
        item = next((i for i in items if i in task.question), task.question)
        parts.append(f'{item} (the student wrote "{final_words(said)}")')
    return "; ".join(parts)


def final_words(reply: str, limit: int = 60) -> str:
    """What a reply gives as its answer: the line after its last "Answer:" marker, else the reply itself, in at
    most ``limit`` characters; a teacher aims at the wrong answer, not at the steps that led to it."""
    parts = _ANSWER_MARKER.split(reply)
    said = parts[-1].strip().splitlines()[0] if len(parts) > 1 and parts[-1].strip() else reply
    return " ".join(said.split())[:limit] or "(nothing)"
