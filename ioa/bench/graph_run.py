"""Running the real IOA graph inside a trial: the trial's teacher, domain and budget, a fresh run directory."""

from __future__ import annotations

import functools
import re

from ioa.bench.trial import Trial
from ioa.config import Config
from ioa.context import Services
from ioa.graph.build import build_graph
from ioa.graph.runner import RECURSION_LIMIT
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.student_train import load_student
from ioa.traces import Tracer


@functools.cache
def _embeddings():  # one MiniLM per process, shared by every run's concept memory
    from ioa.memory.embeddings import BundledMiniLM

    return BundledMiniLM()


def graph_config(trial: Trial, config: Config) -> Config:
    """The graph's budget is the trial's: teacher calls = diagnostic probes answered + the synthesis budget. Its
    lengths it derives itself, as any run does: it never learns the evaluation's answer cap."""
    probes = len(trial.modules) * config.domain.probes_per_module
    return config.model_copy(
        update={
            "budget": config.budget.model_copy(
                update={"max_rounds": 10_000, "max_teacher_calls": probes + trial.budget}
            ),
        }
    )


def run_ioa(trial: Trial, config: Config) -> None:
    """Run the graph to its finish, then evaluate up to ``bench.eval_points`` of its round checkpoints."""
    from ioa.memory import ConceptMemory

    config = graph_config(trial, config)
    rd = RunDir.create(trial.work_dir / "run", config.to_yaml())
    svc = Services(
        config=config,
        run_dir=rd,
        domain=trial.domain,
        teacher=trial.teacher,
        memory=ConceptMemory.ephemeral(_embeddings()),
        tracer=Tracer(rd.traces),
        tokenizer_dir=trial.tokenizer_dir,
    )
    graph = build_graph()
    final = graph.invoke(IOAState(), {"recursion_limit": RECURSION_LIMIT}, context=svc)
    checkpoints = sorted(rd.student.glob("round_*"), key=lambda p: int(re.sub(r"\D", "", p.name)))
    spent = trial.teacher.by_round
    # Evenly spaced checkpoints, always the last one; each is scored at what was synthesized up to its round.
    step = max(1, -(-len(checkpoints) // trial.config.bench.eval_points))
    chosen = checkpoints[::-1][::step][::-1]
    for path in chosen:
        round_ = int(re.sub(r"\D", "", path.name))
        student = load_student(config.student, trial.tokenizer_dir, path, config.training)
        trial.evaluate(student, max(v for r, v in spent.items() if r <= round_))
    if not checkpoints:  # nothing was ever trained: the initial student is what the strategy produced
        trial.evaluate(svc.student(None))
    trial.passes = sum(int(r["passes"]) for r in final.get("train_log", []))
    trial.steps = sum(int(r["steps"]) for r in final.get("train_log", []))
