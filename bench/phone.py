"""The phone page: how fast a phone gets its page, and whether a crowd of
phones slows the core's calls down.

Starts a real Mosquitto (the production logins), ``phucvu core`` (no
printer: the tickets are issued before anything is measured), a
display-like subscriber (login display-1, on ``display/snapshot``) and
``phucvu phone`` as their own processes, on the demo site with [phone] on.

- Page load: GET the ticket's page, then its ``/state``, each on a new
  connection as a phone that just scanned the QR (the page's script and
  stylesheet are cached after the first visit and not counted); 200 loads,
  each from another loopback address (127.0.1.x), as 200 phones.
- Call → display: a counter's ``next`` published (as the console does) to
  the new ``display/snapshot`` at the subscriber: CALLS calls quiet, then
  CALLS while 100 phones each hold the page's live stream open and ask for
  its state every second (bench/_phone_flood.py, its own process), ROUNDS
  times over, so the rest of the machine's load falls on both alike.
  Each phone comes from its own loopback address (127.0.0.2 … 127.0.0.101):
  from one address the per-client limit (60 requests a minute, 4 streams)
  would refuse most of them, and the point is 100 phones, not one abuser.

Prints name=value lines; exits 2 when it could not measure.
"""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import tomli_w
from _procs import CannotMeasure, Proc, could_not_measure
from _util import ROOT, bench_site, emit, percentile

from kiosk import config, contract
from kiosk.broker import Broker, free_port, users_for
from kiosk.phone import token

CALLS = 100          # per round, quiet and flooded
ROUNDS = 3           # quiet, flood, quiet, flood…: the machine's other load hits both alike
LOADS = 200
PHONES = 100


class Watch:
    """A paho client that keeps (arrival time, topic, body) of what it receives."""

    def __init__(self, broker: Broker, user: str, prefix: str, topics: list[str]):
        self.msgs: list[tuple[float, str, dict]] = []
        self.cond = threading.Condition()
        ready = threading.Event()
        self.c = contract.mqtt_client(user, username=user, password=broker.password(user), prefix=prefix)

        def on_connect(c, u, f, rc, p=None):
            for t in topics:
                c.subscribe(t, 1)
            ready.set()

        def on_message(c, u, m):
            t = time.perf_counter()
            try:
                body = json.loads(m.payload)
            except ValueError:
                return
            with self.cond:
                self.msgs.append((t, m.topic, body))
                self.cond.notify_all()
        self.c.on_connect, self.c.on_message = on_connect, on_message
        self.c.connect_async(broker.host, broker.port, 10)
        self.c.loop_start()
        if not ready.wait(10):
            raise CannotMeasure(f"{user} could not connect to the broker")
        time.sleep(0.2)

    def wait(self, pred, timeout: float = 10.0) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (t, topic, body) in enumerate(self.msgs):
                    if pred(topic, body):
                        del self.msgs[: i + 1]
                        return t, body
                self.msgs.clear()
                left = deadline - time.monotonic()
                if left <= 0 or not self.cond.wait(left):
                    raise CannotMeasure("no matching message within the time-out")

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def phone_site(tmp: Path) -> tuple[Path, int]:
    path = bench_site(tmp)
    raw = tomllib.loads(path.read_text())
    port = free_port()
    raw["phone"] = {"public_url": f"http://127.0.0.1:{port}", "host": "127.0.0.1", "port": port,
                    "secret_file": str(tmp / "phone.key")}
    path.write_text(tomli_w.dumps(raw))
    return path, port


