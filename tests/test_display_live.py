"""The running wall display and the speaker take a saved change of the centre
(the retained config/site) and speak the admin's voice test (display/voice):
the real Kivy display in its own process rendering offscreen, a real
Mosquitto, espeak-ng writing wav files.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from display.screenshots import demo_messages
from tests.test_display_app import Screen
from tests.test_live_config import payload

ROOT = Path(__file__).resolve().parent.parent

DRIVER = textwrap.dedent(r'''
    import json, logging, sys, threading, collections
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from kiosk import config
    from display import app as display_app
    from display import announcer as ann
    from display.bus import DisplayLink

    cfg_path, port, password_file, overrides, width, height, voice_dir = sys.argv[1:8]
    data = config.load(cfg_path).model_dump()
    for section, values in json.loads(overrides).items():
        data[section].update(values)
    cfg = config.parse(data)
    password = open(password_file).read().strip()
    voice = ann.from_config(cfg, output_dir=voice_dir)

    def connect(app):
        return DisplayLink(cfg, user="display-1", password=password, handler=app.feed,
                           port=int(port)).start()

    app = display_app.build_app(cfg, width=int(width), height=int(height), connect=connect,
                                announcer=voice)
    from display import wall
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
            "counters": [[w.name, w.current] for w in reversed(root.ids.counters.children)],
            "fields": [w.name for w in reversed(root.ids.waiting.children)],
            "notice": root.notice, "commune": root.commune,
            "board_visible": root.board_visible, "calls_visible": root.calls_visible,
            "calls": [w.label for w in reversed(root.ids.calls.children)],
            "template": voice.template, "speed": voice.engine.speed,
            "said": [p.path.name for p in voice.played],
        }, ensure_ascii=False), flush=True)

    Clock.schedule_interval(report, 0.05)
    app.run()
''')


class VoiceScreen(Screen):
    """tests/test_display_app.py's Screen, with an announcer writing wav files."""

    def __init__(self, tmp_path: Path, broker, voice_dir: Path):
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
                   KIVY_HOME=str(tmp_path / "kivy-home"), PYTHONPATH=str(ROOT))
        overrides = {"mqtt": {"port": broker.port}}
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(ROOT / "deploy" / "demo-site.toml"), str(broker.port),
             str(broker.password_file("display-1")), json.dumps(overrides), "1920", "1080",
             str(voice_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(tmp_path / "driver.err", "wb"),
            text=True, cwd=ROOT, env=env)
        import queue
        self.frames = queue.Queue()
        self.last = {}
        self.err = tmp_path / "driver.err"
        threading.Thread(target=self._read, daemon=True).start()

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.err.read_text().splitlines() if needle in line]


def changed_config(site) -> dict:
    c = site.model_dump(mode="json")
    c["site"]["commune"] = "Xã Thắng Lộc Mới"
    c["counters"][0]["name"] = "Quầy A"
    # Counter 4 taken away; counter 3 serves its fields.
    c["counters"] = c["counters"][:3]
    c["counters"][2]["fields"] = ["dat-dai", "kinh-te", "van-hoa-xa-hoi"]
    c["fields"][0]["name_vi"] = "Hộ tịch"
    c["fields"][3]["closed"] = True          # van-hoa-xa-hoi: nobody waits in the demo
    c["fields"].append({"code": "bao-hiem", "name_vi": "Bảo hiểm xã hội", "name_en": "Social insurance",
                        "prefix": "F", "minutes_per_citizen": 8})
    c["counters"][0]["fields"].append("bao-hiem")
    c["display"]["notice"] = "Chiều nay trung tâm làm việc đến 16:00"
    c["display"]["public_board"] = "off"
    c["display"]["last_calls"] = 5
    c["announcer"]["template"] = "Xin mời số {number} tới quầy {counter}"
    c["announcer"]["speed"] = 120
    return c


@pytest.fixture
def wall(tmp_path, broker):
    made = []

    def start(voice_dir: Path) -> VoiceScreen:
        s = VoiceScreen(tmp_path, broker, voice_dir)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


