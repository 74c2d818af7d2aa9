"""A sandboxed subprocess for untrusted Python: seed tests, and code written by the teacher or the student.

Every run gets a fresh temporary directory as its working directory and HOME, a clean
environment, a wall-clock timeout (the whole process group is killed), and rlimits set
inside the child before the untrusted code starts: CPU seconds, address space, processes,
file size, open files, no core dumps. Soft and hard limits are equal, so the code cannot
raise them. When ``ioa`` runs as root the child runs as ``nobody`` (uid 65534): root is
exempt from RLIMIT_NPROC, and nobody cannot write to the run directory or read /root.

Two mechanisms isolate the rest, picked by ``sandbox.mechanism``:

- ``bwrap`` (bubblewrap, installed by ``scripts/setup.sh --dev``): new network, pid, ipc,
  uts and user namespaces, and a filesystem that holds only /usr (read-only), /proc, /dev,
  a private /tmp and the temporary directory. The run directory, HOME and the rest of the
  host filesystem do not exist inside. Needs unprivileged user namespaces (or root).
- ``guard`` (the fallback when bwrap is missing or unusable): a Python audit hook installed
  before the code runs refuses socket connect/bind/DNS, process creation (fork, exec,
  subprocess, os.system), ctypes, file writes outside the temporary directory and reads
  under HOME and the caller's working directory. An audit hook lives in the same process
  as the code it watches, so it stops honest mistakes and simple attacks, not a determined
  one (e.g. a C extension already loaded). Use ``bwrap`` for untrusted seed files.

``auto`` uses bwrap when a probe run succeeds, else guard; ``bwrap`` refuses to run without it.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ioa.config import SandboxConfig
from ioa.errors import RuntimeFailure

NOBODY = 65534
OUTPUT_LIMIT = 4000
"""Characters of the child's output kept in a result."""
FILE_LIMIT = 16 * 2**20
"""RLIMIT_FSIZE: the largest file the code may write (its output file included)."""

_RUNNER = """\
import os, resource, sys
for _name, _value in {limits!r}:
    resource.setrlimit(getattr(resource, _name), (_value, _value))
if {guard!r}:
    _root = os.path.realpath(os.getcwd())
    _deny_read = [p for p in {deny_read!r} if p]
    _blocked = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto",
                "socket.sendmsg", "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                "subprocess.Popen", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "os.kill", "os.killpg")
    _writes = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink",
               "os.link", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile")
    _wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _under(path, roots):
        try:
            path = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    def _hook(event, args):
        if event in _blocked:
            raise PermissionError("sandbox: " + event + " is not allowed")
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1] or "", args[2] or 0
            if (any(c in mode for c in "wax+") or flags & _wflags) and not _under(args[0], [_root]):
                raise PermissionError("sandbox: writing outside the sandbox directory is not allowed")
            if _under(args[0], _deny_read) and not _under(args[0], [_root, sys.base_prefix, sys.prefix]):
                raise PermissionError("sandbox: reading this path is not allowed")
        elif event in _writes:
            for arg in args:
                if isinstance(arg, (str, bytes, os.PathLike)) and not _under(arg, [_root]):
                    raise PermissionError("sandbox: " + event + " outside the sandbox directory is not allowed")

    sys.addaudithook(_hook)
sys.argv = ["main.py"]
with open("main.py") as _fh:
    _source = _fh.read()
exec(compile(_source, "main.py", "exec"), {{"__name__": "__main__"}})
"""


@dataclass(frozen=True)
class SandboxResult:
    """What one sandboxed run did."""

    passed: bool
    """Exit status 0 within every limit."""
    returncode: int | None
    """The child's exit status (negative: killed by that signal); None when it timed out."""
    timed_out: bool
    """Killed at the wall-clock limit."""
    output: str
    """The tail of stdout and stderr together."""
    mechanism: str
    """``bwrap`` or ``guard``, plus ``+nobody`` when it ran as uid 65534."""


def _interpreter() -> str:
    # The system Python lives under /usr, which bwrap exposes and nobody may execute; a
    # virtualenv or pyenv interpreter may sit under /root, which neither can reach.
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


def _drop_user() -> int | None:
    return NOBODY if os.geteuid() == 0 else None


