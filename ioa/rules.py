"""The IOA rules (docs/design.md §4) as pure functions of numbers and module ids.

Nothing here does I/O or knows about models: the agents gather the scores and
call these functions, so every formula can be tested on its own.
Edges are ``(prerequisite, dependent)`` pairs of module ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import Literal

Edge = tuple[str, str]


def deficiency(p_teacher: float, p_student: float) -> float:
    """Δ = (P_T - P_S) / P_T; 0.0 when the teacher scores 0 (nothing to teach).

    Not clamped: a negative Δ means the student beats the teacher there.
    """
    if p_teacher <= 0:
        return 0.0
    return (p_teacher - p_student) / p_teacher


def is_deficient(p_teacher: float, p_student: float, tau_gap: float = 0.3) -> bool:
    """True when Δ > tau_gap."""
    return deficiency(p_teacher, p_student) > tau_gap


def mastery_ratio(p_teacher: float, p_student: float) -> float:
    """P_S / P_T; 1.0 when the teacher scores 0 (nothing left to learn from it)."""
    if p_teacher <= 0:
        return 1.0
    return _ratio(p_student, p_teacher)


def _ratio(p_student: float, p_teacher: float) -> float:
    """P_S / P_T rounded to 9 places: accuracies are counts over probes, and 9 of 12 against 10 of 12 is exactly
    90%, which the bare division gives as 0.8999999999999999, below a 0.9 gate."""
    return round(p_student / p_teacher, 9)


ModuleState = Literal["unmastered", "mastered", "forgotten", "stuck", "beyond_teacher"]
"""What a diagnosis says of a module (docs/design.md §4, module states)."""


def module_state(
    p_teacher: float,
    p_student: float,
    *,
    tau_mastery: float,
    teacher_floor: float,
    forgot: bool,
    stuck: bool,
) -> ModuleState:
    """One module's state at a diagnosis.

    ``beyond_teacher`` first: a teacher below the floor cannot teach the module, so it is never mastered
    (P_S/P_T would call any student a master of what its teacher fails). ``forgot`` says the student once
    passed the gate on it and no longer does; ``stuck`` that its stage was given up after the remedial cap.
    """
    if p_teacher < teacher_floor or p_teacher <= 0:
        return "beyond_teacher"
    if mastery_ratio(p_teacher, p_student) >= tau_mastery:
        return "mastered"
    if forgot:
        return "forgotten"
    return "stuck" if stuck else "unmastered"


def dependency_strengths(
    history: list[dict[str, float]],
    p_teacher: dict[str, float],
    tau_high: float = 0.9,
    tau_low: float = 0.7,
    eps: float = 1e-6,
) -> dict[Edge, float]:
    """Paper Eq. 3, estimated across diagnosis rounds (one dict of P_S per round).

    Dep(i→j) = (A - B) / (A + eps), where A and B are the mean P_S(j) over the
    rounds in which i was mastered (r_i ≥ tau_high) or clearly not (r_i < tau_low).
    A pair is estimated only when both groups are non-empty.
    """
    if len(history) < 2:
        return {}
    modules = sorted({m for round_ in history for m in round_})
    out: dict[Edge, float] = {}
    for i in modules:
        if i not in p_teacher:
            continue  # no teacher score, so no mastery ratio for i
        for j in modules:
            if i == j:
                continue
            high: list[float] = []
            low: list[float] = []
            for round_ in history:
                # A round that did not probe both modules says nothing about the pair.
                if i not in round_ or j not in round_:
                    continue
                r_i = mastery_ratio(p_teacher[i], round_[i])
                if r_i >= tau_high:
                    high.append(round_[j])
                elif r_i < tau_low:
                    low.append(round_[j])
            if high and low:
                a, b = fmean(high), fmean(low)
                out[(i, j)] = (a - b) / (a + eps)
    return out


def _reaches(adj: dict[str, set[str]], start: str, goal: str) -> bool:
    """Iterative DFS: is ``goal`` reachable from ``start``?"""
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def break_cycles(modules: list[str], edges: list[Edge]) -> tuple[list[Edge], list[Edge]]:
    """Return ``(dag_edges, removed_edges)``, keeping edges in the given order.

    An edge is removed when it is a self-loop, names an unknown module, or would
    close a cycle with the edges kept so far. Exact duplicates are dropped silently.
    """
    known = set(modules)
    adj: dict[str, set[str]] = {}
    kept: list[Edge] = []
    removed: list[Edge] = []
    for u, v in edges:
        if u == v or u not in known or v not in known:
            removed.append((u, v))
        elif v in adj.get(u, ()):
            continue  # duplicate: already in the DAG, not a cycle
        elif _reaches(adj, v, u):
            removed.append((u, v))
        else:
            adj.setdefault(u, set()).add(v)
            kept.append((u, v))
    return kept, removed


def refine_edges(
    prior: list[Edge],
    dep: dict[Edge, float],
    modules: list[str],
    tau_dep: float = 0.3,
) -> tuple[list[Edge], list[Edge]]:
    """Prior edges plus empirical edges with Dep ≥ tau_dep, made acyclic.

    Prior edges come first so they win any cycle; empirical ones are added
    strongest first so a weak estimate cannot evict a strong one.
    """
    known = set(prior)
    empirical = sorted(
        (e for e, s in dep.items() if s >= tau_dep and e not in known),
        key=lambda e: (-dep[e], e),
    )
    return break_cycles(modules, list(prior) + empirical)


def severity(
    delta: dict[str, float],
    dep: dict[Edge, float],
    edges: list[Edge],
    alpha: float = 0.7,
) -> dict[str, float]:
    """Severity(k) = alpha·Δ(k) + (1 - alpha)·mean Dep(k→k') over k's dependents k'.

    A declared edge without an empirical estimate counts as strength 1.0: the
    domain says it matters, and we have no data to say otherwise.
    """
    dependents: dict[str, set[str]] = {}
    for u, v in edges:
        dependents.setdefault(u, set()).add(v)
    out: dict[str, float] = {}
    for k, d in delta.items():
        strengths = [dep.get((k, j), 1.0) for j in sorted(dependents.get(k, ()))]
        spread = fmean(strengths) if strengths else 0.0
        out[k] = alpha * d + (1 - alpha) * spread
    return out


def select_targets(severities: dict[str, float], deficient: set[str], fraction: float = 0.25) -> list[str]:
    """Top ceil(fraction·|deficient|) deficient modules by severity, at least one."""
    if not deficient:
        return []
    count = min(len(deficient), max(1, math.ceil(fraction * len(deficient))))
    ranked = sorted(deficient, key=lambda m: (-severities[m], m))
    return ranked[:count]


def with_prerequisites(targets: list[str], edges: Iterable[Edge], unmastered: set[str]) -> list[str]:
    """Targets plus their transitive prerequisites that are unmastered, sorted."""
    parents: dict[str, set[str]] = {}
    for u, v in edges:
        parents.setdefault(v, set()).add(u)
    # Walk through mastered prerequisites too: an unmastered module further up
    # the chain is still something the target builds on.
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(set(targets) | (seen & unmastered))


def frontier(stages: list[list[str]], edges: Iterable[Edge], ready: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The modules of ``stages`` whose every prerequisite among them is in ``ready``, in stage order.

    Returns ``(open, blocked)``; ``blocked`` maps each other module to its prerequisites not yet ready.
    A prerequisite outside the stages (mastered, or not deficient) never blocks.
    """
    chosen = {k for stage in stages for k in stage}
    waiting: dict[str, list[str]] = {}
    for u, v in edges:
        if u in chosen and v in chosen and u not in ready:
            waiting.setdefault(v, []).append(u)
    open_ = [k for stage in stages for k in stage if k not in waiting]
    return open_, {k: sorted(ps) for k, ps in sorted(waiting.items())}


def layer_stages(modules: list[str], edges: Iterable[Edge]) -> list[list[str]]:
    """Topological layers of ``modules``, using only edges inside the set.

    Raises ValueError when those edges contain a cycle.
    """
    nodes = set(modules)
    prereqs: dict[str, set[str]] = {m: set() for m in nodes}
    for u, v in edges:
        if u in nodes and v in nodes and u != v:
            prereqs[v].add(u)
        elif u == v and u in nodes:
            raise ValueError(f"prerequisite cycle: {u} depends on itself")
    stages: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(nodes):
        ready = sorted(m for m in nodes - placed if prereqs[m] <= placed)
        if not ready:
            raise ValueError(f"prerequisite cycle among: {sorted(nodes - placed)}")
        stages.append(ready)
        placed.update(ready)
    return stages


def _violates_zpd(prev: list[str], nxt: list[str], p: dict[str, float], tau: float, floor: float) -> bool:
    cur = fmean(p[m] for m in prev)
    # The floor keeps the bound from collapsing to 0 when the student scores ~0.
    return abs(fmean(p[m] for m in nxt) - cur) > tau * max(cur, floor)


def split_for_zpd(
    stages: list[list[str]],
    p_student: dict[str, float],
    tau_zpd: float = 0.15,
    floor: float = 0.05,
) -> list[list[str]]:
    """Split stages until each is within the ZPD bound of the one before it.

    A violating stage is cut by student score, best-known half first, and each
    half is re-checked; singletons and the first stage are never split. Modules
    in one layer never depend on each other, so any split keeps prerequisite order.
    """
    out: list[list[str]] = []
    for stage in stages:
        pending = [sorted(stage)] if stage else []
        while pending:
            current = pending.pop(0)
            if out and len(current) > 1 and _violates_zpd(out[-1], current, p_student, tau_zpd, floor):
                by_score = sorted(current, key=lambda m: (-p_student[m], m))
                mid = (len(by_score) + 1) // 2
                pending[:0] = [sorted(by_score[:mid]), sorted(by_score[mid:])]
            else:
                out.append(current)
    return out


@dataclass(frozen=True)
class GateDecision:
    """What the mastery gate decided for one stage."""

    action: Literal["advance", "remedial", "stuck"]
    """advance to the next stage, run another remedial round, or give up on it."""
    weak: list[str]
    """Modules with mastery ratio below tau_mastery, sorted."""
    min_ratio: float
    """Lowest P_S/P_T over the stage (1.0 for an empty stage)."""
    reason: str
    """One human sentence with the numbers behind the decision."""


def gate(
    ratios: dict[str, float],
    remedial_rounds: int,
    tau_mastery: float = 0.9,
    max_remedial: int = 5,
) -> GateDecision:
    """Mastery gate over a stage's modules, given each module's mastery ratio at the level the stage taught.

    Advance when every ratio reaches tau_mastery; else another remedial round, or stuck after the cap.
    """
    min_ratio = min(ratios.values(), default=1.0)
    weak = sorted(m for m, r in ratios.items() if r < tau_mastery)
    if min_ratio >= tau_mastery:
        reason = f"All {len(ratios)} modules mastered (min ratio {min_ratio:.2f} >= {tau_mastery:.2f})."
        return GateDecision("advance", weak, min_ratio, reason)
    below = f"{len(weak)} of {len(ratios)} modules below mastery (min ratio {min_ratio:.2f} < {tau_mastery:.2f})"
    if remedial_rounds < max_remedial:
        reason = f"{below}; remedial round {remedial_rounds + 1} of {max_remedial}."
        return GateDecision("remedial", weak, min_ratio, reason)
    reason = f"{below} after {remedial_rounds} remedial rounds; the stage is stuck."
    return GateDecision("stuck", weak, min_ratio, reason)


def next_difficulty(current_level: int, levels: int) -> int:
    """ZPD within a module: one notch above the student's level, in [0, levels-1]."""
    return max(0, min(current_level + 1, levels - 1))


def stretch_split(n: int, level: int, levels: int, share: float) -> dict[int, int]:
    """``n`` exercises at ``level``, ``share`` of them (rounded) one level above, where there is one.

    The zone of proximal development reaches past the next level: a worked solution one level up
    is what the student can follow with help, though not yet solve alone.
    """
    above = next_difficulty(level, levels)
    up = round(n * share) if above > level else 0
    return {lv: m for lv, m in ((level, n - up), (above, up)) if m}


def even_split(n: int, levels: int) -> dict[int, int]:
    """``n`` exercises spread evenly over every level, the lower levels taking the remainder: no ZPD."""
    return {lv: m for lv in range(levels) if (m := n // levels + (lv < n % levels))}


def level_ratio(p_teacher: float, p_student: float) -> float:
    """P_S/P_T at one difficulty level, for the student's level and the stage gate.

    Unlike ``mastery_ratio``, a level where both score 0 is not reached (0.0): the student
    cannot be placed above a level it has never solved. A level only the student solves is reached (1.0).
    """
    if p_teacher <= 0:
        return 1.0 if p_student > 0 else 0.0
    return _ratio(p_student, p_teacher)


def student_level(scores_by_level: dict[int, float], threshold: float) -> int:
    """Highest level L with score ≥ threshold at L and every level below; -1 if none."""
    level = -1
    # A missing level counts as not passed: we cannot claim what we did not probe.
    while scores_by_level.get(level + 1, -math.inf) >= threshold:
        level += 1
    return level
