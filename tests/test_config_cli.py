"""Config resolution and the CLI's error contract: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ioa.config import Config, load_config
from ioa.errors import UsageError


def ioa(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ioa", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_defaults_validate_and_round_trip_through_yaml(tmp_path):
    cfg = Config()
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path, environ={}) == cfg


def test_precedence_file_then_env_then_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("budget:\n  max_rounds: 2\ntraining:\n  epochs: 5\n")
    env = {"IOA_BUDGET__MAX_ROUNDS": "3", "IOA_TRAINING__EPOCHS": "7"}
    cfg = load_config(path, ["training.epochs=9"], environ=env)
    assert cfg.budget.max_rounds == 3  # env beats file
    assert cfg.training.epochs == 9  # --set beats env


def test_unknown_key_is_a_usage_error():
    with pytest.raises(UsageError, match="budget.max_roundz: unknown key"):
        load_config(None, ["budget.max_roundz=2"], environ={})


def test_all_problems_are_reported_at_once():
    with pytest.raises(UsageError) as err:
        load_config(None, ["rules.tau_mastery=1.5", "training.epochs=0"], environ={})
    assert "rules.tau_mastery" in str(err.value) and "training.epochs" in str(err.value)


def test_bad_assignment_syntax():
    with pytest.raises(UsageError, match="key=value"):
        load_config(None, ["budget.max_rounds"], environ={})


SLOW = pytest.mark.integration


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--set", "rules.tau_mastery=7"], "rules.tau_mastery"),
        (["run", "--set", "nonsense.key=1"], "nonsense: unknown key"),
        (["run", "--config", "does-not-exist.yaml"], "cannot read config"),
        (["resume", "no-such-run-dir"], "no run directory"),
        # These pass the config check, so the process imports the whole graph (torch included) before refusing.
        pytest.param(["run", "--set", "student.model=./no-such-model"], "does not exist", marks=SLOW),
        pytest.param(["run", "--set", "student.model=./student.gguf"], "is not a GGUF file", marks=SLOW),
        pytest.param(
            ["run", "--set", "teacher.programs.worked_solution=nope.json"], "teacher program file not found", marks=SLOW
        ),
    ],
)
def test_cli_input_errors_are_one_line_exit_2(tmp_path, args, needle):
    (tmp_path / "student.gguf").write_bytes(b"not a gguf file")
    out = ioa(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists()  # nothing was written for a rejected config


def test_help_teaches_the_commands():
    out = ioa("--help")
    assert out.returncode == 0
    for command in ("run", "resume", "traces", "teacher"):
        assert command in out.stdout
    assert "--set" in ioa("run", "--help").stdout
