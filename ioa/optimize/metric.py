"""The data and the metrics of `ioa optimize-prompts`: exercises split into train and dev, the student's success per
module and level, ``teaching_score`` for the answer programs and ``SynthesisMetric`` for the synthesis programs (see
the package docstring)."""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import dspy

from ioa.agents.synthesis import _style_demos, mistake_lines
from ioa.config import OptimizeConfig
from ioa.domains import Domain, Task
from ioa.optimize.programs import PROGRAM_TASKS, Slot, StudentMistakes
from ioa.teacher.exercises import parse_exercises

Answerer = Callable[[list[str]], list[str]]
"""Answers a list of questions in order: the student, when calibrating difficulty or collecting its mistakes."""


# --- the metric: pure functions of numbers ----------------------------------------------


def calibration(success: float, target: float) -> float:
    """1.0 when the student's success equals the ZPD target, falling linearly to 0.0 at 0 or 1, whichever is farther."""
    return 1.0 - abs(success - target) / max(target, 1.0 - target)


def teaching_score(verified: float, success: float | None, target: float, verify_weight: float) -> float:
    """Verified items earn ``verify_weight`` plus the rest scaled by calibration; unverified items earn 0.

    ``success`` None (no student measured, or a program whose items are not exercises) scores
    verification alone.
    """
    if success is None:
        return verified
    return verified * (verify_weight + (1.0 - verify_weight) * calibration(success, target))


class ProgramMetric(ABC):
    """What the optimizers call: ``judge`` gives (score, feedback) of one prediction against its gold example."""

    @abstractmethod
    def judge(self, gold: dspy.Example, pred: Any) -> tuple[float, str]: ...

    @abstractmethod
    def tally(self, gold: dspy.Example, pred: Any) -> tuple[int, float]:
        """(items asked, items verified) of one prediction, for the dev set's scores."""

    def __call__(self, gold: dspy.Example, pred: Any, trace: Any = None) -> float | bool:
        return self.judge(gold, pred)[0]

    def with_feedback(
        self, gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None, pred_trace: Any = None
    ) -> dspy.Prediction:
        """GEPA's form: the score with a sentence the reflection model can act on."""
        score, feedback = self.judge(gold, pred)
        return dspy.Prediction(score=score, feedback=feedback)


@dataclass
class TeachingMetric(ProgramMetric):
    """The answer programs' metric: ``teaching_score`` of a prediction, looked up from the gold example's task."""

    domain: Domain
    success: dict[tuple[str, int], float]
    """Student success per (module, level); empty when not calibrating."""
    target: float
    verify_weight: float

    def judge(self, gold: dspy.Example, pred: Any) -> tuple[float, str]:
        """(score, feedback) for one prediction; a missing prediction scores 0."""
        task, answer, verified = self._verified(gold, pred)
        success = self.success.get((task.module, task.level))
        score = teaching_score(verified, success, self.target, self.verify_weight)
        verdict = (
            f"Correct: the final answer {answer!r} matches the reference {task.answer!r}."
            if verified
            else f"Wrong: the final answer {answer!r} does not match the reference {task.answer!r}; "
            "end with the final answer alone, after checking each step."
        )
        if success is not None:
            verdict += f" The student solves {success:.0%} of exercises like this one (ZPD target {self.target:.0%})."
        return score, verdict

    def tally(self, gold: dspy.Example, pred: Any) -> tuple[int, float]:
        return 1, self._verified(gold, pred)[2]

    def _verified(self, gold: dspy.Example, pred: Any) -> tuple[Task, str | None, float]:
        task = Task(**gold.task)
        answer = getattr(pred, "answer", None) if pred is not None else None
        return task, answer, self.domain.score(task, answer)


