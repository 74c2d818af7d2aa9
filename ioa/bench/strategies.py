"""The strategies under comparison: IOA (and its ablations) through the real graph, and three baselines.

Every strategy spends the same synthesis budget through ``Trial.teacher`` and trains through
``Trial.train`` (same epochs per new example, same replay share), from the same initial student.

- ``uniform`` (Self-Instruct style): one-off synthesis spread evenly over every module and level,
  one training run.
- ``hard-first`` (Lion / LLM2LLM style): in ``bench.rounds`` rounds, measure the student on the
  diagnostic probes and spend the round's share where it fails most (per module and level); no
  prerequisites, no gate.
- ``curriculum-no-gate``: the prerequisite stages in order on a fixed schedule (budget per stage
  in proportion to its modules, every level alike); no mastery gate, no ZPD.
- ``ioa``, ``ioa-no-identifier``, ``ioa-no-organizer``, ``ioa-no-adapter``: the LangGraph graph
  with the ``config.ablation`` switches, in a fresh run directory.
- ``uniform-rounds``: the graph with both the identifier and the organizer off: every module every round, J
  spread evenly over its levels, with IOA's rounds, adapter, epochs, replay, consolidation and budget. It differs
  from ``ioa`` only in what the diagnosis and the curriculum decide, so the two compare exactly that.

Every round-based baseline ends with the same consolidation as the graph (``Trial.consolidate``).
"""

from __future__ import annotations

from collections.abc import Callable

from ioa import rules
from ioa.bench.trial import Trial, spread


def uniform(trial: Trial) -> None:
    student = trial.new_student()
    cells = [(m.id, lv) for m in trial.domain.modules for lv in range(m.levels)]
    examples = trial.synthesize(trial.exercises(spread(trial.budget, cells), 1), 1)
    trial.train(student, examples)
    trial.consolidate(student)
    trial.evaluate(student)


def hard_first(trial: Trial) -> None:
    student = trial.new_student()
    probes = trial.diagnostic_probes()
    shares = spread(trial.budget, list(range(trial.config.bench.rounds)))
    for round_, share in shares.items():
        answers = trial.accuracy_by_cell(student, probes)
        cells = sorted(answers)
        # Failure rate per (module, level); a small floor keeps a fully solved cell from being starved forever.
        weights = [max(1.0 - answers[c], 0.02) for c in cells]
        examples = trial.synthesize(trial.exercises(spread(share, cells, weights), round_ + 1), round_ + 1)
        trial.train(student, examples)
        trial.evaluate(student)
    trial.consolidate(student)
    trial.evaluate(student)


def curriculum_no_gate(trial: Trial) -> None:
    student = trial.new_student()
    specs = {m.id: m for m in trial.domain.modules}
    edges = [(p, m.id) for m in trial.domain.modules for p in m.prerequisites]
    stages = rules.layer_stages(list(specs), edges)
    per_stage = spread(trial.budget, list(range(len(stages))), [len(s) for s in stages])
    for index, stage in enumerate(stages):
        cells = [(m, lv) for m in stage for lv in range(specs[m].levels)]
        examples = trial.synthesize(trial.exercises(spread(per_stage[index], cells), index + 1), index + 1)
        trial.train(student, examples)
        trial.evaluate(student)
    trial.consolidate(student)
    trial.evaluate(student)


def graph_strategy(ablation: dict[str, bool]) -> Callable[[Trial], None]:
    """IOA through the real graph, with ``config.ablation`` set as given."""

    def run_graph(trial: Trial) -> None:
        from ioa.bench.graph_run import run_ioa

        run_ioa(trial, trial.config.model_copy(update={"ablation": trial.config.ablation.model_copy(update=ablation)}))

    return run_graph


STRATEGIES: dict[str, Callable[[Trial], None]] = {
    "ioa": graph_strategy({}),
    "uniform": uniform,
    "hard-first": hard_first,
    "curriculum-no-gate": curriculum_no_gate,
    "ioa-no-identifier": graph_strategy({"identifier": False}),
    "ioa-no-organizer": graph_strategy({"organizer": False}),
    "ioa-no-adapter": graph_strategy({"adapter": False}),
    "uniform-rounds": graph_strategy({"identifier": False, "organizer": False}),
}
"""Strategy name -> procedure; the bench's `--strategies` choose from these."""

BASELINES = ("uniform", "uniform-rounds", "hard-first", "curriculum-no-gate")
