"""One trial: one strategy, one seed, one learning rate. The harness every strategy teaches through.

It owns what must be equal across strategies: the student's initialisation, the teacher and its
synthesis budget (``CappedTeacher``), the training recipe (epochs per new batch, replay share), the
diagnostic probes a strategy may look at, and the held-out probes only the benchmark looks at.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from ioa.config import Config
from ioa.domains.base import Task
from ioa.graph.ablations import verbatim_target
from ioa.student_train import Example, Student, load_student, train_student
from ioa.student_train.generate import answer_and_count
from ioa.student_train.train import Replay, consolidation_epochs, replay_count, round_epochs
from ioa.teacher.protocol import Request, Teacher

CAPPED = frozenset({"worked_solution", "synthesize_new", "synthesize_remedial", "synthesize_bridging"})
"""The programs whose output is training material, held to the synthesis budget."""


class CappedTeacher(Teacher):
    """Any teacher, with a hard cap on synthesized worked solutions; probe answers are not capped.

    Every strategy synthesizes through one of these, so the equal-budget invariant is enforced
    in one place: items past the cap come back as None (dropped) without reaching the teacher.
    """

    def __init__(self, inner: Teacher, budget: int) -> None:
        self.inner = inner
        self.budget = budget
        self.spent = 0
        self.by_round: dict[int, int] = {}
        """Round -> synthesized items requested up to and including that round."""
        self.measured = 0
        """Probe answers asked by the identify node: P_T, measurement the graph's teacher budget counts."""
        self._granting = threading.Lock()

    def snapshot(self) -> dict[str, int]:
        """The inner teacher's counters, with ``calls`` in the bench's unit of budget: the probe answers of P_T
        plus the exercises granted. A graph whose ``budget.max_teacher_calls`` is probes + budget then finishes
        exactly when the budget is spent: counted per request, a synthesis of J exercises per call would never
        reach it, and counted with the adapter's self-consistency solves (checks, not material, which no baseline
        makes) it would stop before it had synthesized its share."""
        return {**self.inner.snapshot(), "calls": self.measured + self.spent}

    def answer(self, name: str, inputs: Sequence[dict[str, Any]], request: Request) -> list[Any]:
        """``Teacher.run``; exercises past the budget come back as None (not paid): a worked solution counts one,
        a synthesis request its ``count``, cut down to what the budget has left."""
        if name not in CAPPED:
            if request.node == "identify":
                self.measured += len(inputs)
            return self.inner.answer(name, inputs, request)
        # A teach step's batches call this from several threads at once: what one grants, the next must see before
        # it grants its own, or both spend the same room (a quick bench's control once synthesized 80 of 48).
        with self._granting:
            allowed, spend = [], 0
            for item in inputs:
                size = int(item.get("count", 1))
                room = self.budget - self.spent - spend
                if room <= 0:
                    break
                allowed.append({**item, "count": min(size, room)} if "count" in item else item)
                spend += min(size, room)
            self.spent += spend
            self.by_round[request.round] = self.spent
        out = self.inner.answer(name, allowed, request) if allowed else []
        for _ in inputs[len(allowed) :]:
            if request.on_done:
                request.on_done()
        return out + [None] * (len(inputs) - len(allowed))


