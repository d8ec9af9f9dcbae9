"""The demo: the whole appliance on one machine, with simulated hardware.

It writes the effective site config it runs with (``<data>/site.toml``),
starts a real Mosquitto (generated logins and ACLs), the core with a
simulated thermal printer, the bridge with simulated counter boxes on ptys,
the wall display and the kiosk (in windows when there is a screen; offscreen
with screenshots, and the voice as wav files, when there is none).  The
terminal shows the queue live; simulated citizens take tickets at a second
kiosk and simulated staff press keys on the boxes.  Type commands to act
yourself (``help``).  Everything lands in one visible folder.
"""
from __future__ import annotations

import json
import os
import random
import select
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import tomli_w

from kiosk import config as site_config
from kiosk import contract, lockfile, waitwords
from kiosk.broker import Broker, free_port, users_for

# The demo's read-only login for watching the whole bus (not a centre's login).
WATCH = "watch"

HELP = """commands (then Enter):
  t FIELD        take a ticket, e.g. "t tu-phap" (fields: {fields})
  N KEY          press a key on counter N's box: n=next r=recall x=no-show f=finish p=pause/resume
  N 1..{levels}         press a rating button on counter N's box (1 = {best})
  traffic on|off simulated citizens and staff
  help, quit"""


class DemoRunning(Exception):
    """Another demo uses this data folder; the message is one line for a person."""


def claim(data: Path) -> int:
    """Make this demo the only one using ``data``, before anything is written there.

    A second demo used to rewrite site.toml and the broker's files under the
    first one's feet (its printed ``phucvu counter …`` line then failed).  The
    lock is ``<data>/demo.lock`` (kiosk/lockfile.py: dropped when the demo
    dies, even by kill -9, so a crashed demo never blocks the next).
    Returns the descriptor to keep open for the demo's life.
    """
    data.mkdir(parents=True, exist_ok=True)
    try:
        return lockfile.hold(data / "demo.lock", f"pid {os.getpid()}")
    except lockfile.Held as e:
        raise DemoRunning(f"a demo already runs with {data} ({e.holder}); stop it (quit, or "
                          "Ctrl-C) or give this one another --data folder") from None


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
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        f = open(log, "ab")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env={**os.environ, **(env or {})})
        self.procs.append((name, p, log))
        return p

    def check(self) -> str | None:
        for name, p, log in self.procs:
            if p.poll() is not None:
                return f"{name} exited with {p.returncode}; last lines of {log}:\n" + \
                    "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        return None

    def stop(self) -> None:
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for _, p, _ in reversed(self.procs):
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


def effective_config(config_path: str, data: Path, port: int, *, speakers: bool) -> Path:
    """The site config with this demo's ports, folders and simulated devices."""
    raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    cfg = site_config.parse(raw, config_path)
    secrets = data / "broker" / "secrets"
    raw.setdefault("mqtt", {})["port"] = port
    web = raw.setdefault("web", {})
    web_port = web.get("port", 8080)
    web["port"] = web_port if _port_free(web_port) else free_port()
    # The citizen's phone page on this machine: each ticket's QR opens it.
    phone_port = 8090 if _port_free(8090) else free_port()
    raw["phone"] = {**raw.get("phone", {}), "public_url": f"http://127.0.0.1:{phone_port}",
                    "host": "127.0.0.1", "port": phone_port, "secret_file": str(data / "phone.key")}
    raw["store"] = {"path": str(data / "phucvu.db")}
    raw.setdefault("printer", {})["connection"] = f"sim:{data / 'tickets'}"
    raw["bridge"] = {
        "state_db": str(data / "bridge.db"),
        "devices": [{"counter": c.number, "port": str(data / "serial" / f"counter-{c.number}"),
                     "device_id": f"box-{c.number}",
                     "password_file": str(secrets / f"counter-{c.number}.password")}
                    for c in cfg.counters],
    }
    if not speakers:
        # No sound device: the voice is written as wav files to listen to later.
        raw.setdefault("announcer", {})["output_dir"] = str(data / "voice")
    path = data / "site.toml"
    path.write_text("# Written by `phucvu demo` from " + config_path + "; edit that file instead.\n"
                    + tomli_w.dumps(raw), encoding="utf-8")
    site_config.load(path)  # what we wrote must still be valid
    return path


