"""Speaker-only mode on a real broker, and voice-test, with real espeak-ng."""
import threading
import time
import wave
from pathlib import Path

from display import speaker, voice

ROOT = Path(__file__).resolve().parent.parent


def call(n, label, counter):
    return {"call_id": f"2026-11-27-{n}", "call_seq": n, "ticket_id": f"20261127-{label}", "label": label,
            "counter": counter, "counter_name": f"Quầy {counter}", "field": "tu-phap",
            "field_name_vi": "Tư pháp – Hộ tịch", "recall": False, "at": time.time()}


def test_speaker_only_mode_announces_calls_from_the_bus_once(broker, bus, site, tmp_path):
    stop = threading.Event()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("a", speaker.run(
        site, mqtt_user="display-1", password=broker.password("display-1"), out_dir=str(tmp_path / "wavs"),
        port=broker.port, stop=stop)))
    t.start()
    try:
        core = bus("tester")
        core.subscribe("presence/display-1")
        core.wait_for(lambda topic, body: topic == "presence/display-1" and body["status"] == "online")
        core.publish("event/call", call(1, "A001", 1))
        core.publish("event/call", call(1, "A001", 1))      # redelivered
        core.publish("event/call", call(2, "B002", 2))
        core.publish("event/call", b"not json")               # logged, nothing lost
        deadline = time.monotonic() + 30
        while len(list((tmp_path / "wavs").glob("*.wav"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(60)
    names = sorted(p.name for p in (tmp_path / "wavs").glob("*.wav"))
    assert [n.split("-", 3)[3] for n in names] == ["2026-11-27-1-A001-q1.wav", "2026-11-27-2-B002-q2.wav"]
    assert [p.call_id for p in result["a"].played] == ["2026-11-27-1", "2026-11-27-2"]
    core.wait_for(lambda topic, body: topic == "presence/display-1" and body["status"] == "offline")


def test_voice_test_writes_the_sentence(tmp_path, capsys):
    path = voice.main("Mời công dân có số thứ tự A một không chín đến quầy số ba",
                      str(ROOT / "deploy" / "demo-site.toml"), out_dir=str(tmp_path))
    assert path == tmp_path / "voice-test.wav"
    with wave.open(str(path)) as w:
        assert w.getframerate() == 22050
        assert w.getnframes() / w.getframerate() > 3.0
    assert str(path) in capsys.readouterr().out
