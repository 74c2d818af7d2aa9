"""Seed files: loading, and every kind of bad input as one `file:line` message with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ioa.config import load_config
from ioa.domains import build_domain, resolve_domain
from ioa.domains.seed_domain import SeedDomain
from ioa.domains.seeds import load_seeds
from ioa.errors import UsageError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOOD = {"instruction": "Add 2 and 3.", "reference": "5", "kind": "math", "category": "sums"}
CODE = {
    "instruction": "Write f(x) returning x + 1.",
    "kind": "code",
    "tests": "assert f(1) == 2",
    "entry_point": "f",
    "reference": "def f(x):\n    return x + 1",
}


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "seeds.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


@pytest.mark.parametrize("name", ["instructions", "math_word_problems", "python_functions"])
def test_shipped_examples_load_with_20_to_40_tasks(name: str) -> None:
    seeds = load_seeds(EXAMPLES / f"{name}.jsonl")
    assert 20 <= len(seeds) <= 40
    assert len({s.category for s in seeds}) >= 3


def test_fields_and_defaults(tmp_path: Path) -> None:
    seeds = load_seeds(write(tmp_path, GOOD, {"instruction": "Say hi.", "reference": "hi"}, CODE))
    assert [s.kind for s in seeds] == ["math", "text", "code"]
    assert seeds[1].category == "general" and seeds[1].line == 2
    assert "Name the function" not in seeds[2].question  # entry point already named in the instruction


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([GOOD, "{not json"], r"seeds.jsonl:2: not valid JSON"),
        ([GOOD, GOOD, {"reference": "5"}], r"seeds.jsonl:3: missing required field 'instruction'"),
        ([{**GOOD, "kind": "essay"}], r"seeds.jsonl:1: kind: unknown kind 'essay'; known: math, text, code, choice"),
        ([GOOD, {k: v for k, v in CODE.items() if k != "tests"}], r"seeds.jsonl:2: .*code task needs 'tests'"),
        ([{**CODE, "tests": "assert f(1) =="}], r"seeds.jsonl:1: .*'tests' is not valid Python"),
        ([{"instruction": "x", "kind": "text"}], r"seeds.jsonl:1: .*needs a 'reference'"),
        ([{**GOOD, "colour": "red"}], r"seeds.jsonl:1: unknown field 'colour'"),
        ([[1, 2]], r"seeds.jsonl:1: expected a JSON object"),
        (["", "  "], r"seeds.jsonl: the seed file holds no tasks"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, lines: list, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_seeds(write(tmp_path, *lines))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="seed file not found"):
        load_seeds(tmp_path / "nope.jsonl")


def test_domain_path_builds_a_seed_domain_and_resolves_the_path(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path, GOOD, GOOD)
    monkeypatch.chdir(tmp_path)
    config = resolve_domain(load_config(None, ["domain.path=seeds.jsonl"], environ={}))
    assert config.domain.path == str(tmp_path / "seeds.jsonl")
    domain = build_domain(config)
    assert isinstance(domain, SeedDomain) and domain.modules == []  # modules come from the decomposition


def test_one_task_is_too_few(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(UsageError, match="at least 2 tasks"):
        build_domain(load_config(None, [f"domain.path={path}"], environ={}))


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "ioa", *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ([GOOD, "{oops"], ":2: not valid JSON"),
        ([{**GOOD, "kind": "poem"}], ":1: kind: unknown kind 'poem'"),
        ([], ": the seed file holds no tasks"),
        ([GOOD, {**CODE, "tests": ""}], ":2: a code task needs 'tests'"),
    ],
)
def test_cli_bad_seed_file_is_one_line_exit_2_and_touches_no_run_dir(tmp_path: Path, lines: list, fragment: str):
    seeds = write(tmp_path, *lines) if lines else (tmp_path / "seeds.jsonl")
    seeds.touch()
    run_dir = tmp_path / "existing"
    run_dir.mkdir()
    (run_dir / "keep.txt").write_text("x")
    before = sorted(p.name for p in run_dir.iterdir())
    out = _cli("run", "--run-dir", str(run_dir), "--set", f"domain.path={seeds}", "-q")
    assert out.returncode == 2, out.stderr
    lines_err = out.stderr.strip().splitlines()
    assert len(lines_err) == 1 and f"{seeds}{fragment}" in lines_err[0], out.stderr
    assert "Traceback" not in out.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert not (tmp_path / "fresh").exists()
