"""Counter box press -> core state change, over a pty paced at 115,200 baud.

Starts a real Mosquitto (kiosk.broker), a real core (``phucvu core`` in its
own process), the bridge in its own process and one simulated box whose
serial writes take real UART time.  Issues tickets, then presses Next and
times press -> retained ``counter/1/state`` showing the new number.  Then
rating presses back to back for the sustained events-per-second figure
(press accepted -> ACK back in the box, i.e. after the core committed it
and confirmed it on counter/1/reply).

Prints name=value lines; exits 1 when it could not measure.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from firmware_bridge.sim import SimBox  # noqa: E402
from kiosk import config as site_config  # noqa: E402
from kiosk.broker import Broker  # noqa: E402

DEMO = ROOT / "deploy" / "demo-site.toml"
PRESSES = int(os.environ.get("BENCH_PRESSES", "200"))
RATINGS = int(os.environ.get("BENCH_RATINGS", "2000"))
BAUD = 115200


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.002)
    raise RuntimeError(f"timed out: {what}")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    site = site_config.load(DEMO)
    broker = Broker(tmp / "broker", site).start()
    procs: list[subprocess.Popen] = []
    box = None
    try:
        core_log = tmp / "core.log"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "core", "--config", str(DEMO), "--db", str(tmp / "core.db"),
             "--mqtt-port", str(broker.port), "--mqtt-password-file", str(broker.password_file("core")),
             "--log-level", "INFO", "--printer", "none"],  # presses print nothing
            stdout=open(core_log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT))
        link = str(tmp / "by-id-box-1")
        box = SimBox("box-1", link, seed=1, hold_ms=1, baud=BAUD, step_s=0.0002).start()
        cfg = tmp / "site.toml"
        cfg.write_text(DEMO.read_text(encoding="utf-8").replace("port = 1883", f"port = {broker.port}")
                       + f'\n[bridge]\nstate_db = "{tmp / "bridge.db"}"\n[[bridge.devices]]\ncounter = 1\n'
                         f'port = "{link}"\nbaud = {BAUD}\n'
                         f'password_file = "{broker.password_file("counter-1")}"\n', encoding="utf-8")
        procs.append(subprocess.Popen([sys.executable, "-m", "firmware_bridge", "bridge", str(cfg)],
                                      stdout=open(tmp / "bridge.log", "ab"), stderr=subprocess.STDOUT, cwd=ROOT))

        cond = threading.Condition()
        seen: dict[str, object] = {"label": None, "at": 0.0, "replies": 0}
        prefix = site.topic_prefix

        def on_message(c, u, msg):
            now = time.perf_counter()
            body = json.loads(msg.payload)
            with cond:
                if msg.topic.endswith("/counter/1/state"):
                    seen["label"] = (body.get("current") or {}).get("label")
                    seen["at"] = now
                elif msg.topic.endswith("/core/reply"):
                    seen["replies"] += 1
                cond.notify_all()

        # The command line's login: the broker takes the login as client id,
        # so the core's own would knock the core off the bus.
        cli = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cli", protocol=mqtt.MQTTv311)
        cli.username_pw_set("cli", broker.password("cli"))
        cli.on_connect = lambda c, *a: c.subscribe([(f"{prefix}/counter/1/state", 1), (f"{prefix}/core/reply", 1)])
        cli.on_message = on_message
        cli.connect_async(broker.host, broker.port, 10)
        cli.loop_start()
        wait(lambda: b"core ready" in core_log.read_bytes(), 20, "core ready")
        for i in range(PRESSES + 5):
            field = "tu-phap" if i % 2 else "chung-thuc"
            cli.publish(f"{prefix}/core/command", json.dumps(
                {"command_id": f"bench-issue-{i}", "action": "issue", "field": field}), qos=1)
        wait(lambda: seen["replies"] >= PRESSES + 5, 60, "tickets issued")
        wait(lambda: box.pending() == 0 and box.fw.proto.host_alive(box.board.ticks_ms()), 20, "bridge up")

        lat = []
        for _ in range(PRESSES):
            with cond:
                before = seen["label"]
            t0 = time.perf_counter()
            box.press("next")
            with cond:
                if not cond.wait_for(lambda: seen["label"] != before and seen["label"], 5):
                    raise RuntimeError("no state change after a Next press")
                lat.append((seen["at"] - t0) * 1000)
            time.sleep(0.01)
        wait(lambda: box.pending() == 0, 10, "acks")

        t0 = time.perf_counter()
        made = 0
        while made < RATINGS:
            if box.backlog() >= 24:
                time.sleep(0.0005)
                continue
            box.rate(1 + made % 3)
            made += 1
        wait(lambda: box.backlog() == 0, 60, "ratings acked")
        rate = RATINGS / (time.perf_counter() - t0)
        cli.loop_stop()
        cli.disconnect()

        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"presses={len(lat)}")
        print(f"press_to_state_p50_ms={statistics.median(lat):.2f}")
        print(f"press_to_state_p99_ms={p99:.2f}")
        print(f"press_to_state_max_ms={lat[-1]:.2f}")
        print(f"events_per_s={rate:.0f}")
        print(f"baud={BAUD}")
        return 0
    except Exception as e:  # the bench must say why it could not measure
        print(f"error={e}", file=sys.stderr)
        return 1
    finally:
        if box is not None:
            box.stop()
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
