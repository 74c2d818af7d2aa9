"""`ioa optimize-prompts`: compile one teacher program with a DSPy optimizer, against the real teacher.

Its parts: ``programs`` (what can be optimized, and how each program is asked), ``metric`` (the data and the
metrics), ``compile`` (the optimizers), ``command`` (the command).

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

Synthesis programs (``synthesize_new``, ``synthesize_remedial``, ``synthesize_bridging``; ``programs``).
One request per split slot, for J exercises of the slot's module and level, with the fields a run
sends. ``SynthesisMetric``: the share of the J exercises that parse, verify with the domain's checker
and ask distinct problems. Before optimizing, the dev requests show the domain's style references as
their demo, as a run's do; after, the saved program's own demos (a run with the file swapped in skips
the style references).

The package loads its parts on first use (``__getattr__``), so that the CLI reads ``programs`` for its
help without importing DSPy.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "OPTIMIZERS": "compile",
    "PROGRAM_TASKS": "programs",
    "OptimizeResult": "command",
    "ProgramMetric": "metric",
    "ProgramTask": "programs",
    "Scores": "command",
    "SynthesisMetric": "metric",
    "TeachingMetric": "metric",
    "calibration": "metric",
    "compile_program": "compile",
    "draw_split": "metric",
    "format_result": "command",
    "load_result": "command",
    "optimize_prompts": "command",
    "review_exercises": "metric",
    "student_mistakes": "metric",
    "student_success": "metric",
    "teaching_score": "metric",
    "to_examples": "metric",
    "work_dir_for": "command",
}
"""Each exported name and the part (``ioa.optimize.<part>``) it lives in."""

__all__ = [
    "OPTIMIZERS",
    "PROGRAM_TASKS",
    "OptimizeResult",
    "ProgramMetric",
    "ProgramTask",
    "Scores",
    "SynthesisMetric",
    "TeachingMetric",
    "calibration",
    "compile_program",
    "draw_split",
    "format_result",
    "load_result",
    "optimize_prompts",
    "review_exercises",
    "student_mistakes",
    "student_success",
    "teaching_score",
    "to_examples",
    "work_dir_for",
]


def __getattr__(name: str) -> Any:
    """An exported name, imported from its part on first use."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"ioa.optimize.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ioa.optimize' has no attribute {name!r}")
