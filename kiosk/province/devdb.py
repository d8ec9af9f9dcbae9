"""A throwaway PostgreSQL cluster on a loopback port, for tests, the bench and trials.

``initdb`` into a fresh temporary directory, ``pg_ctl start`` with the
socket in that directory, trust authentication on loopback only; ``stop()``
shuts it down and removes the directory.  PostgreSQL refuses to run as root,
so as root the cluster belongs to the ``postgres`` user (Debian's package
creates it) and the directory lives under /tmp where that user can reach it.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from kiosk.broker import free_port


class DevDbError(Exception):
    pass


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not versions:
        raise DevDbError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(versions[-1]).parent


class TempPostgres:
    def __init__(self, port: int | None = None):
        self.bindir = _bindir()
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="phucvu-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise DevDbError("running as root needs the 'postgres' user (Debian's postgresql package makes it)") from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
            self.user = "postgres"
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def create_database(self, name: str) -> str:
        """A fresh, empty database in this cluster; returns its conninfo."""
        import psycopg
        from psycopg import sql
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={name}"

    def _run(self, *args: str) -> None:
        out = subprocess.run([*self._as, *args], capture_output=True, text=True)
        if out.returncode != 0:
            raise DevDbError(f"{Path(args[0]).name} failed: {(out.stderr or out.stdout).strip()[-2000:]}")

    def start(self, timeout: float = 30.0) -> "TempPostgres":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                # Small and predictable on a 2-core test machine; fsync stays
                # on so the bench measures real commits.
                "-c shared_buffers=64MB -c max_connections=20")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", opts, "-w", "-t", str(int(timeout)), "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                            "-w", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "TempPostgres":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    """Poll until predicate() is true; False on timeout (the caller asserts and says what)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