def render(snapshot: dict, boxes: dict[int, Any]) -> str:
    lines = [f"{snapshot['commune']} — {snapshot['centre']}",
             f"Ngày {snapshot['day'] or '—'}   lượt gọi #{snapshot['call_seq']}", ""]
    lines.append(f"{'Quầy':<10}{'Trạng thái':<12}{'Đang phục vụ':<14}{'Hộp quầy':<12}Lĩnh vực")
    for c in snapshot["counters"]:
        box = boxes.get(c["number"])
        shown = box.display()[0].strip() if box and box.plugged else "-"
        lines.append(f"{c['name']:<10}{c['status']:<12}{c['current'] or '-':<14}{shown or '-':<12}"
                     f"{c['field_name_vi'] or ''}")
    # The wait as the wall says it (waitwords.short), last: "chờ quầy mở lại"
    # (no open counter for the field) is longer than a number.
    lines += ["", f"{'Lĩnh vực':<28}{'Đang chờ':>9}   Chờ ước tính"]
    for w in snapshot["waiting"]:
        wait = waitwords.plain(waitwords.short(w.get("estimated_wait_min"), w.get("wait_low_min"),
                                               w.get("wait_high_min")))
        lines.append(f"{w['prefix']} {w['name_vi']:<26}{w['waiting']:>9}   {wait}")
    lines += ["", "Gọi gần đây: " + ", ".join(
        f"{c['label']}→{c['counter_name']}{' (gọi lại)' if c['recall'] else ''}"
        for c in snapshot["last_calls"][:6])]
    return "\n".join(lines)


class Hall:
    """Simulated citizens (at kiosk-2) and staff (on the counter boxes)."""

    def __init__(self, client, topics: contract.Topics, cfg, boxes: dict[int, Any]):
        self.client, self.topics, self.cfg, self.boxes = client, topics, cfg, boxes
        self.rng = random.Random()
        self.traffic = threading.Event()
        self.stop = threading.Event()

    def take_ticket(self, field: str, priority: str | None = None) -> None:
        body = {"request_id": uuid.uuid4().hex[:12], "client": "kiosk-2", "field": field,
                "priority": priority}
        self.client.publish(self.topics.ticket_request("kiosk-2"), contract.encode(body), qos=1)

    def press(self, counter: int, key: str) -> str:
        box = self.boxes.get(counter)
        if box is None:
            return f"no box at counter {counter}"
        if key.isdigit():
            box.rate(int(key))
            return f"counter {counter}: rating {key}"
        names = {"n": "next", "r": "recall", "x": "no_show", "f": "finish", "p": "pause"}
        if key not in names:
            return f"unknown key {key!r}"
        box.press(names[key])
        return f"counter {counter}: {names[key]}"

    def run(self) -> None:
        fields = [f.code for f in self.cfg.fields]
        classes = [p.code for p in self.cfg.priority.classes]
        levels = len(self.cfg.rating.levels)
        while not self.stop.wait(self.rng.uniform(1.0, 2.5)):
            if not self.traffic.is_set():
                continue
            if self.rng.random() < 0.5:
                self.take_ticket(self.rng.choice(fields),
                                 self.rng.choice(classes) if self.rng.random() < 0.15 else None)
                continue
            n = self.rng.choice(list(self.boxes))
            key = self.rng.choices(["n", "f", "r", "x"], [8, 3, 1, 1])[0]
            self.press(n, key)
            if key in "nf" and self.rng.random() < 0.7:
                # The citizen rates (the rating rules decide what counts).
                time.sleep(0.3)
                self.press(n, str(self.rng.choices(range(1, levels + 1),
                                                   [6, 3] + [1] * (levels - 2))[0]))


# The demo's roster: one official per counter, a head and an admin, with
# PINs printed for the newcomer.  A real centre adds its own with
# 'phucvu official add' and has no default password.
DEMO_OFFICIALS = [
    ("ad01", "Trần Văn Quản", "admin", "246810"),
    ("td01", "Lê Thị Hoa", "head", "135790"),
    ("nv01", "Nguyễn Văn An", "staff", "1111"),
    ("nv02", "Phạm Thị Bình", "staff", "2222"),
    ("nv03", "Hoàng Văn Cường", "staff", "3333"),
    ("nv04", "Đỗ Thị Dung", "staff", "4444"),
]


