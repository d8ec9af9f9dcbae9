"""The real Kivy display against a real Mosquitto, in its own process.

Each test starts the display app in a subprocess (Kivy's window is one per
process) rendering offscreen.  The subprocess prints what its widget tree
shows as JSON lines and takes commands on stdin; the test publishes as the
core (the `bus` fixture) and reads the screen back.
"""
import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from display.screenshots import demo_messages

ROOT = Path(__file__).resolve().parent.parent

DRIVER = textwrap.dedent(r'''
    import json, sys, threading, collections
    from kiosk import config
    from display import app as display_app
    from display.bus import DisplayLink

    cfg_path, port, password_file, overrides, width, height = sys.argv[1:7]
    data = config.load(cfg_path).model_dump()
    for section, values in json.loads(overrides).items():
        data[section].update(values)
    cfg = config.parse(data)
    password = open(password_file).read().strip()

    def connect(app):
        return DisplayLink(cfg, user="display-1", password=password, handler=app.feed,
                           port=int(port)).start()

    app = display_app.build_app(cfg, width=int(width), height=int(height), connect=connect)
    from display import wall  # after build_app: it sets the window up first
    from kivy.clock import Clock
    commands = collections.deque()

    def read_stdin():
        for line in sys.stdin:
            commands.append(line.strip())
        commands.append("quit")

    threading.Thread(target=read_stdin, daemon=True).start()

    def report(_dt):
        while commands:
            cmd, _, arg = commands.popleft().partition(" ")
            if cmd == "quit":
                app.stop()
                return
            if cmd == "shot":
                wall.save_screenshot(arg)
                print(json.dumps({"shot": arg}), flush=True)
        root = app.root
        print(json.dumps({
            "texts": app.texts(),
            "stale": root.stale,
            "stale_visible": root.ids.stale.opacity > 0 and root.ids.stale.text,
            "counters": [[w.name, w.current, w.highlight] for w in reversed(root.ids.counters.children)],
            "newest": root.ids.newest_label.text,
            "calls": [[w.label, w.counter_name, w.index, id(w)] for w in reversed(root.ids.calls.children)],
            "has_data": app.state.snapshot is not None,
        }, ensure_ascii=False), flush=True)

    Clock.schedule_interval(report, 0.05)
    app.run()
''')


