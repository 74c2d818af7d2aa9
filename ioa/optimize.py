"""`ioa optimize-prompts`: compile one teacher program with a DSPy optimizer, against the real teacher.

Data. Exercises come from the domain's generator (never from the probe reserve, so they are
disjoint from the probes by construction), spread round robin over every module and level, and
are split by ``optimize.split_seed`` into a train set (what the optimizer sees) and a held-out dev
set (scored before and after, through the same ``Teacher.run`` a run uses, so both show up in
the traces).

Metric (``teaching_score``, a pure function). An item earns nothing unless the domain's checker
(reasoning-gym's ``score_answer``) verifies the teacher's answer. A verified item earns
``verify_weight``, plus the rest in proportion to how well the exercise is calibrated for the
student: the student's success rate on its module and level against the ZPD target
(``optimize.zpd_target``, default 0.5: the student solves about half, the zone where practice
teaches most). The exercises of ``worked_solution`` come from the generator, so their difficulty is
a property of the exercise, not of the prompt: calibration weights the examples, and the optimizer
favours instructions and demos that solve ZPD-level exercises. ``answer_probe`` answers probes,
which measure the teacher, so its metric is verification alone.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dspy
from langchain_core.language_models import BaseChatModel

from ioa.config import Config, OptimizeConfig
from ioa.domains import Domain, ModuleSpec, Task, get_domain
from ioa.errors import RuntimeFailure, UsageError
from ioa.rundir import RunDir, write_json
from ioa.teacher.signatures import PROGRAMS
from ioa.traces import Tracer

OPTIMIZERS = ("bootstrap", "mipro", "gepa")
MAX_DEMOS = 4
"""Bootstrapped demos per program: a small teacher's context has room for a few worked examples."""

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
            "max_tokens": cfg.synthesis.answer_max_tokens,
        },
    ),
}
"""The optimizable teacher programs; ``simplify`` has no answer a checker could verify."""


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
        for task in domain.exercises(module, level, n, _seed(cfg.split_seed, "split", module, level))
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
    drawn = {pair: domain.exercises(pair[0], pair[1], n, _seed(seed, "student", *pair)) for pair in sorted(pairs)}
    flat = [task for tasks in drawn.values() for task in tasks]
    scores = iter(domain.score(t, a) for t, a in zip(flat, answer([t.question for t in flat]), strict=True))
    return {pair: sum(next(scores) for _ in tasks) / len(tasks) for pair, tasks in drawn.items()}


def _seed(*parts: object) -> int:
    import zlib

    return zlib.crc32("|".join(map(str, parts)).encode()) % (2**31)


# --- compiling -------------------------------------------------------------------------------