@dataclass
class Trial:
    """The shared harness of one (strategy, seed, lr) run."""

    config: Config
    """The run's config: bench.* settings plus the graph's own sections."""
    domain: Any
    """The domain (a ``TaskBook`` when the teacher is the oracle)."""
    teacher: CappedTeacher
    tokenizer_dir: Path
    work_dir: Path
    """Scratch space for checkpoints; deleted by the caller."""
    curve: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    """(synthesized so far, held-out accuracy per module) at each evaluation point."""
    passes: int = 0
    """Examples fed to training, over all epochs (new and replayed)."""
    steps: int = 0
    """Optimizer steps over all training."""
    last_student: Student | None = None
    """The student at the latest evaluation point: what the strategy produced."""
    last_scores: list[float] = field(default_factory=list)
    """Each held-out item's score at the latest evaluation point, in ``held_out_probes`` order."""
    last_cut: int = 0
    """Held-out answers the evaluation cap cut off at the latest evaluation point."""
    _pool: list[Example] = field(default_factory=list)
    _held_out: list[Task] = field(default_factory=list)
    _eval_cap: int = 0
    _rounds: int = 0

    @property
    def budget(self) -> int:
        return self.config.bench.budget

    @property
    def modules(self) -> list[str]:
        return [m.id for m in self.domain.modules]

    def new_student(self) -> Student:
        """The seed's initial student: the same weights for every strategy."""
        return load_student(self.config.student, self.tokenizer_dir, None, self.config.training)

    def exercises(self, counts: dict[tuple[str, int], int], round_: int) -> list[Task]:
        """``counts[(module, level)]`` fresh exercises per cell, from a stream of this seed and round."""
        base = self.config.domain.seed * 1_000_003 + round_ * 10_007
        tasks = [
            t
            for (module, level), n in sorted(counts.items())
            if n > 0
            for t in self.domain.exercises(module, level, n, base + level * 101 + self.modules.index(module))
        ]
        return tasks

    def synthesize(self, tasks: list[Task], round_: int) -> list[Example]:
        """The teacher's worked solutions, verbatim (baselines have no adapter); dropped items are lost budget."""
        solutions = self.teacher.run(
            "worked_solution",
            [{"skill": self._description(t.module), "exercise": t.question} for t in tasks],
            round=round_,
            node="teach",
            temperature=self.config.teacher.temperature,
        )
        worked = [
            (t, Example(t.question, verbatim_target(s.steps, s.answer)))
            for t, s in zip(tasks, solutions, strict=True)
            if s is not None
        ]
        return [e for _, e in worked] + self._practice([t for t, _ in worked], round_)

    def _practice(self, worked: list[Task], round_: int) -> list[Example]:
        """With bench.practice: the same checker-answered practice per worked example as the graph's adapter."""
        per = self.config.adapter.checker_practice_per_example
        if not per:
            return []
        counts: dict[tuple[str, int], int] = {}
        for t in worked:
            counts[(t.module, t.level)] = counts.get((t.module, t.level), 0) + per
        seen = {t.question for t in worked}
        # A separate stream (round + 5000) so practice never repeats the round's worked exercises.
        return [
            Example(t.question, f"Answer: {t.answer}")
            for t in self.exercises(counts, round_ + 5000)
            if t.question not in seen
        ]

    def train(self, student: Student, new: list[Example]) -> None:
        """One round, on the graph's terms: its epochs less those kept back for consolidation, over the new
        examples plus, each epoch, ``training.replay_fraction`` drawn afresh from every earlier one (no tier weighs
        more: only IOA diagnoses which modules are slipping)."""
        if not new:
            return
        cfg = self.config.training
        self._rounds += 1
        per_epoch = replay_count(cfg, len(new))
        replay = Replay(list(self._pool), [1.0] * len(self._pool), per_epoch) if self._pool and per_epoch else None
        epochs = round_epochs(student, cfg, len(new) + (replay.drawn if replay else 0))
        self._fit(student, new, epochs, f"round_{self._rounds}", seed=cfg.seed + self._rounds, replay=replay)
        self._pool += new

    def consolidate(self, student: Student) -> None:
        """The graph's consolidation: the epochs each example kept back, over everything taught, in one pass."""
        cfg = self.config.training
        kept = consolidation_epochs(student, cfg)
        if self._pool and kept:
            self._fit(student, self._pool, kept, "consolidate", seed=cfg.seed + self._rounds + 1)

    def _fit(
        self,
        student: Student,
        data: list[Example],
        epochs: int,
        name: str,
        seed: int | None = None,
        replay: Replay | None = None,
    ) -> None:
        cfg = self.config.training.model_copy(update={"epochs": epochs, **({"seed": seed} if seed is not None else {})})
        result = train_student(student, data, cfg, self.work_dir / name, replay=replay)
        self.passes += epochs * (len(data) + (replay.drawn if replay else 0))
        self.steps += result.steps

    def eval_cap(self, student: Student) -> int:
        """The answer cap of every evaluation, the same for every strategy: ``bench.max_new_tokens``, or a run's
        ``student_answer`` cap derived from the domain's worked solutions in the student's tokens (``ioa.lengths``),
        room for a full worked answer. No strategy builds its data from it."""
        if not self._eval_cap:
            from ioa.config import LengthsConfig
            from ioa.lengths import derive_lengths

            cap = self.config.bench.max_new_tokens
            if cap is None:
                j = self.config.synthesis.examples_per_module
                lengths, _ = derive_lengths(
                    self.domain, self.held_out_probes(), student.tokenizer, student.context_window(), j, LengthsConfig()
                )
                cap = lengths.student_answer
            self._eval_cap = cap
        return self._eval_cap

    def answers(self, student: Student, probes: list[Task]) -> tuple[list[float], int]:
        """Each probe's score (the domain's checker on the student's greedy answer) and how many answers the
        evaluation cap cut off."""
        answers, cut = answer_and_count(
            student,
            [t.question for t in probes],
            max_new_tokens=self.eval_cap(student),
            batch_size=self.config.student.eval_batch_size,
        )
        return [self.domain.score(t, a) for t, a in zip(probes, answers, strict=True)], cut

    def accuracy(self, student: Student, probes: list[Task]) -> dict[str, float]:
        """Per-module accuracy."""
        return _mean_by(probes, self.answers(student, probes)[0], lambda t: t.module)

    def accuracy_by_cell(self, student: Student, probes: list[Task]) -> dict[tuple[str, int], float]:
        """Per (module, level) accuracy."""
        return _mean_by(probes, self.answers(student, probes)[0], lambda t: (t.module, t.level))

    def diagnostic_probes(self) -> list[Task]:
        """What a strategy may measure the student on (the graph's identifier uses the same draw)."""
        n = self.config.domain.probes_per_module
        return [t for m in self.modules for t in self.domain.probes(m, n, self.config.domain.seed)]

    def held_out_probes(self) -> list[Task]:
        """The benchmark's evaluation items, drawn afresh for each seed from the held-out pool (disjoint from every
        diagnostic probe and exercise by construction): never synthesized from, never shown to a strategy."""
        if not self._held_out:
            n, seed = self.config.bench.eval_probes_per_module, self.config.training.seed
            self._held_out = [t for m in self.modules for t in self.domain.held_out(m, n, seed)]
        return self._held_out

    def evaluate(self, student: Student, synthesized: int | None = None) -> None:
        """Record a point of the accuracy/budget curve."""
        spent = self.teacher.spent if synthesized is None else synthesized
        probes = self.held_out_probes()
        self.last_student = student
        self.last_scores, self.last_cut = self.answers(student, probes)
        self.curve.append((spent, _mean_by(probes, self.last_scores, lambda t: t.module)))

    def _description(self, module: str) -> str:
        return next(m.description for m in self.domain.modules if m.id == module)


def _mean_by(probes: list[Task], scores: list[float], key: Callable[[Task], Any]) -> dict[Any, float]:
    groups: dict[Any, list[float]] = {}
    for t, s in zip(probes, scores, strict=True):
        groups.setdefault(key(t), []).append(s)
    return {k: fmean(v) for k, v in groups.items()}


def spread(total: int, keys: list[Any], weights: list[float] | None = None) -> dict[Any, int]:
    """``total`` split over ``keys`` in proportion to ``weights`` (even by default), largest remainders first."""
    weights = weights or [1.0] * len(keys)
    mass = sum(weights)
    if mass <= 0:
        weights, mass = [1.0] * len(keys), float(len(keys))
    exact = [total * w / mass for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(keys)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return dict(zip(keys, counts, strict=True))
