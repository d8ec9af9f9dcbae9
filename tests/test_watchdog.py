"""The systemd watchdog: pings come from the core's main loop and stop when it hangs.

A unix datagram socket bound by the test stands in for systemd's
NOTIFY_SOCKET.  The core is a real ``phucvu core`` process; to hang its main
loop for real, the test holds SQLite's write lock from another connection
(``BEGIN IMMEDIATE``) and sends a ticket request: the core's commit then waits
inside the loop for the lock (the store's busy_timeout is 5 s; the test
releases well before that).  The pings must stop while it waits and resume
after, and the ticket must be issued.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from kiosk.sdnotify import Notifier
from tests.conftest import CoreProcess

WATCHDOG_USEC = 1_000_000      # pings every 0.5 s
PING_S = WATCHDOG_USEC / 2e6
# Silence that proves a hang: three ping intervals without a ping.
HANG_GAP_S = 3 * PING_S
BUSY_TIMEOUT_S = 5.0           # kiosk/core/store.py: PRAGMA busy_timeout = 5000


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET: records datagrams with their arrival time."""

    def __init__(self, address: str | bytes):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.received: list[tuple[float, dict[str, str]]] = []

    def recv(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines())
        self.received.append((time.monotonic(), fields))
        return fields

    def wait_for(self, key: str, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(left)
            if msg is not None and key in msg:
                return msg
        raise AssertionError(f"no {key} within {timeout} s; got {[m for _, m in self.received]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_dir():
    # A short path: unix socket paths are limited to 107 bytes, pytest's tmp_path is long.
    d = Path(tempfile.mkdtemp(prefix="pv-nt-", dir="/tmp"))
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


# ----------------------------------------------------------- the client alone
def test_no_socket_means_no_op():
    n = Notifier(env={})
    assert not n.enabled
    assert n.interval is None
    assert n.ready("x") is False and n.watchdog() is False and n.stopping() is False
    assert n.wake_every(30.0) == 30.0


def test_path_socket_gets_ready_status_watchdog_stopping(notify_dir):
    path = notify_dir / "notify"
    systemd = FakeSystemd(str(path))
    clock = [100.0]
    n = Notifier(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"},
                 monotonic=lambda: clock[0])
    try:
        assert n.interval == 2.0
        assert n.wake_every(30.0) == 1.0
        assert n.ready("serving thang-loc")
        assert systemd.recv(2) == {"READY": "1", "STATUS": "serving thang-loc"}
        assert n.watchdog()
        assert systemd.recv(2) == {"WATCHDOG": "1"}
        # Called again before the interval is up: no second datagram.
        clock[0] += 1.9
        assert n.watchdog() is False
        clock[0] += 0.1
        assert n.watchdog()
        assert systemd.recv(2) == {"WATCHDOG": "1"}
        assert n.status("printer: paper_out")
        assert systemd.recv(2) == {"STATUS": "printer: paper_out"}
        assert n.stopping()
        assert systemd.recv(2) == {"STOPPING": "1"}
        assert systemd.recv(0.05) is None
    finally:
        n.close()
        systemd.close()


def test_abstract_socket():
    name = f"phucvu-test-{uuid.uuid4().hex}"
    systemd = FakeSystemd(b"\0" + name.encode())
    n = Notifier(env={"NOTIFY_SOCKET": "@" + name})
    try:
        assert n.ready()
        assert systemd.recv(2) == {"READY": "1"}
    finally:
        n.close()
        systemd.close()


def test_watchdog_meant_for_another_pid_or_garbage_is_off(notify_dir):
    path = str(notify_dir / "notify")
    assert Notifier(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000",
                         "WATCHDOG_PID": str(os.getpid() + 1)}).interval is None
    assert Notifier(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000",
                         "WATCHDOG_PID": str(os.getpid())}).interval == 0.5
    assert Notifier(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "soon"}).interval is None
    assert Notifier(env={"NOTIFY_SOCKET": "vsock:2:1234"}).enabled is False


def test_socket_gone_is_not_fatal(notify_dir):
    n = Notifier(env={"NOTIFY_SOCKET": str(notify_dir / "nobody-listens")})
    assert n.enabled
    assert n.ready() is False
    n.close()