def _bwrap_command(workdir: Path, python: str) -> list[str]:
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            cmd += ["--ro-bind", top, top]
    if not python.startswith("/usr/"):
        prefix = sys.base_prefix
        cmd += ["--ro-bind", prefix, prefix]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", str(workdir), "/sandbox"]
    cmd += ["--chdir", "/sandbox", "--clearenv", "--setenv", "HOME", "/sandbox", "--setenv", "PATH", "/usr/bin:/bin"]
    return [*cmd, python, "-I", "_run.py"]


@functools.cache
def bwrap_usable() -> bool:
    """Whether bubblewrap is installed and can create its namespaces here (probed once per process)."""
    if shutil.which("bwrap") is None:
        return False
    workdir = Path(tempfile.mkdtemp(prefix="ioa-sbx-probe-"))
    try:
        _prepare(workdir)
        (workdir / "_run.py").write_text("pass\n")
        user = _drop_user()
        done = subprocess.run(
            _bwrap_command(workdir, _interpreter()),
            capture_output=True,
            timeout=30,
            user=user,
            group=user,
            extra_groups=[] if user is not None else None,
        )
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def mechanism(cfg: SandboxConfig) -> str:
    """The mechanism a run uses under ``cfg``; ``bwrap`` when required but unusable is a runtime failure."""
    if cfg.mechanism == "guard":
        return "guard"
    if bwrap_usable():
        return "bwrap"
    if cfg.mechanism == "bwrap":
        raise RuntimeFailure(
            "sandbox.mechanism=bwrap but bubblewrap is missing or cannot create namespaces here "
            "(install it with `apt-get install bubblewrap`, or set sandbox.mechanism=guard)"
        )
    return "guard"


def _prepare(workdir: Path) -> None:
    user = _drop_user()
    if user is not None:
        os.chown(workdir, user, user)
    workdir.chmod(0o700)


def _own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _limits(cfg: SandboxConfig, kind: str, user: int | None) -> list[tuple[str, int]]:
    procs = cfg.max_procs
    if user is None and kind == "guard":
        # RLIMIT_NPROC counts every process of the real user: leave room for the ones it already has.
        procs += _own_processes()
    return [
        ("RLIMIT_CPU", cfg.cpu_s),
        ("RLIMIT_AS", cfg.memory_mb * 2**20),
        ("RLIMIT_NPROC", procs),
        ("RLIMIT_FSIZE", FILE_LIMIT),
        ("RLIMIT_NOFILE", 64),
        ("RLIMIT_CORE", 0),
    ]


def run_python(code: str, cfg: SandboxConfig) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox; passed = exit status 0 in time."""
    kind = mechanism(cfg)
    user = _drop_user()
    python = _interpreter()
    workdir = Path(tempfile.mkdtemp(prefix="ioa-sbx-"))
    try:
        _prepare(workdir)
        deny_read = [os.path.expanduser("~"), os.getcwd()]
        runner = _RUNNER.format(limits=_limits(cfg, kind, user), guard=kind == "guard", deny_read=deny_read)
        for name, text in (("_run.py", runner), ("main.py", code)):
            (workdir / name).write_text(text)
            if user is not None:
                os.chown(workdir / name, user, user)
        if kind == "bwrap":
            cmd = _bwrap_command(workdir, python)
            env = {}
        else:
            cmd = [python, "-I", "_run.py"]
            env = {"HOME": str(workdir), "PATH": "/usr/bin:/bin", "TMPDIR": str(workdir), "LANG": "C.UTF-8"}
        # The output goes to a file in the sandbox, so RLIMIT_FSIZE bounds it (a pipe would not).
        out_path = workdir / "_output.txt"
        with open(out_path, "wb") as out:
            if user is not None:
                os.chown(out_path, user, user)
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user is not None else None,
            )
            timed_out = _wait(proc, cfg.timeout_s)
        output = out_path.read_bytes()[-OUTPUT_LIMIT:].decode(errors="replace")
        tag = kind + ("+nobody" if user is not None else "")
        code_ = None if timed_out else proc.returncode
        return SandboxResult(code_ == 0, code_, timed_out, output, tag)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait for the child; at the limit kill its whole process group. True when it timed out."""
    try:
        proc.wait(timeout=timeout_s)
        return False
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def run_tests(solution: str, tests: str, cfg: SandboxConfig) -> SandboxResult:
    """pass@1 for one solution: the solution, then the task's asserts, in one sandboxed run."""
    return run_python(f"{solution}\n\n# --- tests ---\n{tests}\n", cfg)
