"""Kiosk figures: touch -> ticket bytes at the printer, touch -> reply on screen; RSS.

Runs the real kiosk UI in this process (Kivy, offscreen with llvmpipe when
there is no screen), a real Mosquitto with the project's users and ACLs, the
real core (``phucvu core``) in its own process, and the printer simulator on
a pty that the core prints to (``[printer] connection = "serial:<pty>"``).
Also printed: touch -> request handed to paho (the kiosk's own share) and
touch -> reply received (adds the broker and the core).
Each sample is a real touch on a field tile (Kivy's UnitTestTouch), made
after the home screen has run for ``--settle`` seconds; the
clock starts just before the finger goes down and stops when the simulator
has received the whole job (up to the cut), stamped by a watcher thread.

    .venv/bin/python bench/kiosk.py [--touches 200] [--settle 0.1]

Prints name=value lines; exits non-zero if it could not measure.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import ROOT, bench_site, emit, percentile, rss_mb  # noqa: E402


class TestClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--touches", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=5.0, help="per touch, seconds")
    ap.add_argument("--settle", type=float, default=0.1,
                    help="seconds the kiosk runs on the home screen before each touch")
    args = ap.parse_args()
    if args.touches < 1:
        print("kiosk bench: --touches must be at least 1", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="phucvu-bench-kiosk-"))
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_HOME", str(tmp / "kivy"))

    # The kiosk process's own start-up (KIVY_IMAGE, glibc's heap), so the
    # RSS measured is the one the appliance runs.
    import kiosk.ui.app  # noqa: F401
    from kiosk import config as site_config
    from kiosk.broker import Broker
    from kiosk.printing.sim import PrinterSimulator

    sim = PrinterSimulator(tmp / "tickets", save_png=False).start()
    site_path = bench_site(tmp, quota=999)
    # The core prints to the simulator on its pty, the serial path of a real printer.
    raw = tomllib.loads(site_path.read_text())
    raw["printer"]["connection"] = f"serial:{sim.path}@115200"
    site_path.write_text(tomli_w.dumps(raw))
    cfg = site_config.load(site_path)
    broker = Broker(tmp / "broker", cfg).start()
    core_log = open(tmp / "core.log", "wb")
    core = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "core", "--config", str(site_path), "--db", str(tmp / "bench.db"),
         "--mqtt-port", str(broker.port), "--mqtt-password-file", str(broker.password_file("core")),
         "--log-level", "WARNING"], stdout=core_log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        return run(args, cfg, broker, sim, core, tmp)
    finally:
        core.terminate()
        try:
            core.wait(10)
        except subprocess.TimeoutExpired:
            core.kill()
        core_log.close()
        broker.stop()
        sim.close()


def run(args, cfg, broker, sim, core, tmp: Path) -> int:
    from kivy.config import Config
    Config.set("graphics", "width", "1920")
    Config.set("graphics", "height", "1080")
    from kivy.base import EventLoop
    from kivy.core.window import Window
    from kivy.tests.common import UnitTestTouch

    from kiosk.ui.root import KioskRoot
    from kiosk.ui.bus import KioskBus

    EventLoop.ensure_window()
    clock = TestClock()
    replies: dict[str, float] = {}

    def deliver(kind, payload):
        if kind == "reply":
            replies.setdefault(str(payload.get("request_id")), time.perf_counter())
        root.deliver(kind, payload)

    sends: dict[str, float] = {}

    def send(request):
        sends.setdefault(request["request_id"], time.perf_counter())
        bus.request(request)

    root = KioskRoot(cfg, send=send, client_id="kiosk-1", clock=clock)
    bus = KioskBus(cfg, client_id="kiosk-1", username="kiosk-1", password=broker.password("kiosk-1"),
                   on_message=deliver, on_link=root.set_link, host=broker.host, port=broker.port)
    Window.add_widget(root)
    bus.start()

    def pump_until(pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline or core.poll() is not None:
                return False
            EventLoop.idle()
        return True

    if not pump_until(lambda: root.link_up and root.summary is not None, 20):
        print(f"kiosk bench: no queue/summary from the core (core log: {tmp / 'core.log'})", file=sys.stderr)
        return 1

    job_times: list[float] = []
    stop = threading.Event()

    def watch_printer():
        # Stamp each finished job as soon as the simulator has it.
        while not stop.is_set():
            jobs = sim.wait_jobs(len(job_times) + 1, timeout=0.2)
            while len(job_times) < len(jobs):
                job_times.append(time.perf_counter())

    watcher = threading.Thread(target=watch_printer, daemon=True)
    watcher.start()

    fields = [f.code for f in cfg.fields]
    to_print: list[float] = []
    to_reply: list[float] = []
    to_send: list[float] = []
    printing_ok = True
    for i in range(args.touches):
        root.go_home()
        clock.now += 5                      # past the debounce of the previous touch
        # The kiosk runs on its own for a moment before the finger comes, as
        # it does when a citizen reads the screen: a touch in the same
        # millisecond as the screen change measured the software renderer
        # (llvmpipe) still drawing that screen on both cores, not the kiosk
        # (docs/performance.md, "What moved the figures").
        settle = time.monotonic() + args.settle
        EventLoop.idle()
        while time.monotonic() < settle:
            EventLoop.idle()
        tile = root.choices.tiles[fields[i % len(fields)]]
        x, y = tile.to_window(*tile.center)
        jobs_before = len(job_times)
        touch = UnitTestTouch(x, y)
        t0 = time.perf_counter()
        touch.touch_down()
        touch.touch_up()
        if not root.flow.pending:
            print(f"kiosk bench: touch {i} issued no request", file=sys.stderr)
            return 1
        request_id = root.flow.pending.request_id
        if not pump_until(lambda: request_id in replies and root.flow.pending is None, args.timeout):
            print(f"kiosk bench: no reply to touch {i} within {args.timeout} s", file=sys.stderr)
            return 1
        to_reply.append((replies[request_id] - t0) * 1000)
        to_send.append((sends[request_id] - t0) * 1000)
        if printing_ok:
            deadline = time.monotonic() + args.timeout
            while len(job_times) <= jobs_before and time.monotonic() < deadline:
                time.sleep(0.001)
            if len(job_times) > jobs_before:
                to_print.append((job_times[jobs_before] - t0) * 1000)
            else:
                printing_ok = False
    stop.set()
    figures = {
        "touches": args.touches,
        # The kiosk's own share: finger down -> request handed to paho.
        "touch_to_send_p50_ms": percentile(to_send, 50),
        "touch_to_send_p99_ms": percentile(to_send, 99),
        "touch_to_reply_p50_ms": percentile(to_reply, 50),
        "touch_to_reply_p99_ms": percentile(to_reply, 99),
    }
    if to_print:
        figures["touch_to_print_p50_ms"] = percentile(to_print, 50)
        figures["touch_to_print_p99_ms"] = percentile(to_print, 99)
        figures["printed"] = len(to_print)
    figures["kiosk_rss_mb"] = rss_mb()
    bus.stop()
    emit(figures)
    if not printing_ok:
        print("kiosk bench: no ticket reached the simulated printer; is printing wired into "
              f"`phucvu core` ([printer] connection)? core log: {tmp / 'core.log'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
