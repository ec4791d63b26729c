"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp dir.

initdb refuses to run as root, so as root the cluster belongs to an unprivileged
user (Debian's ``postgres`` when the package created it, else ``pystator-pg``,
created without home or shell); as anyone else it runs as that user. The server
listens on a free loopback port and a socket in the temp dir, and is stopped (fast
shutdown) and removed by ``stop()``. Missing binaries are an error that says how to
install them, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port

__all__ = ["PgCluster", "find_bindir", "start_cluster"]

INSTALL_HINT = (
    "PostgreSQL is not installed: the runtime tests need a real server. Install it with "
    "`apt-get install -y --no-install-recommends postgresql` (scripts/test does)."
)


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError(INSTALL_HINT)
    return Path(initdb).parent


def _owner() -> str | None:
    """The unprivileged user to run the server as (``None``: the current user)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pystator-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "-M", "-s", "/bin/false", "pystator-pg"], check=True)
    return "pystator-pg"


@dataclass
class PgCluster:
    root: Path
    port: int
    bindir: Path
    owner: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.owner is None:
            command = list(args)
        else:
            command = ["su", "-s", "/bin/sh", self.owner, "-c", " ".join(_quote(a) for a in args)]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._as_owner(
            str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args, check=check
        )

    def start(self, fsync: bool = False) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.root} -c max_connections=200"
            + ("" if fsync else " -c fsync=off -c synchronous_commit=off")
        )
        result = self.pg_ctl(
            "-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start", check=False
        )
        if result.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash, not a shutdown)."""
        pid_file = self.root / "data" / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, 9)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def start_cluster(fsync: bool = False) -> PgCluster:
    """initdb a fresh cluster in a temp dir and start it; the caller calls ``remove()``."""
    bindir = find_bindir()
    owner = _owner()
    root = Path(tempfile.mkdtemp(prefix="pystator-pg-"))
    if owner is not None:
        shutil.chown(root, owner)
    cluster = PgCluster(root, free_port(), bindir, owner)
    result = cluster._as_owner(
        str(bindir / "initdb"),
        "-D",
        str(root / "data"),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {result.stdout}\n{result.stderr}")
    try:
        cluster.start(fsync=fsync)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    deadline = time.monotonic() + 30
    while cluster.pg_ctl("status", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come up")
        time.sleep(0.1)
    return cluster
