"""The `ioa optimize-prompts` command: compile, save, and score the program before and after on held-out exercises."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dspy
from langchain_core.language_models import BaseChatModel

from ioa.config import Config
from ioa.domains import Domain, Task, build_domain, resolve_domain
from ioa.errors import RuntimeFailure, UsageError
from ioa.optimize.compile import OPTIMIZERS, compile_program
from ioa.optimize.metric import (
    PROGRAM_TASKS,
    Answerer,
    ProgramMetric,
    StudentMistakes,
    calibration,
    draw_split,
    program_metric,
    run_inputs,
    student_mistakes,
    student_success,
    to_examples,
)
from ioa.rundir import RunDir, write_json
from ioa.teacher.signatures import PROGRAMS, saved_demos
from ioa.traces import Tracer

if TYPE_CHECKING:
    from ioa.lengths import Lengths


@dataclass
class Scores:
    """A program's results on the held-out dev set."""

    n: int
    """Items asked: one per exercise for an answer program, J per request for a synthesis program."""
    verified: int
    """Items the domain's checker verifies (for a synthesis program: parsed, verified and distinct, at most J each)."""
    metric: float
    requests: int = 0
    """Requests sent (the dev examples)."""

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

    The domain is the config's, as ``ioa run`` takes it: a built-in name, a seed file or a reasoning-gym list.
    ``chat`` replaces the configured endpoint (tests pass a fake); ``answer`` replaces the student.
    """
    budget, out = _checked(cfg, program, optimizer, out, budget)
    cfg = resolve_domain(cfg)  # a bad seed file or gym list fails here, before a teacher server starts
    start = time.perf_counter()
    work = work_dir_for(out)
    work.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if chat is None:
            chat = stack.enter_context(_endpoint_chat(cfg, work, progress))
            if not cfg.teacher.base_url:  # the embedded server sets its own concurrency
                cfg = cfg.model_copy(update={"teacher": cfg.teacher.for_embedded_server()})
        tracer = Tracer(work / "traces.jsonl")
        teacher = _teacher(chat, cfg, tracer)
        domain = _domain(cfg, work, teacher)
        train_tasks, dev_tasks = draw_split(domain, cfg.optimize)
        cfg = _with_synthesis_cap(cfg, domain, program, train_tasks + dev_tasks)
        success = _calibration_table(cfg, domain, program, train_tasks + dev_tasks, answer)
        metric = program_metric(program, domain, success, cfg.optimize)
        trainset, devset = _datasets(cfg, domain, program, train_tasks, dev_tasks, answer)
        before = _evaluate(teacher, cfg, program, domain, devset, metric, node="optimize_before")
        reflection = _reflector(chat, cfg)
        compiled = _compile(teacher, reflection, cfg, program, optimizer, trainset, metric, budget)
        compiled.save(str(out))
        # Score the saved file through the same swap-in a run uses: teacher.programs.NAME=out.
        swapped = _teacher(chat, cfg, tracer, {program: str(out)})
        after = _evaluate(swapped, cfg, program, domain, devset, metric, node="optimize_after")
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


def _datasets(
    cfg: Config, domain: Domain, program: str, train: list[Task], dev: list[Task], answer: Answerer | None
) -> tuple[list[dspy.Example], list[dspy.Example]]:
    """The train and dev examples, made in one call: two synthesis requests of one module and level then lead with
    different items, as a run's do."""
    examples = to_examples(
        train + dev,
        domain,
        program,
        count=cfg.synthesis.examples_per_module,
        mistakes=_mistakes(cfg, domain, program, train + dev, answer),
    )
    return examples[: len(train)], examples[len(train) :]


def _checked(cfg: Config, program: str, optimizer: str, out: str | Path, budget: int | None) -> tuple[int, Path]:
    """The budget (``optimize.budget`` when not given) and the output file, once the arguments are known good."""
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
    return budget, out


def _domain(cfg: Config, work: Path, teacher: Any) -> Domain:
    """The config's domain, built as a run builds it (``build_domain``). A seed file's modules come from the teacher's
    decomposition, saved in the work folder, so that optimizing again (or another program) asks for it once."""
    from ioa.domains.decompose import decompose_into
    from ioa.domains.seed_domain import DECOMPOSITION

    domain = build_domain(cfg, RunDir(work), teacher)
    if not domain.modules:  # a seed file, decomposed here for the first time
        decompose_into(domain, teacher, cfg.domain, RunDir(work).resolve(DECOMPOSITION))
    return domain


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
    metric: ProgramMetric,
    budget: int,
) -> dspy.Predict:
    # Start from the teacher's program (the configured file, if any), so a second optimization refines the first;
    # without its LM, so the endpoint stays in the config and out of the saved file.
    current = teacher.programs[program]
    task = PROGRAM_TASKS[program]
    student = dspy.Predict(current.signature, **task.settings(cfg))
    student.demos = list(current.demos)
    seed = cfg.optimize.split_seed
    try:
        with dspy.context(lm=teacher.lm, adapter=teacher.adapter):
            return compile_program(student, optimizer, trainset, metric, budget, reflection.lm, seed, task.max_demos)
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
    answer = answer or _student_answerer(cfg, domain, tasks)
    pairs = {(t.module, t.level) for t in tasks}
    return student_success(domain, answer, pairs, cfg.optimize.student_exercises, cfg.optimize.split_seed)


