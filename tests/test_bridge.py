"""The bridge against a real Mosquitto, with simulated boxes on real ptys."""
from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol as P
from firmware_bridge.bridge import event_id
from firmware_bridge.sim import SimBox
from kiosk import config as site_config
from tests.test_bridge_helpers import start_boxes, wait_until, write_config


@pytest.fixture
def rig(tmp_path, broker, bus):
    """One simulated box on counter 1, the bridge in-process, a core-side listener."""
    made = {}

    def make(box_id="box-1", wait_hello=True, **dev):
        link = str(tmp_path / "by-id-box-1")
        box = SimBox(box_id, link, seed=7, hold_ms=2, retransmit_ms=100, host_timeout_ms=3000).start()
        path = write_config(tmp_path, broker, [{"counter": 1, "port": link, **dev}],
                            state_refresh_s=0.2, republish_s=0.5)
        listener = bus("core")
        listener.subscribe("counter/+/command", "counter/+/rating", "presence/#")
        boxes, ledger = start_boxes(path)
        made.update(box=box, boxes=boxes, ledger=ledger)
        if wait_hello:
            wait_until(lambda: boxes[0].hello is not None, what="HELLO from the box")
        return box, boxes[0], listener, ledger

    yield make
    for b in made.get("boxes", []):
        b.stop()
    if "box" in made:
        made["box"].stop()
    if "ledger" in made:
        made["ledger"].close()


def commands(listener, leaf="command"):
    return [json.loads(p) for t, p, _ in listener.messages if t.endswith("/" + leaf)]


def test_key_press_becomes_one_command_acked_after_puback(rig):
    box, bridge, listener, ledger = rig()
    box.press("next")
    cmd = listener.wait_for(lambda t, b: t == "counter/1/command")
    boot = box.fw.boot
    assert cmd == {"command_id": event_id("box-1", boot, 1), "action": "next", "source": "box-1"}
    wait_until(lambda: box.pending() == 0, what="ACK reaching the box")
    assert ledger.seen("box-1", boot, 1)
    listener.wait_for(lambda t, b: t == "presence/counter-1" and b["status"] == "online")


def test_rating_press_carries_device_and_bridge_times(rig):
    box, bridge, listener, _ = rig()
    box.rate(2)
    r = listener.wait_for(lambda t, b: t == "counter/1/rating")
    assert r["rating_id"] == event_id("box-1", box.fw.boot, 1)
    assert r["level"] == 2 and r["device"] == "box-1"
    assert r["device_time_ms"] >= 0 and abs(r["received_at"] - time.time()) < 60


def test_display_and_leds_follow_the_retained_counter_state(rig, bus):
    box, bridge, listener, _ = rig()
    core = bus("core")
    core.publish("counter/1/state", {
        "counter": 1, "name": "Quầy 1", "status": "open", "fields": ["tu-phap"],
        "current": {"ticket_id": "20261127-B023", "label": "B023", "field": "chung-thuc",
                    "priority": None, "called_at": time.time()},
        "official": None, "waiting": 4,
        "rating_window": {"ticket_id": "20261127-B022", "until": time.time() + 30},
        "updated_at": time.time()}, retain=True)
    wait_until(lambda: box.display() == ("B023", 0b111), what="B023 with rating LEDs on the box")
    core.publish("counter/1/state", {"counter": 1, "status": "paused", "current": None,
                                     "rating_window": None}, retain=True)
    wait_until(lambda: box.display() == ("    ", 0), what="blank display when nobody is served")


def test_pause_key_resumes_a_paused_counter(rig, bus):
    box, bridge, listener, _ = rig()
    core = bus("core")
    core.publish("counter/1/state", {"counter": 1, "status": "paused", "current": None}, retain=True)
    wait_until(lambda: (bridge.state or {}).get("status") == "paused", what="state at the bridge")
    box.press("pause")
    assert listener.wait_for(lambda t, b: t == "counter/1/command")["action"] == "resume"


def test_no_ack_while_the_broker_is_down_then_delivered_once(rig, broker):
    box, bridge, listener, ledger = rig()
    broker.stop()
    box.press("finish")
    written = box.board.written
    # the box keeps retransmitting and keeps the press: nobody acked it
    wait_until(lambda: box.board.written > written + 60, what="retransmissions")
    assert box.pending() == 1 and ledger.count() == 0
    broker.start()
    wait_until(lambda: box.pending() == 0, timeout=15, what="ACK after the broker came back")
    assert ledger.count() == 1


def test_replayed_event_already_delivered_is_acked_without_publishing(rig):
    box, bridge, listener, ledger = rig()
    ledger.record("box-1", box.fw.boot, 1, event_id("box-1", box.fw.boot, 1))
    box.press("recall")
    wait_until(lambda: box.pending() == 0, what="ACK from the ledger")
    box.press("next")
    listener.wait_for(lambda t, b: t == "counter/1/command")
    assert [c["action"] for c in commands(listener)] == ["next"]
    assert bridge.stats["acked_from_ledger"] == 1


