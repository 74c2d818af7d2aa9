"""The sandbox that runs untrusted code: limits hold under both mechanisms (bwrap and the guard)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ioa.config import SandboxConfig
from ioa.errors import RuntimeFailure
from ioa.sandbox import bwrap_usable, mechanism, run_python, run_tests

MECHANISMS = [
    pytest.param("bwrap", marks=pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap missing or unusable")),
    "guard",
]


@pytest.fixture(params=MECHANISMS)
def cfg(request) -> SandboxConfig:
    return SandboxConfig(mechanism=request.param, timeout_s=4, cpu_s=2, memory_mb=256, max_procs=16)


def test_passing_and_failing_tests(cfg: SandboxConfig) -> None:
    good = run_tests("def inc(x):\n    return x + 1", "assert inc(1) == 2", cfg)
    assert good.passed and good.returncode == 0 and good.mechanism.startswith(cfg.mechanism)
    bad = run_tests("def inc(x):\n    return x", "assert inc(1) == 2", cfg)
    assert not bad.passed and "AssertionError" in bad.output


def test_infinite_loop_is_stopped_by_the_cpu_limit(cfg: SandboxConfig) -> None:
    started = time.monotonic()
    result = run_python("while True:\n    pass", cfg)
    assert not result.passed
    assert time.monotonic() - started < cfg.timeout_s + 10


def test_sleeping_forever_is_stopped_by_the_wall_clock(cfg: SandboxConfig) -> None:
    result = run_python("import time\ntime.sleep(600)", cfg)
    assert result.timed_out and not result.passed and result.returncode is None


def test_fork_bomb_is_contained(cfg: SandboxConfig) -> None:
    bomb = "import os\nwhile True:\n    os.fork()"
    started = time.monotonic()
    result = run_python(bomb, cfg)
    assert not result.passed
    assert time.monotonic() - started < cfg.timeout_s + 10
    # Blocked either by RLIMIT_NPROC (bwrap) or by the audit hook (guard).
    assert "Resource temporarily unavailable" in result.output or "os.fork is not allowed" in result.output


def test_no_network(cfg: SandboxConfig) -> None:
    code = "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=2)\nprint('connected')"
    result = run_python(code, cfg)
    assert not result.passed and "connected" not in result.output


def test_memory_limit(cfg: SandboxConfig) -> None:
    result = run_python("x = bytearray(1024 ** 3)", cfg)
    assert not result.passed and "MemoryError" in result.output


def test_cannot_write_to_a_run_dir_or_home_and_cwd_home_are_a_fresh_temp_dir(cfg, tmp_path: Path, monkeypatch):
    fake_run = tmp_path / "run"
    fake_run.mkdir()
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    (fake_home / "secret").write_text("s3cret")
    monkeypatch.setenv("HOME", str(fake_home))
    code = f"import os\nopen({str(fake_run / 'pwned')!r}, 'w').write('x')\n"
    assert not run_python(code, cfg).passed
    assert not (fake_run / "pwned").exists()
    read = run_python(f"print(open({str(fake_home / 'secret')!r}).read())", cfg)
    assert not read.passed and "s3cret" not in read.output
    where = run_python(
        "import os\nprint(os.getcwd(), os.environ.get('HOME'))\nopen('scratch.txt', 'w').write('ok')", cfg
    )
    assert where.passed
    cwd, home = where.output.split()
    assert cwd == home and str(tmp_path) not in cwd and os.getcwd() != cwd


def test_required_bwrap_fails_clearly_when_missing(monkeypatch) -> None:
    monkeypatch.setattr("ioa.sandbox.bwrap_usable", lambda: False)
    with pytest.raises(RuntimeFailure, match="bubblewrap"):
        mechanism(SandboxConfig(mechanism="bwrap"))
    assert mechanism(SandboxConfig(mechanism="auto")) == "guard"
