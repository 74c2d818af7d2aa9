"""The data and the metric of `ioa optimize-prompts`: exercises split into train and dev, the student's success per
module and level, and ``teaching_score`` (see the package docstring)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import dspy

from ioa.config import Config, OptimizeConfig
from ioa.domains import Domain, ModuleSpec, Task

Answerer = Callable[[list[str]], list[str]]
"""Answers a list of questions in order: the student, when calibrating difficulty."""


@dataclass(frozen=True)
class ProgramTask:
    """How a teacher program is asked about a domain task, and how a run calls it."""

    inputs: Callable[[Task, ModuleSpec], dict[str, Any]]
    calibrated: bool
    """Whether the student's success on the exercise's module and level weights the score."""
    settings: Callable[[Config], dict[str, Any]]
    """Temperature and token cap as a run passes them (ioa.agents)."""


PROGRAM_TASKS: dict[str, ProgramTask] = {
    "worked_solution": ProgramTask(
        inputs=lambda task, spec: {"skill": spec.description, "exercise": task.question},
        calibrated=True,
        settings=lambda cfg: {"temperature": cfg.teacher.temperature},
    ),
    "answer_probe": ProgramTask(
        inputs=lambda task, spec: {"question": task.question},
        calibrated=False,
        settings=lambda cfg: {
            "temperature": cfg.synthesis.answer_temperature,
            "max_tokens": cfg.lengths.teacher_answer,
        },
    ),
}
"""The optimizable teacher programs; the adapter's ``rewrite_solution`` has no task set to score it on."""


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


@dataclass
class TeachingMetric:
    """The DSPy metric: ``teaching_score`` of a prediction, looked up from the gold example's task."""

    domain: Domain
    success: dict[tuple[str, int], float]
    """Student success per (module, level); empty when not calibrating."""
    target: float
    verify_weight: float

    def judge(self, gold: dspy.Example, pred: Any) -> tuple[float, str]:
        """(score, feedback) for one prediction; a missing prediction scores 0."""
        task = Task(**gold.task)
        answer = getattr(pred, "answer", None) if pred is not None else None
        verified = self.domain.score(task, answer)
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

    def __call__(self, gold: dspy.Example, pred: Any, trace: Any = None) -> float:
        return self.judge(gold, pred)[0]

    def with_feedback(
        self, gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None, pred_trace: Any = None
    ) -> dspy.Prediction:
        """GEPA's form: the score with a sentence the reflection model can act on."""
        score, feedback = self.judge(gold, pred)
        return dspy.Prediction(score=score, feedback=feedback)


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


def to_examples(tasks: list[Task], domain: Domain, program: str) -> list[dspy.Example]:
    """DSPy examples: the program's inputs, plus the task the metric checks against."""
    specs = {m.id: m for m in domain.modules}
    out = []
    for task in tasks:
        inputs = PROGRAM_TASKS[program].inputs(task, specs[task.module])
        out.append(dspy.Example(**inputs, task=asdict(task)).with_inputs(*inputs))
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