def test_a_box_with_the_wrong_id_is_refused(rig):
    box, bridge, listener, ledger = rig(box_id="box-9", wait_hello=False, device_id="box-1")
    wait_until(lambda: bridge.stats["refused"] > 0, what="the HELLO refused")
    box.press("next")
    written = box.board.written
    wait_until(lambda: box.board.written > written + 60, what="the box retransmitting")
    assert box.pending() == 1 and ledger.count() == 0 and commands(listener) == []
    assert bridge.hello is None


def test_unknown_counter_and_duplicate_ports_are_config_errors(tmp_path, broker):
    from firmware_bridge.bridge import check_devices
    path = write_config(tmp_path, broker, [{"counter": 42, "port": "/dev/ttyACM0"}])
    with pytest.raises(site_config.ConfigError, match=r"bridge.devices\[0\].counter: no counter 42"):
        check_devices(site_config.load(path))
    path = write_config(tmp_path, broker, [{"counter": 1, "port": "/dev/ttyACM0"},
                                           {"counter": 2, "port": "/dev/ttyACM0"}])
    with pytest.raises(site_config.ConfigError, match="port '/dev/ttyACM0' is used twice"):
        site_config.load(path)
    path = write_config(tmp_path, broker, [{"counter": 1, "port": "/dev/x", "speed": 9600}])
    with pytest.raises(site_config.ConfigError, match=r"bridge.devices\[0\].speed: unknown key"):
        site_config.load(path)


def test_unplug_mid_frame_and_replug_delivers_every_press_once(rig):
    box, bridge, listener, _ = rig()
    box.press("next")
    box.press("no_show")
    wait_until(lambda: len(box.accepted) == 2, what="presses accepted")
    box.unplug(mid_frame=True)
    box.plug()
    box.press("finish")
    wait_until(lambda: len(commands(listener)) >= 3 and box.pending() == 0, what="all delivered")
    ids = [c["command_id"] for c in commands(listener)]
    want = {event_id("box-1", b, s) for b, s, _, _ in box.accepted}
    assert set(ids) == want and len(box.boots) == 2


fuzz_bodies = st.one_of(
    st.binary(min_size=1, max_size=60).map(lambda b: b + b"\x00"),                 # noise
    st.binary(min_size=1, max_size=40).filter(                                      # valid CRC, bad message
        lambda b: b[0] != P.EVENT or len(b) != 15).map(P.frame),
    st.tuples(st.integers(1, 2**32 - 1), st.integers(1, 9999), st.integers(0, 14), st.integers(0, 7)).map(
        lambda t: _flip(P.encode(P.Event(t[0], t[1], P.SRC_KEY, P.KEY_NEXT, 0)), t[2], t[3])),
)


def _flip(raw: bytes, pos: int, bit: int) -> bytes:
    b = bytearray(raw)
    b[pos % (len(b) - 1)] ^= 1 << bit
    return bytes(b)


def test_fuzzed_frames_count_nothing_and_break_nothing(rig):
    box, bridge, listener, _ = rig()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(fuzz_bodies, min_size=1, max_size=4))
    def inject(chunks):
        for c in chunks:
            box.inject(c)

    inject()
    box.press("next")  # the box's own press after the storm still works
    listener.wait_for(lambda t, b: t == "counter/1/command")
    wait_until(lambda: box.pending() == 0, what="ACK after the fuzz")
    assert [c["command_id"] for c in commands(listener)] == [event_id("box-1", box.fw.boot, 1)]
    assert commands(listener, "rating") == []
    assert bridge.stats["bad_frames"] + bridge.stats["bad_messages"] > 0


def test_a_refused_command_beeps_the_box(rig, bus):
    box, bridge, listener, _ = rig()
    box.press("next")
    cmd = listener.wait_for(lambda t, b: t == "counter/1/command")
    core = bus("core")
    core.publish("counter/1/reply", {"command_id": cmd["command_id"], "ok": False,
                                     "error": {"code": "empty", "message": "no ticket waits for counter 1"}})
    wait_until(lambda: P.BEEP_ERROR in box.board.beeps, what="the buzzer")


def test_killed_bridge_leaves_presence_offline_by_last_will(tmp_path, broker, bus):
    import signal
    import subprocess
    import sys

    from tests.test_bridge_helpers import ROOT
    link = str(tmp_path / "by-id-box-2")
    box = SimBox("box-2", link, seed=3, hold_ms=2).start()
    watcher = bus("console")
    watcher.subscribe("presence/counter-2")
    path = write_config(tmp_path, broker, [{"counter": 2, "port": link}])
    proc = subprocess.Popen([sys.executable, "-m", "firmware_bridge", "bridge", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        watcher.wait_for(lambda t, b: b["status"] == "online", timeout=15)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        watcher.wait_for(lambda t, b: b["status"] == "offline")
    finally:
        if proc.poll() is None:
            proc.kill()
        box.stop()
