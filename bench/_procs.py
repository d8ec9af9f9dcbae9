"""The appliance's processes as the whole-appliance benches run them
(bench/yardstick.py, bench/day.py): each in its own session so a kill -9
reaches all of it, ready when its log says so."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from _util import ROOT

from kiosk.broker import Broker  # noqa: E402


class CannotMeasure(Exception):
    pass


def could_not_measure(exc: BaseException) -> int:
    """The bench's last line when it could not measure, and its exit code (2):
    why, in one line (a traceback first for a bug in the bench itself)."""
    if isinstance(exc, CannotMeasure):
        print(f"error=could not measure: {exc}", file=sys.stderr)
    elif isinstance(exc, KeyboardInterrupt):
        print("error=interrupted", file=sys.stderr)
    else:
        import traceback
        traceback.print_exception(exc)
        print(f"error={exc!r}", file=sys.stderr)
    return 2


class Proc:
    """A project process in its own session, so a kill reaches all of it."""

    def __init__(self, name: str, cmd: list[str], logpath: Path, ready: bytes | int,
                 env: dict[str, str] | None = None):
        """``ready``: the line its log shows when it is ready, or the TCP
        port it listens on once ready."""
        self.name, self.cmd, self.log, self.ready = name, cmd, logpath, ready
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        seen = self.log.read_bytes().count(self.ready) if self.log.exists() and isinstance(self.ready, bytes) else 0
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(self.cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                                         start_new_session=True,
                                         env=None if self.env is None else {**os.environ, **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CannotMeasure(f"{self.name} exited {self.proc.returncode}; see {self.log}")
            if isinstance(self.ready, int):
                try:
                    socket.create_connection(("127.0.0.1", self.ready), 0.2).close()
                    return
                except OSError:
                    pass
            elif self.log.read_bytes().count(self.ready) > seen:
                return
            time.sleep(0.02)
        raise CannotMeasure(f"{self.name} not ready within {timeout} s; see {self.log}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
            except ProcessLookupError:
                pass
        self.proc = None


def broker_kill9(broker: Broker) -> None:
    if broker.proc is not None:
        broker.proc.kill()
        broker.proc.wait()
        if broker.proc.stderr:
            broker.proc.stderr.close()
        broker.proc = None


def with_clock(offset_file: Path, module_args: list[str]) -> list[str]:
    """The command that runs ``python -m <module_args>`` on a wall clock
    ``offset_file`` can step (bench/_clockstep.py)."""
    return [sys.executable, str(ROOT / "bench" / "_clockstep.py"), str(offset_file), *module_args]
