"""Wall display figures: call event -> number on screen, -> audio ready; RSS.

Starts a real Mosquitto and the real display (Kivy, offscreen with llvmpipe
when there is no screen, voice writing wavs) in its own process, then plays
the core: a retained snapshot, then call events spaced like a busy centre.
The display process reports, on the frame after the widget update, which
call it shows, and when each announcement's wav is ready; times are
CLOCK_MONOTONIC, which is shared by processes on one machine.

    .venv/bin/python bench/display.py [--calls 60] [--gap-ms 150]

Prints name=value lines; exits non-zero if it could not measure.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DRIVER = textwrap.dedent(r'''
    import json, sys, time
    # The unit starts the display as `phucvu display`: the command line's
    # imports are part of its memory.  The config as display.app.main loads
    # it: validated in a child, no pydantic here.
    import kiosk.cli  # noqa: F401
    from kiosk.config import checked
    from display import app as display_app, announcer as ann
    from display.bus import DisplayLink

    cfg_path, port, password_file, voice_dir = sys.argv[1:5]
    cfg = checked.load(cfg_path)
    password = open(password_file).read().strip()

    import threading
    lock = threading.Lock()

    def out(*parts):
        # The Kivy and announcer threads both report; keep lines whole.
        with lock:
            sys.stdout.write(" ".join(map(str, parts)) + "\n")
            sys.stdout.flush()

    voice = ann.from_config(cfg, output_dir=voice_dir,
                            on_ready=lambda job, path: out("audio", job.call_id, time.monotonic()))

    def connect(app):
        return DisplayLink(cfg, user="display-1", password=password, handler=app.feed, port=int(port)).start()

    app = display_app.build_app(cfg, width=1920, height=1080, connect=connect, announcer=voice)
    app.shown_listeners.append(lambda ids, t: [out("screen", i, t) for i in ids])
    from kivy.clock import Clock
    last = {"c1": None}

    def watch(_dt):
        rows = list(reversed(app.root.ids.counters.children))
        if rows and rows[0].current != last["c1"]:
            last["c1"] = rows[0].current
            out("c1", rows[0].current or "-", time.monotonic())

    Clock.schedule_interval(watch, 0)
    Clock.schedule_once(lambda _dt: out("ready", 0, time.monotonic()), 0.5)
    app.run()
''')


BASELINE = textwrap.dedent(r'''
    import os
    from display import app as display_app
    display_app.configure_window(1920, 1080, False)
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.label import Label

    class Empty(App):
        def build(self):
            Clock.schedule_once(self.done, 1.5)
            return Label(text="x")

        def done(self, _dt):
            rss = [l for l in open(f"/proc/{os.getpid()}/status") if l.startswith("VmRSS:")][0]
            print(int(rss.split()[1]) / 1024, flush=True)
            self.stop()

    Empty().run()
''')


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> int:
    ap = argparse.ArgumentParser(description="wall display latency and memory")
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--gap-ms", type=float, default=150)
    args = ap.parse_args()

    from kiosk import config, contract
    from kiosk.broker import Broker
    from display.screenshots import demo_messages

    site_path = ROOT / "deploy" / "demo-site.toml"
    cfg = config.load(site_path)
    work = Path(tempfile.mkdtemp(prefix="phucvu-bench-display-"))
    broker = Broker(work / "broker", cfg).start()
    events: dict[str, dict[str, float]] = {"screen": {}, "audio": {}}
    c1: list[tuple[str, float]] = []
    ready = threading.Event()
    proc = None
    try:
        # No core runs here: the bench speaks as the core, under its login.
        core = contract.mqtt_client("core", username="core", password=broker.password("core"),
                                    prefix=cfg.topic_prefix)
        connected = threading.Event()
        core.on_connect = lambda *a: connected.set()
        core.on_disconnect = lambda *a: connected.clear()
        core.connect_async(broker.host, broker.port, 10)
        core.loop_start()
        if not connected.wait(10):
            print("bench could not connect to its broker", file=sys.stderr)
            return 1
        topics = contract.Topics(cfg.topic_prefix)
        msgs = demo_messages(cfg)

        def pub(topic, body, retain=False):
            core.publish(topic, contract.encode(body), qos=1, retain=retain).wait_for_publish(5)

        pub(topics.presence("core"), {"device": "core", "status": "online"}, retain=True)
        pub(topics.display_snapshot, msgs["snapshot"], retain=True)

        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
                   KIVY_HOME=str(work / "kivy"), PYTHONPATH=str(ROOT))
        script = work / "driver.py"
        script.write_text(DRIVER)
        proc = subprocess.Popen([sys.executable, str(script), str(site_path), str(broker.port),
                                 str(broker.password_file("display-1")), str(work / "wavs")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=open(work / "driver.err", "wb"), text=True, cwd=ROOT, env=env)

        def read():
            for line in proc.stdout:
                parts = line.split()
                if len(parts) != 3:
                    continue
                kind, ident, t = parts
                try:
                    t = float(t)
                except ValueError:
                    continue
                if kind in events:
                    events[kind][ident] = t
                elif kind == "c1":
                    c1.append((ident, t))
                elif kind == "ready":
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            print(f"display did not start: {(work / 'driver.err').read_text()[-2000:]}", file=sys.stderr)
            return 1
        time.sleep(1.0)

        sent: dict[str, float] = {}
        base = msgs["call"]
        for i in range(args.calls):
            n = 100 + i
            counter = 1 + i % len(cfg.counters)
            label = f"{'ABCDE'[i % 5]}{n % 1000:03d}"
            call = dict(base, call_id=f"bench-{n}", call_seq=n, label=label, counter=counter,
                        counter_name=cfg.counter(counter).name, ticket_id=f"bench-{label}")
            sent[call["call_id"]] = time.monotonic()
            pub(topics.call_event, call)
            time.sleep(args.gap_ms / 1000)
        # Screen: every call.  Audio: until the announcer goes quiet (the
        # backlog rule may drop calls when synthesis falls behind).
        deadline = time.monotonic() + 30
        quiet_since, heard = time.monotonic(), -1
        while time.monotonic() < deadline:
            if len(events["audio"]) != heard:
                quiet_since, heard = time.monotonic(), len(events["audio"])
            if len(events["screen"]) >= len(sent) and (heard >= len(sent) or time.monotonic() - quiet_since > 3):
                break
            time.sleep(0.05)
        rss = rss_mb(proc.pid)

        # Broker restart: the core republishes; how soon is the display right?
        broker.stop()
        while connected.is_set():
            time.sleep(0.01)
        broker.start()
        up = time.monotonic()
        # Like the core: republish as soon as the broker takes us back.
        if not connected.wait(10):
            print("bench client did not reconnect after the broker restart", file=sys.stderr)
            return 1
        snap = json.loads(json.dumps(msgs["snapshot"]))
        snap["counters"][0]["current"] = "A999"
        info = core.publish(topics.display_snapshot, contract.encode(snap), qos=1, retain=True)
        info.wait_for_publish(10)
        restart_ms = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and restart_ms is None:
            shown = [t for label, t in c1 if label == "A999"]
            if shown:
                restart_ms = (shown[0] - up) * 1000
            time.sleep(0.02)
        core.loop_stop()
        core.disconnect()
    finally:
        if proc is not None:
            proc.stdin.close()
            proc.terminate()
            proc.wait(10)
        broker.stop()

    screen = [(events["screen"][k] - t) * 1000 for k, t in sent.items() if k in events["screen"]]
    audio = [(events["audio"][k] - t) * 1000 for k, t in sent.items() if k in events["audio"]]
    if len(screen) < len(sent) * 0.9 or not audio:
        print(f"measured only {len(screen)} screen and {len(audio)} audio of {len(sent)} calls", file=sys.stderr)
        return 1
    print(f"calls={len(sent)}")
    print(f"call_to_screen_p50_ms={statistics.median(screen):.1f}")
    print(f"call_to_screen_p99_ms={pct(screen, 99):.1f}")
    print(f"call_to_audio_p50_ms={statistics.median(audio):.1f}")
    print(f"call_to_audio_p99_ms={pct(audio, 99):.1f}")
    print(f"audio_announced={len(audio)}")
    print(f"display_rss_mb={rss:.1f}")
    # For scale: what an empty Kivy window of the same size holds here (with
    # llvmpipe most of it is the software renderer itself).
    (work / "baseline.py").write_text(BASELINE)
    base = subprocess.run([sys.executable, str(work / "baseline.py")], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
                                   KIVY_HOME=str(work / "kivy"), PYTHONPATH=str(ROOT)))
    if base.returncode == 0 and base.stdout.strip():
        print(f"empty_kivy_window_rss_mb={float(base.stdout.split()[-1]):.1f}")
    else:
        print(f"empty window baseline not measured: {base.stderr[-500:]}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    if restart_ms is None:
        print("broker restart: the display never showed the republished snapshot", file=sys.stderr)
        return 1
    print(f"broker_restart_to_display_ms={restart_ms:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