class Screen:
    """The display subprocess and the latest frame it reported."""

    def __init__(self, tmp_path: Path, broker, overrides: dict, size=(1920, 1080)):
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
                   KIVY_HOME=str(tmp_path / "kivy-home"), PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(ROOT / "deploy" / "demo-site.toml"), str(broker.port),
             str(broker.password_file("display-1")), json.dumps(overrides), str(size[0]), str(size[1])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(tmp_path / "driver.err", "wb"),
            text=True, cwd=ROOT, env=env)
        self.frames: queue.Queue = queue.Queue()
        self.last: dict = {}
        self.err = tmp_path / "driver.err"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.frames.put(json.loads(line))
            except ValueError:
                pass

    def wait(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                frame = self.frames.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise AssertionError(f"display exited {self.proc.returncode}: {self.err.read_text()[-3000:]}")
                continue
            if "texts" in frame:
                self.last = frame
                if predicate(frame):
                    return frame
            elif predicate(frame):
                return frame
        raise AssertionError(f"screen never matched; last frame: {json.dumps(self.last, ensure_ascii=False)[:2000]}")

    def send(self, line: str):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def screen(tmp_path, broker):
    made = []

    def start(overrides=None, size=(1920, 1080)):
        merged = {"mqtt": {"port": broker.port}}
        for section, values in (overrides or {}).items():
            merged.setdefault(section, {}).update(values)
        s = Screen(tmp_path, broker, merged, size)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


def test_retained_snapshot_is_on_screen_at_start(screen, bus, site, tmp_path):
    core = bus("tester")
    msgs = demo_messages(site)
    # Published before the display exists: only retention brings it there.
    core.publish("presence/core", {"device": "core", "status": "online"}, retain=True)
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    core.publish("display/notice", msgs["notice"], retain=True)
    s = screen()
    frame = s.wait(lambda f: "Chứng thực" in f["texts"] and msgs["notice"]["text"] in f["texts"]
                   and not f["stale"])
    assert frame["counters"] == [["Quầy 1", "A012", False], ["Quầy 2", "B023", False],
                                 ["Quầy 3", "C004", False], ["Quầy 4", "", False]]
    texts = frame["texts"]
    for expected in ("XÃ THẮNG LỘC", "Trung tâm Phục vụ hành chính công xã Thắng Lộc", "Tư pháp – Hộ tịch",
                     "Đất đai – Xây dựng", "Tạm dừng", "Chứng thực", "3 người", msgs["notice"]["text"]):
        assert expected in texts, expected
    assert "MẤT KẾT NỐI" not in texts
    # Per field: the next numbers from the snapshot and the wait (kiosk/waitwords.py):
    # 4 min with a narrow range (2.5-6.1), 20 min with a wide one (14.2-33.9: 15-35).
    assert "Tiếp: B024 B025 B026" in texts and "≈\u00a04\u00a0phút" in texts
    assert "15–35\u00a0phút" in texts and "<\u00a01\u00a0phút" in texts
    assert "không chờ" in texts      # van-hoa-xa-hoi has nobody waiting
    # The public board (panel, the default) with the snapshot's figures.
    board = msgs["snapshot"]["board"]
    for expected in ("CÔNG KHAI HÔM NAY", "Đã phục vụ", str(board["served"]), "Hài lòng",
                     f"{board['satisfied_pct']}%", f"Chờ ≤ {board['wait_target_min']} phút",
                     f"{board['on_time_pct']}%"):
        assert expected in texts, expected

    # A call event: the number appears at its counter and as the newest call.
    before = frame["calls"]
    core.publish("event/call", msgs["call"] | {"label": "B024", "call_id": "t-41", "call_seq": 41})
    frame = s.wait(lambda f: f["newest"] == "B024" and f["calls"] and f["calls"][0][0] == "B024")
    assert frame["counters"][1] == ["Quầy 2", "B024", True]
    assert "ĐẾN QUẦY 2" in frame["texts"]
    # The recent calls move down as widgets (display.widgets.keep_rows): each
    # older call is the same row, with its textures, one place lower.
    calls = frame["calls"]
    assert [c[0] for c in calls[1:]] == [c[0] for c in before][: len(calls) - 1]
    assert [c[3] for c in calls[1:]] == [c[3] for c in before][: len(calls) - 1]
    assert [c[2] for c in calls] == list(range(len(calls)))

    shot = tmp_path / "display-test.png"
    s.send(f"shot {shot}")
    s.wait(lambda f: f.get("shot") == str(shot))
    from PIL import Image
    img = Image.open(shot).convert("RGB")
    assert img.size == (1920, 1080)
    # The header, the yellow ticker and the dark body are all really drawn.
    assert len(img.resize((64, 36)).getcolors(maxcolors=4096)) > 20
    assert img.getpixel((960, 1060))[0] > 200 and img.getpixel((960, 1060))[2] < 80


def test_stale_mark_appears_and_clears(screen, bus, site):
    core = bus("tester")
    msgs = demo_messages(site)
    core.publish("presence/core", {"device": "core", "status": "online"}, retain=True)
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    # keepalive 2 s: more than 3 s of silence from the core is stale.
    s = screen({"mqtt": {"keepalive": 2}})
    s.wait(lambda f: "A012" in f["texts"] and not f["stale"])
    # The core's last will (retained offline) marks the display at once...
    core.publish("presence/core", {"device": "core", "status": "offline"}, retain=True)
    frame = s.wait(lambda f: f["stale"])
    assert frame["stale_visible"] == "MẤT KẾT NỐI"
    assert "A012" in frame["texts"]               # the last known numbers stay
    # ...and the core coming back clears it by itself.
    core.publish("presence/core", {"device": "core", "status": "online"}, retain=True)
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    s.wait(lambda f: not f["stale"] and "MẤT KẾT NỐI" not in f["texts"])
    # A core that is "online" but stops republishing is stale too.
    frame = s.wait(lambda f: f["stale"], timeout=15)
    assert frame["stale_visible"] == "MẤT KẾT NỐI"
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    s.wait(lambda f: not f["stale"])


def test_display_is_right_again_after_a_broker_restart(screen, bus, broker, site):
    core = bus("tester")
    msgs = demo_messages(site)
    core.publish("presence/core", {"device": "core", "status": "online"}, retain=True)
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    s = screen()
    s.wait(lambda f: "A012" in f["texts"])
    broker.restart()
    # The core (here: the test's client) reconnects and republishes what
    # changed while the broker was away.
    snap = json.loads(json.dumps(msgs["snapshot"]))
    snap["counters"][0]["current"] = "A099"
    deadline = time.monotonic() + 10
    while True:
        try:
            core.publish("display/snapshot", snap, retain=True)
            break
        except RuntimeError:              # still reconnecting after the broker restart
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    frame = s.wait(lambda f: f["counters"] and f["counters"][0][1] == "A099", timeout=10)
    assert not frame["stale"]


def test_real_core_calls_reach_the_screen_and_survive_a_broker_restart(core, screen, bus, broker):
    admin = bus("tester")
    admin.subscribe("core/reply")
    for i in range(2):
        admin.publish("core/command", {"command_id": f"issue-{i}", "action": "issue", "field": "tu-phap"})
        admin.wait_for(lambda t, b, i=i: t == "core/reply" and b.get("command_id") == f"issue-{i}")
    staff = bus("counter-1")
    staff.subscribe("counter/1/reply")

    def next_at_counter_1(cid):
        deadline = time.monotonic() + 10
        while True:
            try:
                staff.publish("counter/1/command", {"command_id": cid, "action": "next", "source": "test"})
                break
            except RuntimeError:          # still reconnecting after the broker restart
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return staff.wait_for(lambda t, b: t == "counter/1/reply" and b.get("command_id") == cid)

    s = screen()
    # The retained snapshot is in: the display is subscribed, so this call
    # is new to it (calls it only finds in its first snapshot are not blinked).
    s.wait(lambda f: f["has_data"] and not f["stale"])
    assert next_at_counter_1("n1")["ok"]
    frame = s.wait(lambda f: f["counters"][0][1] == "A001" and f["newest"] == "A001")
    assert frame["counters"][0] == ["Quầy 1", "A001", True]
    assert "ĐẾN QUẦY 1" in frame["texts"] and "Tư pháp – Hộ tịch" in frame["texts"]
    # The real core's snapshot names who is next in the field, and the board counts.
    frame = s.wait(lambda f: "Tiếp: A002" in f["texts"])
    assert "CÔNG KHAI HÔM NAY" in frame["texts"]

    broker.restart()
    # The core reconnects and republishes; the display follows by itself.
    assert next_at_counter_1("n2")["ok"]
    # Mosquitto publishes the core's last will when it shuts down, so the
    # display may briefly mark the core offline; it must end right and clear.
    frame = s.wait(lambda f: f["counters"][0][1] == "A002" and f["newest"] == "A002" and not f["stale"],
                   timeout=15)
    assert frame["counters"][0] == ["Quầy 1", "A002", True]


def test_the_widgets_refuse_to_load_before_the_window_is_set_up(tmp_path):
    # Kivy reads the clock and window settings at its first import of them;
    # display.wall / display.widgets imported first would freeze the defaults.
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KIVY_HOME=str(tmp_path / "kivy"), KIVY_LOG_MODE="MIXED", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", "import display.wall"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=60)
    assert r.returncode != 0 and "before display.app.configure_window" in r.stderr, r.stderr[-1000:]