def _staff_the_counters(cfg, broker: Broker, port: int) -> None:
    """Add the demo roster through the core and log one official in per counter."""
    from kiosk.core.auth import hash_pin
    topics = contract.Topics(cfg.topic_prefix)
    replies: dict[str, dict] = {}
    done = threading.Condition()

    def on_message(client, userdata, msg):
        body = json.loads(msg.payload)
        with done:
            replies[str(body.get("command_id"))] = body
            done.notify_all()

    # As an admin at the command line would: the `cli` login, never the core's.
    client = contract.mqtt_client("cli", username="cli", password=broker.password("cli"),
                                  prefix=cfg.topic_prefix)
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topics.core_reply, 1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect_async("127.0.0.1", port, cfg.mqtt.keepalive)
    client.loop_start()
    subscribed.wait(5)
    ids = []
    staff = [o for o in DEMO_OFFICIALS if o[2] == "staff"]
    bodies = [{"action": "official_add", "official": code, "name": name, "role": role,
               "pin_hash": hash_pin(pin)} for code, name, role, pin in DEMO_OFFICIALS]
    bodies += [{"action": "login", "official": code, "counter": c.number}
               for c, (code, *_rest) in zip(cfg.counters, staff)]
    for body in bodies:
        cid = f"demo-{uuid.uuid4().hex[:10]}"
        ids.append(cid)
        client.publish(topics.core_command, contract.encode({"command_id": cid, **body}), qos=1)
    with done:
        done.wait_for(lambda: all(i in replies for i in ids), timeout=10)
    client.loop_stop()
    client.disconnect()


def _speakers() -> bool:
    return Path("/dev/snd").is_dir() and any(Path("/dev/snd").glob("pcm*p"))


