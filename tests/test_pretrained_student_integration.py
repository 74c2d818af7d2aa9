"""A pretrained student end to end (issue 34, point 3): the bundled SmolLM2-135M as a LoRA student, with its own
tokenizer and chat template, completes ``ioa run`` on a seed file and on a reasoning-gym domain, taught by a
teacher given by ``teacher.base_url``.

The teacher is the scripted ``Tutor`` behind a local OpenAI-compatible server: it knows every answer, so the
student is deficient wherever it errs, and it writes verified exercises. What the test exercises is the student's
side: LoRA rounds on the teacher's adapted solutions, checkpoints that name their base, and a diagnosis of the
trained adapter through the student's own template.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from strong_model import Tutor, tutor_endpoint

from ioa import run
from ioa.config import load_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
KINDS = {
    "seed file": [
        f"domain.path={ROOT / 'examples' / 'math_word_problems.jsonl'}",
        "domain.min_modules=2",
        "domain.max_modules=2",
    ],
    "gym list": [
        "domain.gym=[{dataset: basic_arithmetic, id: numbers/basic, levels: 2, answer: number}, "
        "{dataset: leg_counting, id: counting/legs, prerequisites: [numbers/basic], levels: 2, answer: number}]"
    ],
}
ONE_ROUND = [
    "student.model=bundled",
    "domain.probes_per_module=4",
    "synthesis.examples_per_module=4",
    "budget.max_rounds=1",
    "budget.min_batch_per_module=1",
    "budget.max_teach_attempts=1",
    "training.epochs=2",
    "training.consolidation_epochs=0",
    "observability.report=false",
]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_bundled_student_learns_with_lora_from_a_teacher_at_base_url(kind, tmp_path, one_thread):
    run_dir = tmp_path / "run"
    tutor = Tutor(run_dir)
    with tutor_endpoint(tutor) as endpoint:
        summary = run(load_config(None, [*ONE_ROUND, *KINDS[kind], *endpoint], environ={}), run_dir, progress=False)

    assert summary["status"] == "completed", summary.get("finish_reason")
    assert tutor.requests["synthesize"] and tutor.requests["answer_probe"]
    # The student trained on the teacher's verified, adapted exercises (not on seeds or generator items).
    assert summary["taught"], summary.get("finish_reason")
    assert summary["synthesis"]["kept"] > 0
    # LoRA: a small share of the weights trains, and the round's checkpoint is an adapter that names its base by
    # the alias.
    student = summary["student"]
    assert 0 < student["trainable_params"] < student["params"] / 20, student
    ckpt = run_dir / student["checkpoint"]
    assert (ckpt / "adapter_config.json").is_file()
    assert json.loads((ckpt / "base_model.json").read_text())["base_model"] == "bundled"
    [trained] = summary["training"]
    assert trained["examples"] > 0 and trained["loss_last"] < trained["loss_first"], trained
    # The trained adapter was diagnosed through the student's own template.
    assert (run_dir / "data" / "round_1_student_answers.jsonl").is_file()
    # Caps follow the student's tokenizer and the domain's data, not the toy's 12 tokens.
    assert summary["lengths"]["caps"]["student_answer"] > 12
