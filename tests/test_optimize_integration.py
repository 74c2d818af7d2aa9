"""`ioa optimize-prompts` against the real local teacher, then a real run with the saved program swapped in, whose
probes are still asked bare.

``answer_probe`` answers at temperature 0, so the teacher's verdicts, and so the bootstrapped demos,
are reproducible; the run stops after the identify node (teacher budget 1) to stay short.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import dspy
import pytest

from ioa import run
from ioa.config import load_config
from ioa.optimize import load_result
from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder
from ioa.teacher.signatures import AnswerProbe
from ioa.traces import read_traces

pytestmark = pytest.mark.integration

TINY_STUDENT = [
    "student.hidden_size=64",
    "student.num_layers=2",
    "student.num_heads=2",
    "student.intermediate_size=128",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("serve") / "teacher_server.log"
    with LocalTeacherServer(ensure_teacher_folder(), log_path=log) as teacher:
        yield teacher


def test_bootstrap_against_the_real_teacher_and_a_run_uses_the_program(server, tmp_path: Path) -> None:
    endpoint = [f"teacher.base_url={server.base_url}", f"teacher.model={server.model_name}"]
    out = tmp_path / "probe.json"
    small = ["optimize.train_size=4", "optimize.dev_size=3"]
    args = ["optimize-prompts", "--program", "answer_probe", "--optimizer", "bootstrap", "--budget", "4"]
    args += ["--out", str(out), "--quiet"] + [x for s in endpoint + small for x in ("--set", s)]
    proc = subprocess.run([sys.executable, "-m", "ioa", *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"before: verified [0-3]/3 \(\d\.\d\d\), metric \d\.\d{3}", proc.stdout), proc.stdout
    assert re.search(r"after:  verified [0-3]/3", proc.stdout), proc.stdout

    program = dspy.Predict(AnswerProbe)
    program.load(str(out))
    state = json.loads(out.read_text())
    assert state["lm"] is None and len(program.demos) == len(state["demos"])
    result = load_result(out)
    assert result["teacher_calls"] >= 3 + 3 and result["before"]["n"] == 3
    # Every demo is the real teacher's own answer, verified by the domain's checker.
    assert all(demo["answer"] for demo in state["demos"])

    run_dir = tmp_path / "run"
    overrides = (
        endpoint
        + TINY_STUDENT
        + [
            f"teacher.programs.answer_probe={out}",
            "domain.probes_per_module=1",
            "budget.max_teacher_calls=1",
        ]
    )
    summary = run(load_config(None, overrides, environ={}), run_dir, progress=False)
    assert summary["status"] == "completed"
    asked = [e for e in read_traces(run_dir / "traces.jsonl") if e.get("program") == "answer_probe"]
    assert len(asked) >= 8  # one probe per module
    # Probes are asked bare, as the student is asked (docs/teacher.md): the swapped-in program's instructions and
    # demos do not reach them, so a probe measures the teacher, not the prompt.
    for event in asked:
        assert event["prompt"] == f"[human] {event['inputs']['question']}"
        assert program.signature.instructions not in event["prompt"]
