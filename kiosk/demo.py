"""The demo: the whole appliance on one machine, with simulated hardware.

Starts a real Mosquitto (generated logins and ACLs) and the core as its own
process, then shows a live view of the queue in the terminal while simulated
citizens take tickets and simulated counters call them.  Everything it makes
(database, broker files, logs, tickets) lands in one visible folder.
"""
from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from kiosk import contract
from kiosk.broker import Broker, free_port
from kiosk.config import SiteConfig


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Children:
    """Processes the demo started; all stopped together."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], log: Path) -> subprocess.Popen:
        f = open(log, "ab")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append((name, p))
        return p

    def check(self) -> str | None:
        for name, p in self.procs:
            if p.poll() is not None:
                return f"{name} exited with {p.returncode}"
        return None

    def stop(self) -> None:
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for _, p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise SystemExit(f"demo: a part failed to start; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise SystemExit(f"demo: timed out waiting for {text!r} in {log}")


def render(snapshot: dict, cfg: SiteConfig) -> str:
    lines = [f"{snapshot['commune']} — {snapshot['centre']}",
             f"Ngày {snapshot['day']}   lượt gọi #{snapshot['call_seq']}", ""]
    lines.append(f"{'Quầy':<10}{'Trạng thái':<12}{'Đang phục vụ':<14}Lĩnh vực")
    for c in snapshot["counters"]:
        lines.append(f"{c['name']:<10}{c['status']:<12}{c['current'] or '-':<14}{c['field_name_vi'] or ''}")
    lines += ["", f"{'Lĩnh vực':<28}{'Đang chờ':>9}{'Chờ (phút)':>12}"]
    for w in snapshot["waiting"]:
        lines.append(f"{w['prefix']} {w['name_vi']:<26}{w['waiting']:>9}{w['estimated_wait_min']:>12g}")
    lines += ["", "Gọi gần đây: " + ", ".join(
        f"{c['label']}→{c['counter_name']}{' (gọi lại)' if c['recall'] else ''}"
        for c in snapshot["last_calls"][:6])]
    return "\n".join(lines)


class Traffic(threading.Thread):
    """Simulated citizens and counters, speaking the contract like real parts."""

    def __init__(self, client, topics: contract.Topics, cfg: SiteConfig, stop: threading.Event):
        super().__init__(daemon=True)
        self.client, self.topics, self.cfg, self.stop_event = client, topics, cfg, stop
        self.rng = random.Random()

    def run(self) -> None:
        fields = [f.code for f in self.cfg.fields]
        classes = [p.code for p in self.cfg.priority.classes]
        while not self.stop_event.wait(self.rng.uniform(1.5, 3.5)):
            if self.rng.random() < 0.65:
                body = {"command_id": f"demo-{uuid.uuid4().hex[:10]}", "action": "issue",
                        "field": self.rng.choice(fields), "source": "demo",
                        "priority": self.rng.choice(classes) if self.rng.random() < 0.15 else None}
                self.client.publish(self.topics.core_command, contract.encode(body), qos=1)
            else:
                n = self.rng.choice(self.cfg.counters).number
                action = self.rng.choices(["next", "recall", "no_show", "finish"], [8, 1, 1, 2])[0]
                body = {"command_id": f"demo-{uuid.uuid4().hex[:10]}", "action": action,
                        "source": "demo"}
                self.client.publish(self.topics.counter_command(n), contract.encode(body), qos=1)


def run(cfg: SiteConfig, config_path: str, data: Path, *, seconds: float | None,
        traffic: bool) -> None:
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    port = cfg.mqtt.port if _port_free(cfg.mqtt.port) else free_port()
    broker = Broker(data / "broker", cfg, port=port)
    broker.start()
    children = Children()
    stop = threading.Event()
    py = sys.executable
    core_log = data / "core.log"
    core_log.write_text("")
    pw = broker.password_file
    try:
        core = children.start("core", [py, "-m", "kiosk.cli", "core", "--config", config_path,
                                       "--db", str(data / "phucvu.db"), "--mqtt-port", str(port),
                                       "--mqtt-password-file", str(pw("core")),
                                       "--printer", f"sim:{data / 'tickets'}"], core_log)
        _wait_for_line(core_log, "core ready", core, 20)
        prefix = cfg.topic_prefix
        print(f"phucvu demo: {cfg.site.centre}")
        print(f"  folder     {data}")
        print(f"  broker     127.0.0.1:{port} (logins in {data / 'broker' / 'secrets'})")
        print(f"  core log   {core_log}")
        print(f"  tickets    {data / 'tickets'} (each ticket as .bin and .png)")
        print("  watch the bus:")
        print(f"    mosquitto_sub -h 127.0.0.1 -p {port} -u console -P \"$(cat {pw('console')})\" "
              f"-t '{prefix}/#' -v")
        print("  drive it from another terminal:")
        print(f"    .venv/bin/phucvu issue tu-phap --config {config_path} --db {data / 'phucvu.db'} "
              f"--mqtt-port {port} --mqtt-password-file {pw('core')}")
        print(f"    .venv/bin/phucvu counter 1 next --config {config_path} --db {data / 'phucvu.db'} "
              f"--mqtt-port {port} --mqtt-password-file {pw('core')}")
        print("  Ctrl-C stops everything.\n", flush=True)

        topics = contract.Topics(prefix)
        latest: dict = {}
        changed = threading.Event()

        def on_connect(client, userdata, flags, rc, props=None):
            if not rc.is_failure:
                client.subscribe(topics.display_snapshot, 1)

        def on_message(client, userdata, msg):
            try:
                body = json.loads(msg.payload)
            except ValueError:
                return
            if body.get("call_seq") != latest.get("call_seq") or \
                    body.get("waiting") != latest.get("waiting") or \
                    body.get("counters") != latest.get("counters"):
                latest.clear()
                latest.update(body)
                changed.set()

        watcher = contract.mqtt_client(f"demo-view-{uuid.uuid4().hex[:6]}", username="core",
                                       password=broker.password("core"), prefix=prefix)
        watcher.on_connect, watcher.on_message = on_connect, on_message
        watcher.connect_async("127.0.0.1", port, cfg.mqtt.keepalive)
        watcher.loop_start()
        if traffic:
            Traffic(watcher, topics, cfg, stop).start()
        tty = sys.stdout.isatty()
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            problem = children.check()
            if problem:
                raise SystemExit(f"demo: {problem}; see the logs in {data}")
            if changed.wait(0.5):
                changed.clear()
                view = render(dict(latest), cfg)
                print(("\033[H\033[J" if tty else "\n") + view, flush=True)
        stop.set()
        watcher.loop_stop()
        watcher.disconnect()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        children.stop()
        broker.stop()
        print(f"\ndemo stopped; everything it made is in {data}")