def get(port: int, path: str, source: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise CannotMeasure(f"GET {path} from {source}: {r.status}")
        return body
    finally:
        conn.close()


def calls(ctl: Watch, watch: Watch, topics: contract.Topics, counters: list[int], tag: str) -> list[float]:
    """CALLS nexts round the counters; each one's publish → its snapshot, in ms."""
    lat: list[float] = []
    seq = None
    for i in range(CALLS):
        n = counters[i % len(counters)]
        t0 = time.perf_counter()
        ctl.c.publish(topics.counter_command(n), contract.encode(
            {"command_id": f"{tag}{i}", "action": "next"}), qos=1)
        t1, snap = watch.wait(lambda t, b, seq=seq: t.endswith("/display/snapshot")
                              and b.get("call_seq") != seq and b.get("call_seq", 0) > 0)
        seq = snap["call_seq"]
        lat.append((t1 - t0) * 1000)
    return lat


def run(tmp: Path) -> dict[str, float]:
    site_path, port = phone_site(tmp)
    cfg = config.load(site_path)
    topics = contract.Topics(cfg.topic_prefix)
    broker = Broker(tmp / "broker", cfg, users=users_for(cfg), superusers=["bench-1"]).start()
    core = Proc("core", [sys.executable, "-m", "kiosk.cli", "core", "--config", str(site_path), "--db",
                         str(tmp / "p.db"), "--mqtt-port", str(broker.port), "--mqtt-password-file",
                         str(broker.password_file("core")), "--printer", "none"],
                tmp / "core.log", b"core ready")
    phone = Proc("phone", [sys.executable, "-m", "kiosk.cli", "phone", "--config", str(site_path),
                           "--mqtt-port", str(broker.port), "--mqtt-password-file",
                           str(broker.password_file("phone")), "--log-level", "WARNING"],
                 tmp / "phone.log", port)
    flood = None
    watchers: list[Watch] = []
    try:
        core.start()
        watch = Watch(broker, "display-1", cfg.topic_prefix, [topics.display_snapshot])
        watchers.append(watch)
        watch.wait(lambda t, b: True, timeout=30)
        phone.start()
        ctl = Watch(broker, "bench-1", cfg.topic_prefix, [topics.core_reply, f"{cfg.topic_prefix}/queue/tickets"])
        watchers.append(ctl)
        # Tickets for every call and every phone, spread over the fields.
        total = 2 * CALLS * ROUNDS + PHONES + LOADS
        fields = [f.code for f in cfg.fields]
        for i in range(total):
            ctl.c.publish(topics.core_command, contract.encode(
                {"command_id": f"i{i}", "action": "issue", "field": fields[i % len(fields)]}), qos=1)
        ids: list[str] = []
        for i in range(total):
            _, reply = ctl.wait(lambda t, b, i=i: t.endswith("/core/reply") and b.get("command_id") == f"i{i}",
                                timeout=60)
            if not reply.get("ok"):
                raise CannotMeasure(f"the core refused a ticket: {reply.get('error')}")
            ids.append(reply["ticket"]["ticket_id"])
        secret = token.load_or_create(cfg.phone.secret_file)
        paths = [f"/t/{tid}/{token.make(secret, tid)}" for tid in ids]
        # The page's server has the core's list with the last ticket in it.
        deadline = time.monotonic() + 20
        while json.loads(get(port, paths[-1] + "/state", "127.0.2.1"))["status"] != "waiting":
            if time.monotonic() > deadline:
                raise CannotMeasure("the phone page never showed the tickets (queue/tickets)")
            time.sleep(0.2)

        loads = []
        for i in range(LOADS):
            src = f"127.0.1.{i % 250 + 1}"
            t0 = time.perf_counter()
            page = get(port, paths[-1 - i], src)
            state = json.loads(get(port, paths[-1 - i] + "/state", src))
            loads.append((time.perf_counter() - t0) * 1000)
            if b"phone.js" not in page or state.get("status") != "waiting":
                raise CannotMeasure(f"load {i}: not the ticket's page and state ({state.get('status')})")

        counters = [c.number for c in cfg.counters]
        # The crowd: the phones of the tickets issued last (still waiting
        # while the calls take the earlier ones).
        crowd = tmp / "crowd.txt"
        crowd.write_text("\n".join(paths[-PHONES:]) + "\n")
        flood = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_phone_flood.py"), str(port),
                                  str(crowd)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def tell(command: str, answer: str) -> None:
            flood.stdin.write(command + "\n")
            flood.stdin.flush()
            if flood.stdout.readline().strip() != answer:
                raise CannotMeasure(f"the crowd of phones did not answer {command!r}")
        quiet: list[float] = []
        flooded: list[float] = []
        for r in range(ROUNDS):
            quiet += calls(ctl, watch, topics, counters, f"q{r}-")
            tell("go", "ready")
            time.sleep(2)             # every phone has polled at least once
            flooded += calls(ctl, watch, topics, counters, f"f{r}-")
            tell("stop", "stopped")
        flood.stdin.write("quit\n")
        flood.stdin.flush()
        crowd_counts = json.loads(flood.stdout.readline())
        flood.wait(10)
        flood = None
    finally:
        if flood is not None:
            flood.kill()
        for w in watchers:
            w.close()
        phone.stop()
        core.stop()
        broker.stop()
    if crowd_counts["refused"] or crowd_counts["stream_errors"] or crowd_counts["poll_errors"] \
            or crowd_counts["polls"] < PHONES * ROUNDS:
        raise CannotMeasure(f"the crowd was not served as 100 phones: {crowd_counts}")
    q99, f99 = percentile(quiet, 99), percentile(flooded, 99)
    return {"phone_page_load_p50_ms": round(percentile(loads, 50), 3),
            "phone_page_load_p99_ms": round(percentile(loads, 99), 3),
            "call_to_display_p50_ms_quiet": round(percentile(quiet, 50), 3),
            "call_to_display_p99_ms_quiet": round(q99, 3),
            "call_to_display_p50_ms_flood": round(percentile(flooded, 50), 3),
            "call_to_display_p99_ms_flood": round(f99, 3),
            "call_to_display_flood_ratio": round(f99 / q99, 3),
            "flood_phones": PHONES,
            "flood_state_polls": crowd_counts["polls"],
            "flood_stream_events": crowd_counts["events"]}


def main() -> int:
    try:
        with tempfile.TemporaryDirectory() as d:
            figures = run(Path(d))
    except BaseException as e:          # noqa: BLE001  (one line, exit 2)
        return could_not_measure(e)
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