# --- the synthesis programs' metric ----------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """What the domain's checker says of one synthesis reply that was asked for ``asked`` exercises."""

    asked: int
    replied: bool = False
    parsed: int = 0
    """Complete exercises in the reply (``parse_exercises``)."""
    duplicates: int = 0
    """Exercises whose problem an earlier one of the reply already asks."""
    verified: int = 0
    """Distinct exercises the checker verifies."""
    unjudged: int = 0
    """Distinct exercises the checker cannot judge (in a run, self-consistency would decide): they earn nothing."""
    refuted: tuple[str, ...] = ()
    """The distinct exercises the checker refutes, each as 'problem (reason)'."""

    @property
    def kept(self) -> int:
        """Verified, distinct exercises, up to the number asked."""
        return min(self.verified, self.asked)

    @property
    def score(self) -> float:
        return self.kept / self.asked if self.asked else 0.0

    def feedback(self) -> str:
        form = "each as Problem:, Steps:, Answer: and Check: lines"
        if not self.replied:
            return f"No reply: write {self.asked} exercises, {form}."
        counts = [f"{self.parsed} parsed", f"{self.verified} verified by the domain's checker"]
        if self.duplicates:
            counts.append(f"{self.duplicates} repeating an earlier problem")
        if self.refuted:
            counts.append(f"{len(self.refuted)} wrong")
        if self.unjudged:
            counts.append(f"{self.unjudged} the checker cannot judge")
        text = f"Asked for {self.asked} exercises: {', '.join(counts)}; {self.kept} of {self.asked} count."
        if self.parsed < self.asked:
            text += f" Write all {self.asked}, {form}; one without a problem, steps or an answer is lost."
        if self.refuted:
            text += " Wrong: " + "; ".join(self.refuted[:3]) + ". Check each answer against its steps."
        if self.duplicates:
            text += " Every exercise must ask a different problem."
        return text


def review_exercises(domain: Domain, module: str, asked: int, text: str | None) -> Review:
    """Parse a synthesis reply and check each exercise with the domain's checker, as a run's adapter does."""
    if not text:
        return Review(asked)
    written = parse_exercises(text)
    seen: set[str] = set()
    duplicates = verified = unjudged = 0
    refuted = []
    for ex in written:
        key = " ".join(re.findall(r"[a-z0-9]+", ex.problem.lower()))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        try:
            verdict = domain.verify(module, ex.problem, ex.steps, ex.answer)
        except Exception as exc:  # noqa: BLE001 - as in the adapter: teacher text never stops the optimizer
            refuted.append(f"{ex.problem[:80]!r} (the checker failed on it: {type(exc).__name__})")
            continue
        if verdict.ok is True:
            verified += 1
        elif verdict.ok is None:
            unjudged += 1
        else:
            refuted.append(f"{ex.problem[:80]!r} ({verdict.reason})")
    return Review(asked, True, len(written), duplicates, verified, unjudged, tuple(refuted))


@dataclass
class SynthesisMetric(ProgramMetric):
    """The synthesis programs' metric: the share of the ``count`` exercises asked that parse, verify with the domain's
    checker and ask distinct problems; 0 for a missing prediction.

    Bootstrapping (DSPy calls the metric with a trace) keeps a reply as a demo only when all ``count`` count: the
    demo is shown in every request of a run, so it must be an exemplary reply.
    """

    domain: Domain

    def review(self, gold: dspy.Example, pred: Any) -> Review:
        text = getattr(pred, "exercises", None) if pred is not None else None
        return review_exercises(self.domain, gold.task["module"], int(gold.count), text)

    def judge(self, gold: dspy.Example, pred: Any) -> tuple[float, str]:
        review = self.review(gold, pred)
        return review.score, review.feedback()

    def tally(self, gold: dspy.Example, pred: Any) -> tuple[int, float]:
        review = self.review(gold, pred)
        return review.asked, review.kept

    def __call__(self, gold: dspy.Example, pred: Any, trace: Any = None) -> float | bool:
        score = self.judge(gold, pred)[0]
        return score >= 1.0 if trace is not None else score


def program_metric(
    program: str, domain: Domain, success: dict[tuple[str, int], float], cfg: OptimizeConfig
) -> ProgramMetric:
    """The metric of ``program``: ``SynthesisMetric`` for a synthesis program, else ``TeachingMetric``."""
    if PROGRAM_TASKS[program].mode:
        return SynthesisMetric(domain)
    return TeachingMetric(domain, success, cfg.zpd_target, cfg.verify_weight)


# --- data ----------------------------------------------------------------------------------


