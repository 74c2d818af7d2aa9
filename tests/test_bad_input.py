"""Bad input the OS produces: a full disk, corrupt student weights, an unreadable run directory (docs/errors.md).

Each is produced for real, not mocked: the disk fills through a file-size limit (EFBIG) or a tiny tmpfs
(ENOSPC), the weights are truncated on disk, and the run directory's permissions deny the reader.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fault_proxy import FakeOpenAIServer
from kill_harness import run_args

from ioa.config import Config
from ioa.rundir import RunDir, atomic_write
from ioa.traces import Tracer, read_traces

SMALL_FAKE = [
    # Wide enough that the student's weights (16 MB over its domain-cut vocabulary) are the file a full disk refuses.
    "student.hidden_size=384",
    "student.num_layers=2",
    "student.num_heads=2",
    "student.intermediate_size=1024",
    "domain.probes_per_module=2",
    "synthesis.examples_per_module=2",
    "budget.max_rounds=1",
    "budget.min_batch_per_module=1",
    "budget.max_teach_attempts=1",
    "training.epochs=1",
    "observability.report=false",
    "teacher.model=fake",
]


def ioa(*args: str, preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ioa", *args], capture_output=True, text=True, timeout=600, preexec_fn=preexec_fn
    )


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


# ---- corrupt student weights ---------------------------------------------------------------------------------


@pytest.mark.integration  # a real `ioa` process past its heavy imports
def test_a_student_folder_with_truncated_weights_is_refused_before_the_run(tmp_path, pretrained_dir):
    student = tmp_path / "student"
    shutil.copytree(pretrained_dir, student)
    weights = student / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    out = ioa("run", "--run-dir", str(tmp_path / "run"), "--set", f"student.model={student}")
    assert out.returncode == 2
    assert one_line(out) == (
        f"ioa: error: student model '{student}': model.safetensors is corrupt "
        "(Error while deserializing header: incomplete metadata, file not fully covered)"
    )
    assert not (tmp_path / "run").exists()


def test_an_intact_student_folder_passes_the_check(pretrained_dir):
    from ioa.student_train.model import check_source

    check_source(str(pretrained_dir))


# ---- unreadable run directory ----------------------------------------------------------------------------------


PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _without_dac_override() -> None:
    """In the child, before exec: drop the capabilities that let root ignore file modes, so it is denied like
    any other user (after exec, root's capabilities are limited to the bounding set)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _root_can_be_denied() -> bool:
    probe = subprocess.run(["true"], preexec_fn=_without_dac_override, capture_output=True, check=False)
    return probe.returncode == 0


def test_an_unreadable_run_directory_is_a_usage_error(tmp_path):
    deny = None
    if os.geteuid() == 0:
        if not _root_can_be_denied():
            pytest.skip("running as root without CAP_SETPCAP: file modes cannot deny this process")
        deny = _without_dac_override
    rd = RunDir.create(tmp_path / "run", Config().to_yaml())
    rd.root.chmod(0o000)
    try:
        for command in ("resume", "traces", "report"):
            out = ioa(command, str(rd.root), preexec_fn=deny)
            assert out.returncode == 2, out.stderr
            assert one_line(out) == f"ioa: error: cannot read run directory {rd.root}: permission denied"
    finally:
        rd.root.chmod(0o755)
    assert json.loads(rd.meta.read_text())["format_version"] == 1  # refused, not touched


# ---- full disk -------------------------------------------------------------------------------------------------

FSIZE_LIMIT = 8 * 2**20
"""Files may grow to 8 MiB: room for everything a run writes but the student's weights (16 MB)."""


def _limit_file_size() -> None:
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG instead of killing the process.
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))


def _mount_tmpfs(where: Path, size: str, remount: bool = False) -> bool:
    opts = f"remount,size={size}" if remount else f"size={size}"
    cmd = ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)]
    return os.geteuid() == 0 and subprocess.run(cmd, capture_output=True).returncode == 0


class FullDisk:
    """Where the run directory goes, and how the disk gets full and gets room again."""

    def __init__(self, mode: str, root: Path) -> None:
        self.mode, self.root = mode, root
        self.preexec = _limit_file_size if mode == "fsize" else None
        self.words = "File too large" if mode == "fsize" else "No space left on device"

    def make_room(self) -> None:
        if self.mode == "fsize":
            self.preexec = None
        else:
            assert _mount_tmpfs(self.root, "256m", remount=True)