def run(cfg, config_path: str, data: Path, *, seconds: float | None, traffic: bool) -> None:
    from firmware_bridge.sim import SimBox

    data = data.resolve()
    lock = claim(data)
    (data / "serial").mkdir(exist_ok=True)
    port = cfg.mqtt.port if _port_free(cfg.mqtt.port) else free_port()
    speakers = _speakers()
    site_path = effective_config(config_path, data, port, speakers=speakers)
    cfg = site_config.load(site_path)
    # One login per client (the broker takes the login as client id): kiosk-2
    # for the simulated citizens, display-2 for this terminal's view, and a
    # read-only "watch" login for the mosquitto_sub line printed below.
    broker = Broker(data / "broker", cfg, port=port, users=users_for(cfg, kiosks=2, displays=2),
                    observers=[WATCH])
    broker.start()
    children = Children()
    boxes: dict[int, SimBox] = {}
    py = [sys.executable, "-m", "kiosk.cli"]
    pw = broker.password_file
    screen = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    shots = data / "screenshots"
    watcher = None
    hall = None
    try:
        logs = {name: data / f"{name}.log" for name in ("core", "bridge", "display", "kiosk", "web", "phone")}
        for log in logs.values():
            log.write_text("")
        core = children.start("core", py + ["core", "--config", str(site_path), "--mqtt-password-file",
                                            str(pw("core"))], logs["core"])
        _wait_for_line(logs["core"], "core ready", core, 20)
        _staff_the_counters(cfg, broker, port)
        for c in cfg.counters:
            boxes[c.number] = SimBox(f"box-{c.number}", str(data / "serial" / f"counter-{c.number}"),
                                     n_levels=len(cfg.rating.levels),
                                     flash_path=str(data / "serial" / f"box-{c.number}.flash")).start()
        children.start("bridge", py + ["bridge", "--config", str(site_path)], logs["bridge"])
        children.start("web", py + ["web", "--config", str(site_path), "--mqtt-password-file",
                                    str(pw("web"))], logs["web"])
        children.start("phone", py + ["phone", "--config", str(site_path), "--mqtt-password-file",
                                      str(pw("phone"))], logs["phone"])
        ui_env = {"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
                  "KIVY_HOME": str(data / "kivy-home")}
        display_cmd = py + ["display", "--config", str(site_path), "--mqtt-password-file",
                            str(pw("display-1"))]
        kiosk_cmd = py + ["kiosk", "--config", str(site_path), "--mqtt-password-file",
                          str(pw("kiosk-1"))]
        for cmd in (display_cmd, kiosk_cmd):
            cmd += ["--windowed"] if screen else ["--screenshots", str(shots)]
        children.start("display", display_cmd, logs["display"], ui_env)
        children.start("kiosk", kiosk_cmd, logs["kiosk"], ui_env)

        prefix = cfg.topic_prefix
        topics = contract.Topics(prefix)
        print(f"phucvu demo: {cfg.site.centre}")
        print(f"  folder       {data}")
        print(f"  site config  {site_path}")
        print(f"  broker       127.0.0.1:{port} (logins in {data / 'broker' / 'secrets'})")
        print(f"  tickets      {data / 'tickets'} (each printed ticket as .bin and .png)")
        print(f"  logs         {data}/core.log, bridge.log, display.log, kiosk.log, web.log, phone.log")
        web_url = f"http://{cfg.web.host}:{cfg.web.port}/"
        print(f"  console      {web_url} (staff console, head's dashboard, admin)")
        print(f"  phone page   {cfg.phone.public_url}/t/<ticket>/<token> (the QR on each ticket opens it)")
        print("  demo logins  " + ", ".join(f"{code}/{pin} ({role})" for code, _, role, pin in DEMO_OFFICIALS))
        if not screen:
            print(f"  no screen: kiosk and display render offscreen to {shots}")
        if not speakers:
            print(f"  no sound device: the voice is written to {data / 'voice'}")
        print("  watch the bus:")
        print(f"    mosquitto_sub -h 127.0.0.1 -p {port} -u {WATCH} -P \"$(cat {pw(WATCH)})\" "
              f"-t '{prefix}/#' -v")
        print("  drive it from another terminal:")
        print(f"    .venv/bin/phucvu counter 1 next --config {site_path} --mqtt-password-file {pw('cli')}")
        print("  or type here (help for the list); Ctrl-C stops everything.\n", flush=True)

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
            if any(body.get(k) != latest.get(k) for k in ("call_seq", "waiting", "counters")):
                latest.clear()
                latest.update(body)
                changed.set()

        # The simulated citizens' kiosk: kiosk-2 may request tickets and read the summary.
        watcher = contract.mqtt_client("kiosk-2", username="kiosk-2", password=broker.password("kiosk-2"),
                                       prefix=prefix, device="kiosk-2")
        view = contract.mqtt_client("display-2", username="display-2",
                                    password=broker.password("display-2"), prefix=prefix)
        view.on_connect, view.on_message = on_connect, on_message
        # Its presence follows its connection, as a real kiosk's does: online
        # on every connect, offline by its will or when the demo stops.  A
        # retained "offline" left by an earlier run would otherwise stand, and
        # the head's dashboard would show kiosk-2 lost while it issues tickets.
        watcher.on_connect = lambda c, u, f, rc, p=None: (
            None if rc.is_failure else contract.announce_online(c, prefix, "kiosk-2", time.time()))
        for c in (watcher, view):
            c.connect_async("127.0.0.1", port, cfg.mqtt.keepalive)
            c.loop_start()
        hall = Hall(watcher, topics, cfg, boxes)
        if traffic:
            hall.traffic.set()
        threading.Thread(target=hall.run, daemon=True).start()
        tty = sys.stdin.isatty()
        help_text = HELP.format(fields=", ".join(f.code for f in cfg.fields),
                                levels=len(cfg.rating.levels), best=cfg.rating.levels[0].name_vi)
        deadline = time.monotonic() + seconds if seconds else None
        note = ""
        while deadline is None or time.monotonic() < deadline:
            problem = children.check()
            if problem:
                raise SystemExit(f"demo: {problem}")
            if tty and select.select([sys.stdin], [], [], 0)[0]:
                note = _command(sys.stdin.readline().strip(), hall, help_text)
                if note == "quit":
                    break
                changed.set()
            if changed.wait(0.3):
                changed.clear()
                if latest:
                    print(("\033[H\033[J" if tty else "\n") + render(dict(latest), boxes)
                          + (f"\n\n> {note}" if note else "")
                          + ("\n(type help)" if tty else ""), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        if hall:
            hall.stop.set()
        if watcher is not None:
            try:
                watcher.publish(topics.presence("kiosk-2"),
                                contract.presence("kiosk-2", "offline", time.time()), qos=1,
                                retain=True).wait_for_publish(2)
            except (RuntimeError, ValueError):
                pass        # the broker is gone already: its will says offline
            watcher.loop_stop()
        for box in boxes.values():
            box.stop()
        children.stop()
        broker.stop()
        os.close(lock)
        print(f"\ndemo stopped; everything it made is in {data}")


def _command(line: str, hall: Hall, help_text: str) -> str:
    parts = line.split()
    if not parts:
        return ""
    if parts[0] in ("q", "quit", "exit"):
        return "quit"
    if parts[0] in ("h", "help", "?"):
        return help_text
    if parts[0] == "traffic" and len(parts) == 2:
        (hall.traffic.set if parts[1] == "on" else hall.traffic.clear)()
        return f"traffic {parts[1]}"
    if parts[0] == "t" and len(parts) >= 2:
        if parts[1] not in {f.code for f in hall.cfg.fields}:
            return f"no field {parts[1]!r}"
        hall.take_ticket(parts[1], parts[2] if len(parts) > 2 else None)
        return f"ticket requested for {parts[1]}"
    if parts[0].isdigit() and len(parts) == 2:
        return hall.press(int(parts[0]), parts[1])
    return f"? {line!r} (type help)"
