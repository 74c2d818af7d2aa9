"""`ioa optimize-prompts`: compile one teacher program with a DSPy optimizer, against the real teacher.

Its parts: ``metric`` (the data and the metric), ``compile`` (the optimizers), ``command`` (the command).

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

from ioa.optimize.command import OptimizeResult, Scores, format_result, load_result, optimize_prompts, work_dir_for
from ioa.optimize.compile import OPTIMIZERS, compile_program
from ioa.optimize.metric import (
    PROGRAM_TASKS,
    ProgramTask,
    TeachingMetric,
    calibration,
    draw_split,
    student_success,
    teaching_score,
    to_examples,
)

__all__ = [
    "OPTIMIZERS",
    "PROGRAM_TASKS",
    "OptimizeResult",
    "ProgramTask",
    "Scores",
    "TeachingMetric",
    "calibration",
    "compile_program",
    "draw_split",
    "format_result",
    "load_result",
    "optimize_prompts",
    "student_success",
    "teaching_score",
    "to_examples",
    "work_dir_for",
]
