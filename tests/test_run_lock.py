"""One process per run directory, checked with real `ioa` processes."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fault_proxy import FakeOpenAIServer

from ioa.errors import UsageError
from ioa.lock import LOCK_NAME, run_lock


def is_locked(root: Path) -> bool:
    """Whether another process holds the run's lock (flock conflicts across open files)."""
    path = root / LOCK_NAME
    if not path.exists():
        return False
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def wait_until(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"ioa exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def test_a_second_holder_is_refused_and_the_lock_dies_with_its_holder(tmp_path):
    with run_lock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
        with (
            pytest.raises(UsageError, match=f"in use by another ioa process \\(pid {os.getpid()}\\)"),
            run_lock(tmp_path),
        ):
            pass
    with run_lock(tmp_path):  # released on exit
        pass


@pytest.mark.integration  # three full `ioa` processes: slow on a loaded 2-core machine
def test_two_processes_on_one_run_directory(tmp_path):
    release = threading.Event()

    def stalled(messages):
        release.wait(120)  # keeps the run inside its first teacher request
        return "answer: 1"

    repo = str(Path(__file__).resolve().parents[1])  # the tree under test, also in the child processes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    with FakeOpenAIServer(stalled) as server:

        def start(run_dir: Path) -> subprocess.Popen:
            cmd = [sys.executable, "-m", "ioa", "run", "--quiet", "--run-dir", str(run_dir)]
            cmd += ["--set", f"teacher.base_url={server.url}", "--set", "domain.probes_per_module=1"]
            return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        first, other = start(tmp_path / "one"), start(tmp_path / "two")
        try:
            wait_until(lambda: is_locked(tmp_path / "one"), 300, first)
            refused = subprocess.run(
                [sys.executable, "-m", "ioa", "resume", "--quiet", str(tmp_path / "one")],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert refused.returncode == 2
            assert refused.stderr.count("\n") == 1 and "in use by another ioa process" in refused.stderr
            assert f"pid {first.pid}" in refused.stderr
            # A run in another directory is not held up by the first.
            wait_until(lambda: is_locked(tmp_path / "two"), 300, other)
            assert first.poll() is None and other.poll() is None
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            assert not is_locked(tmp_path / "one")  # the kernel released it: no stale lock
        finally:
            release.set()
            for proc in (first, other):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.wait(30)