def _mistakes(
    cfg: Config, domain: Domain, program: str, tasks: list[Task], answer: Answerer | None
) -> dict[str, StudentMistakes] | None:
    """For a remedial program, the student's wrong answers on fresh exercises of each module of the split."""
    if PROGRAM_TASKS[program].mode != "remedial":
        return None
    answer = answer or _student_answerer(cfg, domain, tasks)
    modules = sorted({t.module for t in tasks})
    return student_mistakes(domain, answer, modules, cfg.optimize.student_exercises, cfg.optimize.split_seed)


def _with_synthesis_cap(cfg: Config, domain: Domain, program: str, tasks: list[Task]) -> Config:
    """For a synthesis program, the config with ``lengths.teacher_synthesis`` as a run derives it when not set: from
    the initial student's tokenizer and the domain's style references, for J exercises (ioa.lengths)."""
    if PROGRAM_TASKS[program].mode is None or cfg.lengths.teacher_synthesis:
        return cfg
    from ioa.student_train import load_student
    from ioa.student_train.model import TINY_TOKENIZER

    cap = _run_lengths(cfg, domain, tasks, load_student(cfg.student, TINY_TOKENIZER, None, cfg.training))
    lengths = cfg.lengths.model_copy(update={"teacher_synthesis": cap.teacher_synthesis})
    return cfg.model_copy(update={"lengths": lengths})


def _run_lengths(cfg: Config, domain: Domain, tasks: list[Task], student: Any) -> Lengths:
    """The caps a run derives from the student and the domain's data (ioa.lengths), the split's tasks standing in
    for the probes (the same question forms)."""
    from ioa.lengths import derive_lengths

    lengths, _ = derive_lengths(
        domain, tasks, student.tokenizer, student.context_window(), cfg.synthesis.examples_per_module, cfg.lengths
    )
    return lengths


def _student_answerer(cfg: Config, domain: Domain, tasks: list[Task]) -> Answerer:
    from ioa.student_train import generate_answers, load_student
    from ioa.student_train.model import TINY_TOKENIZER

    checkpoint = Path(cfg.optimize.student_checkpoint) if cfg.optimize.student_checkpoint else None
    if checkpoint is not None and not checkpoint.is_dir():
        raise UsageError(f"optimize.student_checkpoint: no student checkpoint at {checkpoint}")
    student = load_student(cfg.student, TINY_TOKENIZER, checkpoint, cfg.training)

    # The student's answer cap as a run derives it, from the student and the domain's data (ioa.lengths).
    lengths = _run_lengths(cfg, domain, tasks, student)

    def answer(questions: list[str]) -> list[str]:
        return generate_answers(
            student, questions, max_new_tokens=lengths.student_answer, batch_size=cfg.student.eval_batch_size
        )

    return answer


def _evaluate(
    teacher: Any,
    cfg: Config,
    program: str,
    domain: Domain,
    examples: list[dspy.Example],
    metric: ProgramMetric,
    node: str,
) -> Scores:
    """The dev set asked as a run asks it (a synthesis program without demos of its own shows the domain's style
    references)."""
    saved = teacher.cfg.programs.get(program)
    own_demos = bool(saved and saved_demos(saved))
    inputs = [run_inputs(ex, domain, program, own_demos) for ex in examples]
    preds = teacher.run(program, inputs, round=0, node=node, **PROGRAM_TASKS[program].settings(cfg))
    tallies = [metric.tally(ex, p) for ex, p in zip(examples, preds, strict=True)]
    scores = [float(metric(ex, p)) for ex, p in zip(examples, preds, strict=True)]
    return Scores(
        n=sum(asked for asked, _ in tallies),
        verified=int(sum(verified for _, verified in tallies)),
        metric=round(sum(scores) / max(len(scores), 1), 4),
        requests=len(examples),
    )


def _mean_calibration(tasks: list[Task], success: dict[tuple[str, int], float], target: float) -> float | None:
    if not success:
        return None
    values = [calibration(success[(t.module, t.level)], target) for t in tasks]
    return round(sum(values) / len(values), 4)


def format_result(result: OptimizeResult) -> str:
    """The lines the CLI prints: the metric before and after on the held-out dev set."""
    n = result.before.n
    cal = "" if result.dev_calibration is None else f"; ZPD calibration of these exercises {result.dev_calibration:.2f}"
    held_out = f"{n} held-out exercises"
    if PROGRAM_TASKS[result.program].mode:
        held_out = f"{result.before.requests} held-out requests for {n} exercises (verified: parsed, checked, distinct)"

    def row(label: str, scores: Scores) -> str:
        return f"  {label} verified {scores.verified}/{n} ({scores.pass_rate:.2f}), metric {scores.metric:.3f}"

    kept = "changed" if result.instructions_changed else "kept"
    lines = [
        f"{result.program} with {result.optimizer} (budget {result.budget}), {held_out}{cal}",
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