# ------------------------------------------------------------ the real core
def test_core_pings_from_its_loop_and_stops_when_the_loop_hangs(broker, bus, notify_dir,
                                                                  tmp_path, monkeypatch):
    systemd = FakeSystemd(str(notify_dir / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_dir / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    core = CoreProcess(broker, tmp_path / "phucvu.db")
    lock = None
    try:
        core.start()
        ready = systemd.wait_for("READY", 15)
        assert "thang-loc" in ready.get("STATUS", "")

        # Healthy: regular pings.
        for _ in range(4):
            systemd.wait_for("WATCHDOG", 2)

        kiosk = bus("kiosk-1", client_id="kiosk-1")
        kiosk.subscribe("ticket/reply/kiosk-1")
        lock = sqlite3.connect(core.db, timeout=5, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        held_since = time.monotonic()
        rid = uuid.uuid4().hex
        kiosk.publish("ticket/request/kiosk-1", {"request_id": rid, "client": "kiosk-1",
                                         "field": "tu-phap", "priority": None})

        # The loop is now stuck in the commit: wait for a silence no healthy
        # loop makes, and release before the store's busy timeout.
        last = time.monotonic()
        silent = False
        while time.monotonic() - held_since < BUSY_TIMEOUT_S - 1.0:
            if systemd.recv(HANG_GAP_S) is None:
                silent = True
                break
            last = time.monotonic()
        assert silent, "watchdog pings went on while the core's loop was blocked"
        assert time.monotonic() - last >= HANG_GAP_S
        # Blocked, not idle: the ticket has not been answered yet.
        assert not any(t.endswith("ticket/reply/kiosk-1") for t, _, _ in kiosk.messages)
        lock.execute("ROLLBACK")
        lock.close()
        lock = None

        # Released: the ticket is issued and the pings come back.
        reply = kiosk.wait_for(lambda t, body: t == "ticket/reply/kiosk-1" and body
                               and body.get("request_id") == rid, timeout=10)
        assert reply["ok"], reply
        assert reply["ticket"]["label"].startswith("A")
        for _ in range(2):
            systemd.wait_for("WATCHDOG", 2)
        core.stop()
        assert systemd.wait_for("STOPPING", 5)["STOPPING"] == "1"
    finally:
        if lock is not None:
            lock.close()
        core.stop()
        systemd.close()


# ------------------------------------------- the other long-running services
def _service_cmd(name: str, broker, tmp_path: Path) -> list[str]:
    import sys
    from tests.conftest import DEMO_SITE
    from kiosk.broker import free_port
    base = [sys.executable, "-m", "kiosk.cli", name, "--config", str(DEMO_SITE), "--mqtt-port", str(broker.port)]
    if name == "speaker":
        return base + ["--mqtt-password-file", str(broker.password_file("display-1")),
                       "--voice-dir", str(tmp_path / "voice")]
    if name == "display":
        return base + ["--mqtt-password-file", str(broker.password_file("display-1")),
                       "--no-voice", "--windowed", "--screenshots", str(tmp_path / "shots")]
    if name in ("kiosk", "bridge"):
        # Both take the broker from the config: the demo site on the test broker.
        from tests.test_bridge_helpers import write_config
        devices = [{"counter": 1, "port": str(tmp_path / "by-id-box-1")}] if name == "bridge" else []
        site = str(write_config(tmp_path, broker, devices))
        if name == "bridge":
            return [sys.executable, "-m", "kiosk.cli", "bridge", "--config", site]
        return [sys.executable, "-m", "kiosk.cli", "kiosk", "--config", site, "--windowed",
                "--mqtt-password-file", str(broker.password_file("kiosk-1")),
                "--screenshots", str(tmp_path / "shots")]
    db = tmp_path / "phucvu.db"
    import subprocess
    subprocess.run([sys.executable, "-m", "kiosk.cli", "init", "--config", str(DEMO_SITE), "--db", str(db)],
                   check=True, capture_output=True)
    return base + ["--db", str(db), "--mqtt-password-file", str(broker.password_file("web")),
                   "--port", str(free_port())]


@pytest.mark.parametrize("name", ["web", "speaker", "display", "kiosk", "bridge"])
def test_service_says_ready_and_pings(name, broker, notify_dir, tmp_path):
    """Each unit with WatchdogSec= runs a process that says READY=1 and then pings."""
    import subprocess
    from tests.conftest import ROOT, stop_process
    box = None
    if name == "bridge":
        from firmware_bridge.sim import SimBox
        box = SimBox("box-1", str(tmp_path / "by-id-box-1"), seed=3, hold_ms=2).start()
    systemd = FakeSystemd(str(notify_dir / "notify"))
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_dir / "notify"), "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(_service_cmd(name, broker, tmp_path), env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            systemd.wait_for("READY", 30)
            for _ in range(3):
                systemd.wait_for("WATCHDOG", 5)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{log.read_text(errors='replace')[-3000:]}") from None
        proc.terminate()
        assert systemd.wait_for("STOPPING", 15)["STOPPING"] == "1"
    finally:
        stop_process(proc)
        systemd.close()
        if box is not None:
            box.stop()