def compile_program(
    program: dspy.Predict,
    optimizer: str,
    trainset: list[dspy.Example],
    metric: TeachingMetric,
    budget: int,
    reflection_lm: dspy.LM,
    seed: int,
) -> dspy.Predict:
    """Run one DSPy optimizer on ``program``; the task LM and adapter come from ``dspy.context``.

    ``budget``: bootstrap tries at most that many training examples (one teacher call each);
    MIPROv2 runs that many trials; GEPA makes that many metric calls (each one teacher call).
    """
    if optimizer == "bootstrap":
        opt = dspy.BootstrapFewShot(
            metric=metric, max_bootstrapped_demos=MAX_DEMOS, max_labeled_demos=0, max_rounds=1, max_errors=budget
        )
        return opt.compile(program, trainset=trainset[:budget])
    # MIPROv2 and GEPA select candidates on a validation slice of the train set; the dev set stays held out.
    n_val = max(1, min(len(trainset) // 3, budget // 4))
    val, train = trainset[:n_val], trainset[n_val:] or trainset
    if optimizer == "mipro":
        opt = dspy.MIPROv2(
            metric=metric,
            prompt_model=reflection_lm,
            auto=None,
            num_candidates=3,
            max_bootstrapped_demos=2,
            max_labeled_demos=0,
            num_threads=1,
            max_errors=len(trainset) * 4,
            seed=seed,
            verbose=False,
        )
        return opt.compile(
            program,
            trainset=train[:budget],
            valset=val,
            num_trials=budget,
            minibatch=len(val) > 4,
            minibatch_size=4,
            # A small teacher cannot summarise a dataset or read source code; these proposals cost calls for noise.
            data_aware_proposer=False,
            program_aware_proposer=False,
        )
    from dspy.teleprompt.gepa import InstructionProposer

    from ioa.teacher.prompt_format import PlainAdapter

    opt = dspy.GEPA(
        metric=metric.with_feedback,
        max_metric_calls=budget,
        reflection_lm=reflection_lm,
        # GEPA's proposer asks for JSON by default; plain labelled lines are what a small teacher can write.
        instruction_proposer=InstructionProposer(adapter=PlainAdapter()),
        reflection_minibatch_size=min(3, len(train)),
        num_threads=1,
        use_merge=False,
        seed=seed,
    )
    return opt.compile(program, trainset=train, valset=val)


# --- the command ------------------------------------------------------------------------------


@dataclass
class Scores:
    """A program's results on the held-out dev set."""

    n: int
    verified: int
    metric: float

    @property
    def pass_rate(self) -> float:
        return self.verified / self.n if self.n else 0.0


@dataclass
class OptimizeResult:
    """What ``ioa optimize-prompts`` reports and writes to ``<out stem>.optimize/result.json``."""

    program: str
    optimizer: str
    budget: int
    out: str
    before: Scores
    after: Scores
    dev_calibration: float | None
    """Mean calibration of the dev exercises for the student (None when not calibrating)."""
    demos: int
    instructions: str
    instructions_changed: bool
    teacher_calls: int
    """Requests to the teacher endpoint (and the reflection endpoint, when one is configured)."""
    elapsed_s: float
    work_dir: str = field(default="")


def work_dir_for(out: Path) -> Path:
    """Beside the program file: the teacher's log, the evaluation traces and result.json."""
    return out.with_name(out.stem + ".optimize")


def optimize_prompts(
    cfg: Config,
    program: str,
    optimizer: str,
    out: str | Path,
    budget: int | None = None,
    *,
    chat: BaseChatModel | None = None,
    answer: Answerer | None = None,
    progress: bool = False,
) -> OptimizeResult:
    """Compile teacher program ``program`` with ``optimizer``, save its JSON state to ``out``, score before and after.

    ``chat`` replaces the configured endpoint (tests pass a fake); ``answer`` replaces the student.
    """
    if program not in PROGRAM_TASKS:
        raise UsageError(f"program {program!r} cannot be optimized; choose one of: {', '.join(PROGRAM_TASKS)}")
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
    budget = budget if budget is not None else cfg.optimize.budget
    if budget < 1:
        raise UsageError(f"--budget must be at least 1, got {budget}")
    out = Path(out)
    if out.suffix != ".json":
        raise UsageError(f"--out must be a .json file (DSPy JSON state), got {out}")
    start = time.perf_counter()
    work = work_dir_for(out)
    work.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    domain = get_domain(cfg.domain.name, cfg.domain.seed)
    train_tasks, dev_tasks = draw_split(domain, cfg.optimize)
    with ExitStack() as stack:
        if chat is None:
            chat = stack.enter_context(_endpoint_chat(cfg, work, progress))
        success = _calibration_table(cfg, domain, program, train_tasks + dev_tasks, answer)
        metric = TeachingMetric(domain, success, cfg.optimize.zpd_target, cfg.optimize.verify_weight)
        tracer = Tracer(work / "traces.jsonl")
        teacher = _teacher(chat, cfg, tracer)
        before = _evaluate(teacher, cfg, program, domain, dev_tasks, metric, node="optimize_before")
        trainset = to_examples(train_tasks, domain, program)
        reflection = _reflector(chat, cfg)
        compiled = _compile(teacher, reflection, cfg, program, optimizer, trainset, metric, budget)
        compiled.save(str(out))
        # Score the saved file through the same swap-in a run uses: teacher.programs.NAME=out.
        swapped = _teacher(chat, cfg, tracer, {program: str(out)})
        after = _evaluate(swapped, cfg, program, domain, dev_tasks, metric, node="optimize_after")
        calls = teacher.stats.calls + swapped.stats.calls + reflection.stats.calls
    result = OptimizeResult(
        program=program,
        optimizer=optimizer,
        budget=budget,
        out=str(out),
        before=before,
        after=after,
        dev_calibration=_mean_calibration(dev_tasks, success, cfg.optimize.zpd_target),
        demos=len(compiled.demos),
        instructions=compiled.signature.instructions,
        instructions_changed=compiled.signature.instructions != PROGRAMS[program].instructions,
        teacher_calls=calls,
        elapsed_s=round(time.perf_counter() - start, 1),
        work_dir=str(work),
    )
    write_json(work / "result.json", asdict(result))
    return result


def _teacher(chat: BaseChatModel, cfg: Config, tracer: Tracer, programs: dict[str, str] | None = None) -> Any:
    from ioa.teacher.client import ChatTeacher

    teacher_cfg = cfg.teacher if programs is None else cfg.teacher.model_copy(update={"programs": programs})
    return ChatTeacher(chat, teacher_cfg, tracer)


def _compile(
    teacher: Any,
    reflection: Any,
    cfg: Config,
    program: str,
    optimizer: str,
    trainset: list[dspy.Example],
    metric: TeachingMetric,
    budget: int,
) -> dspy.Predict:
    # Start from the teacher's program (the configured file, if any), so a second optimization refines the first;
    # without its LM, so the endpoint stays in the config and out of the saved file.
    current = teacher.programs[program]
    student = dspy.Predict(current.signature, **PROGRAM_TASKS[program].settings(cfg))
    student.demos = list(current.demos)
    try:
        with dspy.context(lm=teacher.lm, adapter=teacher.adapter):
            return compile_program(student, optimizer, trainset, metric, budget, reflection.lm, cfg.optimize.split_seed)
    except (UsageError, RuntimeFailure):
        raise
    except Exception as exc:  # an optimizer failing (e.g. too many teacher errors) is a runtime failure
        raise RuntimeFailure(f"{optimizer} optimization failed: {type(exc).__name__}: {exc}") from exc


def _reflector(chat: BaseChatModel, cfg: Config) -> Any:
    """The model that proposes instructions, as a ChatTeacher (for its LM and its call count): the configured
    reflection endpoint, else the teacher itself with room to write and some randomness."""
    from ioa.teacher.client import ChatTeacher, build_chat_model

    opt = cfg.optimize
    rcfg = cfg.teacher.model_copy(update={"max_tokens": opt.reflection_max_tokens, "temperature": 1.0, "programs": {}})
    if opt.reflection_base_url:
        rcfg = rcfg.model_copy(update={"model": opt.reflection_model or cfg.teacher.model})
        chat = build_chat_model(rcfg, opt.reflection_base_url, _api_key(opt.reflection_api_key_env))
    return ChatTeacher(chat, rcfg)


def _api_key(env: str | None) -> str | None:
    if not env:
        return None
    key = os.environ.get(env)
    if not key:
        raise RuntimeFailure(f"environment variable {env} is not set")
    return key


@contextmanager
def _endpoint_chat(cfg: Config, work: Path, progress: bool) -> Iterator[BaseChatModel]:
    """ChatOpenAI for the configured endpoint, or for the embedded teacher started (and stopped) here."""
    from ioa.graph.runner import teacher_endpoint
    from ioa.progress import RunProgress
    from ioa.teacher.client import build_chat_model

    with RunProgress(enabled=progress) as bars, teacher_endpoint(cfg, RunDir(work), bars) as (base_url, model):
        teacher_cfg = cfg.teacher.model_copy(update={"model": model})
        yield build_chat_model(teacher_cfg, base_url, _api_key(cfg.teacher.api_key_env))


def _calibration_table(
    cfg: Config, domain: Domain, program: str, tasks: list[Task], answer: Answerer | None
) -> dict[tuple[str, int], float]:
    if not PROGRAM_TASKS[program].calibrated or cfg.optimize.verify_weight >= 1.0:
        return {}
    answer = answer or _student_answerer(cfg)
    pairs = {(t.module, t.level) for t in tasks}
    return student_success(domain, answer, pairs, cfg.optimize.student_exercises, cfg.optimize.split_seed)


def _student_answerer(cfg: Config) -> Answerer:
    from ioa.student_train import generate_answers, load_student
    from ioa.teacher.local_server import ensure_teacher_folder

    checkpoint = Path(cfg.optimize.student_checkpoint) if cfg.optimize.student_checkpoint else None
    if checkpoint is not None and not checkpoint.is_dir():
        raise UsageError(f"optimize.student_checkpoint: no student checkpoint at {checkpoint}")
    student = load_student(cfg.student, ensure_teacher_folder(), checkpoint, cfg.training)

    def answer(questions: list[str]) -> list[str]:
        return generate_answers(
            student, questions, max_new_tokens=cfg.student.max_new_tokens, batch_size=cfg.student.eval_batch_size
        )

    return answer


def _evaluate(
    teacher: Any, cfg: Config, program: str, domain: Domain, tasks: list[Task], metric: TeachingMetric, node: str
) -> Scores:
    examples = to_examples(tasks, domain, program)
    preds = teacher.run(
        program, [ex.inputs().toDict() for ex in examples], round=0, node=node, **PROGRAM_TASKS[program].settings(cfg)
    )
    answers = [getattr(p, "answer", None) if p is not None else None for p in preds]
    verified = sum(domain.score(t, a) for t, a in zip(tasks, answers, strict=True))
    scores = [metric(ex, p) for ex, p in zip(examples, preds, strict=True)]
    return Scores(n=len(tasks), verified=int(verified), metric=round(sum(scores) / max(len(scores), 1), 4))


def _mean_calibration(tasks: list[Task], success: dict[tuple[str, int], float], target: float) -> float | None:
    if not success:
        return None
    values = [calibration(success[(t.module, t.level)], target) for t in tasks]
    return round(sum(values) / len(values), 4)


def format_result(result: OptimizeResult) -> str:
    """The lines the CLI prints: the metric before and after on the held-out dev set."""
    n = result.before.n
    cal = "" if result.dev_calibration is None else f"; ZPD calibration of these exercises {result.dev_calibration:.2f}"

    def row(label: str, scores: Scores) -> str:
        return f"  {label} verified {scores.verified}/{n} ({scores.pass_rate:.2f}), metric {scores.metric:.3f}"

    kept = "changed" if result.instructions_changed else "kept"
    lines = [
        f"{result.program} with {result.optimizer} (budget {result.budget}), {n} held-out exercises{cal}",
        row("before:", result.before),
        row("after: ", result.after),
        f"saved {result.out}: {result.demos} demos, instructions {kept}; "
        f"{result.teacher_calls} teacher calls, {result.elapsed_s} s",
        f"use it: --set teacher.programs.{result.program}={result.out}",
    ]
    return "\n".join(lines)


def load_result(out: str | Path) -> dict[str, Any]:
    """The result.json written beside an optimized program."""
    return json.loads((work_dir_for(Path(out)) / "result.json").read_text())