def draw_split(domain: Domain, cfg: OptimizeConfig) -> tuple[list[Task], list[Task]]:
    """Train and dev exercises, round robin over (module, level), shuffled and split by ``split_seed``."""
    pairs = [(m.id, level) for m in domain.modules for level in range(m.levels)]
    rng = random.Random(cfg.split_seed)
    rng.shuffle(pairs)
    total = cfg.train_size + cfg.dev_size
    counts = Counter(pairs[i % len(pairs)] for i in range(total))
    tasks = [
        task
        for (module, level), n in sorted(counts.items())
        for task in domain.exercises(module, level, n, stream_seed(cfg.split_seed, "split", module, level))
    ]
    rng.shuffle(tasks)
    return tasks[: cfg.train_size], tasks[cfg.train_size :]


def to_examples(
    tasks: list[Task],
    domain: Domain,
    program: str,
    *,
    count: int = 0,
    mistakes: dict[str, StudentMistakes] | None = None,
) -> list[dspy.Example]:
    """DSPy examples: the program's inputs, plus the task the metric checks against (and ``count``, what a synthesis
    request asks for). A synthesis program gets one request per task, for the task's module and level; ``count`` is
    J, and ``mistakes`` the student's per module (remedial). Build train and dev in one call, so that two requests of
    one module and level lead with different items."""
    specs = {m.id: m for m in domain.modules}
    turns: Counter[tuple[str, int]] = Counter()
    out = []
    for task in tasks:
        key = (task.module, task.level)
        slot = Slot(task, specs[task.module], domain, count, turns[key], (mistakes or {}).get(task.module))
        turns[key] += 1
        inputs = PROGRAM_TASKS[program].inputs(slot)
        out.append(dspy.Example(**inputs, task=asdict(task)).with_inputs(*inputs))
    return out


def run_inputs(example: dspy.Example, domain: Domain, program: str, own_demos: bool) -> dict[str, Any]:
    """An example's inputs as a run sends them: a synthesis request whose program brings no demos of its own
    (``teacher.programs``) shows the domain's style references as its demo (``ioa.agents.synthesis.build_requests``)."""
    inputs = example.inputs().toDict()
    if PROGRAM_TASKS[program].mode is None or own_demos:
        return inputs
    lesson = domain.lesson(example.task["module"], example.task["level"])
    fields = {k: v for k, v in inputs.items() if k != "items"}  # the run's fields, before each request's items
    return {**inputs, "demos": _style_demos(fields, lesson)}


def student_mistakes(
    domain: Domain, answer: Answerer, modules: list[str], n: int, seed: int
) -> dict[str, StudentMistakes]:
    """Per module, the student's answers on ``n`` fresh exercises of each level (levels interleaved, as a run's
    probes are), its wrong ones in the lines of a run's remedial request (at most ``MAX_MISTAKES``)."""
    specs = {m.id: m for m in domain.modules}
    drawn = {}
    for module in sorted(modules):
        levels = [
            domain.exercises(module, lv, n, stream_seed(seed, "mistakes", module, lv))
            for lv in range(specs[module].levels)
        ]
        drawn[module] = [task for row in zip(*levels, strict=True) for task in row]
    flat = [task for tasks in drawn.values() for task in tasks]
    replies = iter(answer([t.question for t in flat]))
    out = {}
    for module, tasks in drawn.items():
        wrong = [(t, said) for t, said in ((t, next(replies)) for t in tasks) if domain.score(t, said) < 1.0]
        out[module] = StudentMistakes(mistake_lines(domain, wrong), 1.0 - len(wrong) / max(len(tasks), 1))
    return out


def student_success(
    domain: Domain, answer: Answerer, pairs: set[tuple[str, int]], n: int, seed: int
) -> dict[tuple[str, int], float]:
    """The student's success rate per (module, level), on ``n`` fresh exercises of each."""
    drawn = {pair: domain.exercises(pair[0], pair[1], n, stream_seed(seed, "student", *pair)) for pair in sorted(pairs)}
    flat = [task for tasks in drawn.values() for task in tasks]
    scores = iter(domain.score(t, a) for t, a in zip(flat, answer([t.question for t in flat]), strict=True))
    return {pair: sum(next(scores) for _ in tasks) / len(tasks) for pair, tasks in drawn.items()}


def stream_seed(*parts: object) -> int:
    """The seed of one named exercise stream, the same in every process (unlike ``hash``)."""
    import zlib

    return zlib.crc32("|".join(map(str, parts)).encode()) % (2**31)