def test_display_takes_a_saved_change_and_speaks_a_voice_test(wall, bus, site, tmp_path):
    core = bus("tester")
    msgs = demo_messages(site)
    core.publish("presence/core", {"device": "core", "status": "online"}, retain=True)
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    voices = tmp_path / "voice"
    s = wall(voices)
    before = s.wait(lambda f: "A012" in f["texts"] and f["counters"])
    assert len(before["counters"]) == 4 and before["board_visible"]
    s.send(f"shot {tmp_path / 'display-before.png'}")
    s.wait(lambda f: f.get("shot"))

    core.publish("config/site", payload(changed_config(site)), retain=True)
    frame = s.wait(lambda f: f["commune"] == "Xã Thắng Lộc Mới")
    assert [c[0] for c in frame["counters"]] == ["Quầy A", "Quầy 2", "Quầy 3"]
    assert frame["counters"][0][1] == "A012"          # the number being served stays
    assert frame["fields"][0] == "Hộ tịch" and frame["fields"][-1] == "Bảo hiểm xã hội"
    assert "XÃ THẮNG LỘC MỚI" in frame["texts"]       # (past calls at counter 4 keep its name)
    assert "tạm ngừng" in frame["texts"] and "không chờ" in frame["texts"]   # bao-hiem is open
    assert frame["notice"] == "Chiều nay trung tâm làm việc đến 16:00"
    assert "Chiều nay trung tâm làm việc đến 16:00" in frame["texts"]
    assert not frame["board_visible"] and frame["calls_visible"]
    assert len(before["calls"]) > 5 and len(frame["calls"]) == 5      # display.last_calls
    assert frame["template"] == "Xin mời số {number} tới quầy {counter}" and frame["speed"] == 120
    shot = tmp_path / "display-after.png"
    s.send(f"shot {shot}")
    s.wait(lambda f: f.get("shot") == str(shot))
    print("screenshot:", shot)

    # A call is spoken with the new template.
    core.publish("event/call", msgs["call"] | {"label": "F001", "call_id": "t-50", "call_seq": 50,
                                               "counter": 1, "counter_name": "Quầy A"})
    s.wait(lambda f: any("t-50" in n for n in f["said"]), timeout=30)
    said = s.log_lines("said call t-50")
    assert len(said) == 1 and '"Xin mời số ép một tới quầy 1"' in said[0] or "Xin mời số" in said[0]

    # The admin's voice test: spoken and logged, never shown.
    core.publish("display/voice", {"id": "vt-1", "text": "Thử loa: mời công dân đến quầy số 1",
                                   "at": time.time()})
    frame = s.wait(lambda f: any("voice-vt-1" in n for n in f["said"]), timeout=30)
    assert "Thử loa: mời công dân đến quầy số 1" not in " ".join(frame["texts"])
    wav = [p for p in voices.iterdir() if "voice-vt-1" in p.name]
    assert len(wav) == 1 and wav[0].stat().st_size > 20000
    logged = s.log_lines("said voice test voice-vt-1")
    assert len(logged) == 1 and '"Thử loa: mời công dân đến quầy số 1"' in logged[0]

    # A payload that does not validate, and one for another site: nothing changes.
    bad = changed_config(site)
    bad["display"]["notice"] = "KHÔNG ĐƯỢC HIỆN"
    bad["counters"][0]["fields"] = ["khong-co"]
    other = changed_config(site)
    other["site"]["id"] = "xa-khac"
    other["display"]["notice"] = "KHÔNG ĐƯỢC HIỆN"
    core.publish("config/site", payload(bad, version=5), retain=True)
    core.publish("config/site", payload(other, version=6), retain=True)
    deadline = time.monotonic() + 20
    while len(s.log_lines("not applied")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    errors = s.log_lines("not applied")
    assert len(errors) == 2, errors
    assert "counters[0].fields" in errors[0] and "xa-khac" in errors[1]
    frame = s.wait(lambda f: True)
    assert frame["notice"] == "Chiều nay trung tâm làm việc đến 16:00"
    assert [c[0] for c in frame["counters"]] == ["Quầy A", "Quầy 2", "Quầy 3"]


def test_speaker_takes_the_voice_test_and_the_new_voice(broker, bus, site, tmp_path):
    from display import speaker
    core = bus("tester")
    stop = threading.Event()
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("voice", speaker.run(
        site, mqtt_user="display-1", password=broker.password("display-1"), out_dir=str(tmp_path),
        host=broker.host, port=broker.port, stop=stop)))
    t.start()
    try:
        core.publish("config/site", payload(changed_config(site)), retain=True)
        time.sleep(1.0)
        core.publish("display/voice", {"id": "vt-2", "text": "Thử loa", "at": time.time()})
        core.publish("event/call", demo_messages(site)["call"] | {"call_id": "t-60", "label": "A013"})
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("*.wav"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        t.join(60)
    voice = out["voice"]
    assert voice.template == "Xin mời số {number} tới quầy {counter}" and voice.engine.speed == 120
    kinds = {p.call_id for p in voice.played}
    assert kinds == {"voice-vt-2", "t-60"}
    assert any(p.name.endswith("-voice-vt-2.wav") for p in tmp_path.glob("*.wav"))
