"""Shared fixtures: the demo site, a real Mosquitto, a real core process.

Everything here is real: the broker is Debian's mosquitto on a free loopback
port with passwords and ACLs, the core is ``phucvu core`` in its own process
on a real SQLite file.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "deploy" / "demo-site.toml"

# Kivy reads these at import time; tests must not write ~/.kivy or parse argv.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")


@pytest.fixture(scope="session", autouse=True)
def _kivy_home(tmp_path_factory):
    os.environ.setdefault("KIVY_HOME", str(tmp_path_factory.mktemp("kivy-home")))


@pytest.fixture
def site():
    from kiosk import config
    return config.load(DEMO_SITE)


# Test-only superuser logins (read and write the whole prefix), never in a
# production config.  The broker takes the login as the client id, so each
# test client needs a login of its own: ``bus("tester")`` hands out the next.
TESTERS = [f"tester-{i}" for i in range(1, 7)]


@pytest.fixture
def broker(tmp_path, site):
    """A running Mosquitto with one login per role; ``broker.password(user)``."""
    from kiosk.broker import Broker
    b = Broker(tmp_path / "broker", site, superusers=TESTERS).start()
    yield b
    b.stop()


class Bus:
    """A test-side MQTT client that records what it receives."""

    def __init__(self, broker, user: str, prefix: str, client_id: str | None = None):
        from kiosk import contract
        self.prefix = prefix
        self.topics = contract.Topics(prefix)
        self.messages: list[tuple[str, bytes, bool]] = []
        self.cond = threading.Condition()
        self.subscriptions: list[str] = []
        self.user = user
        self.closed = False
        self.client = contract.mqtt_client(client_id or f"test-{uuid.uuid4().hex[:8]}",
                                           username=user, password=broker.password(user),
                                           prefix=prefix)
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async(broker.host, broker.port, 10)
        self.client.loop_start()
        if not self.connected.wait(5):
            raise RuntimeError(f"test client {user} could not connect")

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if not rc.is_failure:
            for t in self.subscriptions:
                client.subscribe(t, 1)
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, msg.payload, msg.retain))
            self.cond.notify_all()

    def subscribe(self, *topics: str) -> None:
        for t in topics:
            full = f"{self.prefix}/{t}"
            self.subscriptions.append(full)
            self.client.subscribe(full, 1)

    def publish(self, rel: str, payload, retain: bool = False):
        if isinstance(payload, dict):
            payload = json.dumps(payload, ensure_ascii=False).encode()
        info = self.client.publish(f"{self.prefix}/{rel}", payload, qos=1, retain=retain)
        info.wait_for_publish(5)
        return info

    def wait_for(self, predicate, timeout: float = 5.0):
        """The first message (topic, json) for which predicate is true."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for topic, payload, _ in self.messages[seen:]:
                    try:
                        body = json.loads(payload)
                    except ValueError:
                        body = None
                    if predicate(topic.removeprefix(self.prefix + "/"), body):
                        return body
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching message; got: " + ", ".join(
                        t for t, _, _ in self.messages[-10:]))
                self.cond.wait(left)

    def close(self):
        self.closed = True
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def bus(broker, site):
    """Make test clients: ``bus("display-1")`` logs in as that user,
    ``bus("tester")`` as the next unused test superuser (tester-1, tester-2, ...).

    One client per login: the broker uses the login as the client id, so a
    second client with the same login would cut the first off (and a client
    with the login of a running core, bridge or kiosk would cut that off).
    """
    made: list[Bus] = []

    def make(user: str = "tester", client_id: str | None = None) -> Bus:
        taken = {b.user for b in made if not b.closed}
        if user == "tester":
            free = [t for t in TESTERS if t not in taken]
            if not free:
                raise RuntimeError(f"all {len(TESTERS)} tester logins are in use; add more to TESTERS")
            user = free[0]
        elif user in taken:
            raise RuntimeError(f"a test client already uses the login {user!r}; "
                               "a second one would disconnect it")
        b = Bus(broker, user, site.topic_prefix, client_id)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def connack(broker, user: str | None = None, password: str | None = None, timeout: float = 5.0):
    """The broker's answer (paho's reason code) to one connection attempt:
    anonymous without ``user``; fails the test when none comes."""
    import paho.mqtt.client as mqtt
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{user or 'anon'}",
                    protocol=mqtt.MQTTv311)
    if user is not None:
        c.username_pw_set(user, password)
    codes = []
    c.on_connect = lambda cl, u, f, rc, p=None: codes.append(rc)
    c.connect(broker.host, broker.port)
    deadline = time.monotonic() + timeout
    while not codes and time.monotonic() < deadline:
        c.loop(0.1)
    c.disconnect()
    assert codes, f"no CONNACK for {user or 'an anonymous client'}"
    return codes[0]


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM (a clean stop says offline), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CoreProcess:
    """``phucvu core`` in a subprocess against the test broker."""

    # How Python runs it: a test may run the same command through a wrapper
    # that cuts it off at a chosen moment (tests/test_core_cut.py).
    entry = ["-m", "kiosk.cli"]

    def __init__(self, broker, db: Path, extra: list[str] | None = None):
        self.broker = broker
        self.db = db
        # Tickets go to a simulated printer inside the core, next to the db,
        # unless the test passes its own --printer.
        self.tickets = db.parent / "tickets"
        self.extra = extra or []
        if "--printer" not in self.extra:
            self.extra += ["--printer", f"sim:{self.tickets}"]
        self.proc: subprocess.Popen | None = None
        self.log = db.with_suffix(".core.log")
        # The core rewrites its site file when a test changes the config
        # (config_apply): it runs on a copy, never on deploy/demo-site.toml.
        # A test's own --config in ``extra`` comes later and wins.
        self.site = db.parent / "site.toml"
        if not self.site.exists():
            shutil.copyfile(DEMO_SITE, self.site)

    def start(self, ready_timeout: float = 15.0) -> "CoreProcess":
        cmd = [sys.executable, *self.entry, "core", "--config", str(self.site),
               "--db", str(self.db), "--mqtt-port", str(self.broker.port),
               "--mqtt-password-file", str(self.broker.password_file("core")), *self.extra]
        self.logf = open(self.log, "ab")
        # A restarted core appends to the same log: only a line written by
        # this start counts as ready.
        offset = self.logf.tell()
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"core exited {self.proc.returncode}: {self.log.read_text()}")
            if b"core ready" in self.log.read_bytes()[offset:]:
                return self
            time.sleep(0.05)
        # Never leave a half-started core running behind a failed test.
        self.stop()
        raise RuntimeError(f"core not ready: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
        self.proc = None
        if hasattr(self, "logf"):
            self.logf.close()


@pytest.fixture
def core(broker, tmp_path):
    """A running core on a fresh database; ``core.db`` is its SQLite file."""
    c = CoreProcess(broker, tmp_path / "phucvu.db").start()
    yield c
    c.stop()


# The files that take longest, first.  pytest-xdist's ``--dist loadfile``
# hands files out in collection order, and the alphabet put the browser and
# wizard files (80 s each) last, so one worker ran on alone at the end while
# the others waited.  Per-file seconds of `pytest --durations=0`, 2026-12-03;
# a file not named keeps its place after these.
LONGEST_FIRST = (
    "test_display_fit.py", "test_kiosk_fit.py", "test_web.py", "test_phone_page.py",
    "test_wizard.py", "test_web_admin.py", "test_bridge_faults.py", "test_config_live.py",
    "test_day.py", "test_phone_core.py", "test_kiosk_ui.py", "test_install_debootstrap.py",
    "test_web_screens.py", "test_bridge.py", "test_bus.py", "test_web_cases.py",
    "test_cli.py", "test_yardstick.py", "test_store_crash.py", "test_db_files.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))   # stable: a file's order kept
