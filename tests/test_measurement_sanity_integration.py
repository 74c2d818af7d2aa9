"""The measurement's sanity check: with the teacher's own model as the student, P_S equals P_T.

Teacher and student are asked the same bare question, scored by the same checker, under caps derived from the
data; the teacher through `transformers serve`, the student through `generate`, both greedy. If the two differ by
more than one probe on a module, the student is asked differently from the teacher (a system turn, a template, a
cap that cuts it off): the failure issue 34 found, where the same weights scored 1.0 as teacher and 0.0 as student.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

PROBES = 6


def test_the_teachers_own_model_as_student_scores_what_the_teacher_scores(tmp_path) -> None:
    from ioa import run
    from ioa.config import load_config

    config = load_config(
        None,
        ["student.model=bundled", f"domain.probes_per_module={PROBES}", "observability.report=false"],
        environ={},
    )
    summary = run(config, tmp_path / "run", progress=False)
    gaps = {m["id"]: abs(m["p_teacher"] - m["p_student_initial"]) for m in summary["modules"]}
    assert all(gap <= 1 / PROBES + 1e-9 for gap in gaps.values()), gaps
    assert summary["lengths"]["caps"]["student_answer"] == summary["lengths"]["caps"]["teacher_answer"]  # same room
    # Nothing is deficient against itself, so nothing is taught: the run says so and trains nothing.
    assert not summary["taught"] and summary["finish_reason"]
