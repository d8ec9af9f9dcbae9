"""Next pressed -> display snapshot received, through a real Mosquitto and
the real core process, beside the bare broker QoS 1 round trip measured in the
same run; the core's RSS and start-up time; broker restart -> fresh snapshot.
``--phone`` runs the centre with the citizens' phone page on ([phone]).

The core prints every ticket, as in a centre, to a printer simulator held
by this script on a pty (the serial path a real printer uses); the calls
start once every ticket has printed, as a printer never prints 2,400
tickets at once.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _util import ROOT, bench_site, emit, percentile, rss_mb

from kiosk import config, contract
from kiosk.broker import Broker, users_for
from kiosk.printing.sim import PrinterSimulator

CALLS = 1200


class Client:
    def __init__(self, broker, user, prefix, topics=()):
        self.msgs: list[tuple[float, str, bytes]] = []
        self.cond = threading.Condition()
        self.ready = threading.Event()
        # One client per login: the broker takes the login as the client id.
        self.c = contract.mqtt_client(user, username=user,
                                      password=broker.password(user), prefix=prefix)

        def on_connect(c, u, f, rc, p=None):
            for t in topics:
                c.subscribe(t, 1)
            self.ready.set()

        def on_message(c, u, m):
            with self.cond:
                self.msgs.append((time.perf_counter(), m.topic, m.payload))
                self.cond.notify_all()
        self.c.on_connect, self.c.on_message = on_connect, on_message
        self.c.connect_async(broker.host, broker.port, 10)
        self.c.loop_start()
        self.ready.wait(5)
        time.sleep(0.2)

    def wait(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (t, topic, payload) in enumerate(self.msgs):
                    if pred(topic, payload):
                        del self.msgs[: i + 1]
                        return t, payload
                self.msgs.clear()
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("no message")

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def main() -> int:
    # --phone: the centre has the citizens' phone page, so the core also
    # builds and publishes queue/tickets (the day's every ticket) after changes.
    phone = "--phone" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        site_path = bench_site(tmp)
        if phone:
            with open(site_path, "a", encoding="utf-8") as f:
                f.write(f'\n[phone]\npublic_url = "http://127.0.0.1:8090"\nsecret_file = "{tmp / "phone.key"}"\n')
        cfg = config.load(site_path)
        topics = contract.Topics(cfg.topic_prefix)
        # Two displays (the watcher and the late joiner overlap) and two
        # bench-only superusers (the echo and the control client).
        broker = Broker(tmp / "broker", cfg, users=users_for(cfg, displays=2),
                        superusers=["bench-1", "bench-2"]).start()
        printer = PrinterSimulator(tmp / "paper", save_png=False).start()
        log = open(tmp / "core.log", "wb")
        t_start = time.perf_counter()
        core = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "core", "--config", str(site_path), "--db",
             str(tmp / "p.db"), "--mqtt-port", str(broker.port), "--mqtt-password-file",
             str(broker.password_file("core")), "--log-level", "WARNING",
             "--printer", f"serial:{printer.path}@115200"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            # Ready = the first retained snapshot is on the broker.
            watch = Client(broker, "display-1", cfg.topic_prefix, [topics.display_snapshot])
            watch.wait(lambda t, p: True, timeout=20)
            ready_s = time.perf_counter() - t_start

            # The broker alone: QoS 1 publish -> own subscription.
            echo = Client(broker, "bench-1", cfg.topic_prefix, [f"{cfg.topic_prefix}/bench/echo"])
            rtt = []
            for i in range(1000):
                t0 = time.perf_counter()
                echo.c.publish(f"{cfg.topic_prefix}/bench/echo", str(i).encode(), qos=1)
                t1, _ = echo.wait(lambda t, p, i=i: p == str(i).encode())
                rtt.append((t1 - t0) * 1000)

            # Enough tickets for every call.
            ctl = Client(broker, "bench-2", cfg.topic_prefix, [topics.core_reply])
            for i in range(2 * CALLS):
                ctl.c.publish(topics.core_command, contract.encode(
                    {"command_id": f"i{i}", "action": "issue",
                     "field": cfg.fields[i % len(cfg.fields)].code}), qos=1)
            ctl.wait(lambda t, p: json.loads(p).get("command_id") == f"i{2 * CALLS - 1}", timeout=60)
            printer.wait_jobs(2 * CALLS, timeout=300)

            # Next -> snapshot at a separate subscriber.  The snapshots the
            # issues published are dropped first: the first call's wait would
            # else decode them all (0.46 s in one run) and count it as latency.
            with watch.cond:
                watch.msgs.clear()
            lat = []
            seq = None
            counters = [c.number for c in cfg.counters]
            for i in range(CALLS):
                n = counters[i % len(counters)]
                t0 = time.perf_counter()
                ctl.c.publish(topics.counter_command(n), contract.encode(
                    {"command_id": f"n{i}", "action": "next"}), qos=1)
                t1, payload = watch.wait(
                    lambda t, p, seq=seq: json.loads(p)["call_seq"] != seq
                    and json.loads(p)["call_seq"] > 0, timeout=10)
                seq = json.loads(payload)["call_seq"]
                lat.append((t1 - t0) * 1000)
            core_rss = rss_mb(core.pid)

            # Broker restart -> a subscriber that joins sees fresh state.
            restarts = []
            for _ in range(5):
                broker.restart()
                t0 = time.perf_counter()
                wall0 = time.time()
                late = Client(broker, "display-2", cfg.topic_prefix, [topics.display_snapshot])
                t1, _ = late.wait(lambda t, p: json.loads(p)["updated_at"] >= wall0, timeout=10)
                restarts.append((t1 - t0) * 1000)
                late.close()
            for c in (watch, echo, ctl):
                c.close()
        finally:
            core.terminate()
            core.wait(10)
            broker.stop()
            printer.close()
    if len(lat) < 1000:
        print("could not measure", file=sys.stderr)
        return 1
    emit({"calls": len(lat),
          "next_to_display_p50_ms": round(percentile(lat, 50), 3),
          "next_to_display_p99_ms": round(percentile(lat, 99), 3),
          "broker_rtt_p50_ms": round(percentile(rtt, 50), 3),
          "broker_rtt_p99_ms": round(percentile(rtt, 99), 3),
          "core_rss_mb": round(core_rss, 1),
          "core_ready_s": round(ready_s, 3),
          "broker_restart_to_fresh_snapshot_max_ms": round(max(restarts), 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