@pytest.fixture(params=["fsize", "tmpfs"])
def full_disk(request, tmp_path) -> Iterator[FullDisk]:
    from ioa.teacher.local_server import ensure_teacher_folder

    ensure_teacher_folder()  # the student's tokenizer; converted here, outside any limit, if it is not yet
    root = tmp_path / "disk"
    root.mkdir()
    if request.param == "tmpfs":
        if not _mount_tmpfs(root, "6m"):
            pytest.skip("mounting a tmpfs needs root and CAP_SYS_ADMIN; the file-size limit case covers the rest")
        request.addfinalizer(lambda: subprocess.run(["umount", "--lazy", str(root)], check=True))
    yield FullDisk(request.param, root)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _intact(before: dict[str, bytes], root: Path) -> None:
    """Every file is still there and readable; the append-only ones only grew; databases pass their check."""
    after = _files(root)
    for name, old in before.items():
        assert name in after, f"{name} was lost"
        if name.endswith((".sqlite", ".sqlite3", "-wal", "-shm")) or name == "run.lock":
            continue  # databases are checked below, the lock only holds the last pid
        if name == "summary.json":
            # Each failed attempt rewrites, atomically, the summary of the last state it reached, and where the disk
            # ran out moves with what else was written: it must stay whole and say the run failed.
            assert json.loads(after[name])["status"] == json.loads(old)["status"] == "failed", after[name][:200]
            continue
        if name in ("traces.jsonl", "teacher_server.log"):
            assert after[name].startswith(old), f"{name} was rewritten"
        else:
            assert after[name] == old, f"{name} changed"
    for db in [*root.glob("*.sqlite"), root / "chroma/chroma.sqlite3"]:
        with closing(sqlite3.connect(db)) as con:  # closed, or the tmpfs could not be unmounted
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",), db
    for line in (root / "traces.jsonl").read_text().splitlines():
        json.loads(line)


def _tiny_disk() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_write_that_does_not_fit_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write(path, "old\n")
    script = f"from pathlib import Path; from ioa.rundir import atomic_write as w; w(Path({str(path)!r}), 'x' * 8192)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=_tiny_disk)
    assert out.returncode == 1 and "File too large" in out.stderr
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_trace_that_does_not_fit_raises_and_the_next_run_starts_a_clean_line(tmp_path):
    path = tmp_path / "traces.jsonl"
    Tracer(path).event(round=0, node="identify", agent="teacher", kind="completion", summary="kept")
    script = (
        "from pathlib import Path; from ioa.traces import Tracer; "
        f"Tracer(Path({str(path)!r})).event(round=1, node='teach', agent='teacher', kind='x', summary='y' * 8192)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=_tiny_disk)
    assert out.returncode == 1 and "File too large" in out.stderr  # a short write is not taken as done
    Tracer(path).event(round=1, node="teach", agent="teacher", kind="completion", summary="after")
    assert [e["summary"] for e in read_traces(path)] == ["kept", "after"]


@pytest.mark.integration  # three full `ioa` processes (a fake teacher, a real tiny student)
def test_a_full_disk_stops_the_run_with_one_line_and_loses_nothing(full_disk):
    run_dir = full_disk.root / "run"
    with FakeOpenAIServer() as server:
        args = run_args(run_dir, [*SMALL_FAKE, f"teacher.base_url={server.url}"])
        out = ioa(*args, preexec_fn=full_disk.preexec)
        assert out.returncode == 1
        message = one_line(out)
        assert message.startswith("ioa: error: disk full: ") and full_disk.words in message, message
        assert message.endswith(f"(run directory {run_dir}; free some space, then `ioa resume {run_dir}`)")
        # The student's weights (16 MB) are the first file that does not fit; their folder is written atomically.
        assert "SafetensorError" in message
        assert not [p for p in (run_dir / "student").rglob("*") if ".tmp-" in p.name], "a half-written folder is left"

        # Resumed while the disk is still full: the same failure, and nothing that was there is lost or torn.
        before = _files(run_dir)
        again = ioa("resume", str(run_dir), "--quiet", preexec_fn=full_disk.preexec)
        assert again.returncode == 1 and full_disk.words in one_line(again)
        _intact(before, run_dir)
        calls = server.requests

        full_disk.make_room()
        done = ioa("resume", str(run_dir), "--quiet", preexec_fn=full_disk.preexec)
        # It completes; the fake teacher knows nothing of the domain, so the run says nothing was taught (exit 3).
        assert done.returncode == 3 and done.stderr.startswith("ioa: nothing was taught: "), done.stderr
        assert server.requests == calls  # no teacher request was paid again
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert (run_dir / summary["student"]["final"]["merged"] / "model.safetensors").stat().st_size > FSIZE_LIMIT
