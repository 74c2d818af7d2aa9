"""A throwaway PostgreSQL server for tests: Debian's binaries (scripts/setup.sh --dev installs them), initdb in a
temporary folder, pg_ctl start on a free port of 127.0.0.1, and pg_ctl stop at the end.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the ``postgres`` user that Debian's package
creates, in a folder handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's (not on PATH), else PATH's; None when there is none."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL for the duration of the block; yields the DSN of its ``ioa`` database."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed; `bash scripts/setup.sh --dev` installs Debian's postgresql")
    root = Path(tempfile.mkdtemp(prefix="ioa-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()

    def pg(tool: str, *args: str) -> None:
        subprocess.run([*as_user, str(bin_dir / tool), *args], check=True, capture_output=True, text=True)

    try:
        pg("initdb", "-D", str(data), "-U", "ioa", "--auth=trust", "--no-sync", "-E", "UTF8")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        try:
            pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "ioa", "ioa")
            yield f"postgresql://ioa@127.0.0.1:{port}/ioa"
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
