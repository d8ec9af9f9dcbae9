"""The bridge against a real Mosquitto and (where a press must be committed) a
real core, with simulated boxes on real ptys.

The chain under test (docs/serial-protocol.md, "An event's life"): the box
forgets a press only on ACK, and the bridge sends ACK only after the core's
confirmation on ``counter/<n>/reply``, never on the broker's PUBACK.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.clocks import BoxClocks
from firmware_bridge.delivery import Outstanding, Unconfirmed, event_id
from firmware_bridge.payloads import Payloads
from firmware_bridge.protocol import framing
from firmware_bridge.protocol import messages as M
from firmware_bridge.sim import SimBox
from kiosk import config as site_config
from tests.test_bridge_helpers import start_boxes, wait_until, write_config

# Test clients are test superusers (conftest's TESTERS), never the login of
# a running part: the broker takes the login as the client id, so a client
# logged in as "core" would cut the real core off.  The fake core stands in
# for the core where none runs, publishing state and confirmations.
LISTENER = "tester"
FAKE_CORE = "tester"


@pytest.fixture
def rig(tmp_path, broker, bus):
    """One simulated box on counter 1, the bridge in-process, a listener on the bus.
    Tests that need presses committed and confirmed also ask for ``core``."""
    made = {}

    def make(box_id="box-1", wait_hello=True, n_levels=3, **dev):
        link = str(tmp_path / "by-id-box-1")
        box = SimBox(box_id, link, n_levels=n_levels, seed=7, hold_ms=2, retransmit_ms=100,
                     host_timeout_ms=3000).start()
        path = write_config(tmp_path, broker, [{"counter": 1, "port": link, **dev}],
                            state_refresh_s=0.2, republish_s=0.5)
        listener = bus(LISTENER)
        listener.subscribe("counter/+/command", "counter/+/rating", "counter/+/reply", "presence/#")
        boxes, ledger = start_boxes(path)
        made.update(box=box, boxes=boxes, ledger=ledger)
        if wait_hello:
            wait_until(lambda: boxes[0].port.hello is not None, what="HELLO from the box")
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


def raw(listener, leaf="command"):
    return [p for t, p, _ in listener.messages if t.endswith("/" + leaf)]


def core_rows(db: Path, sql: str, *args) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def stored_commands(db: Path) -> list[str]:
    """Event ids of counter 1's commands the core committed (its dedupe table)."""
    return [r[0].split(":", 1)[1] for r in core_rows(db, "SELECT command_id FROM commands "
                                                          "WHERE command_id LIKE 'counter/1:%'")]


def stored_ratings(db: Path) -> list[str]:
    return [r[0] for r in core_rows(db, "SELECT id FROM ratings")]


# ------------------------------------------------------------------ the chain
def test_key_press_is_acked_only_after_the_core_commits_it(rig, core):
    box, bridge, listener, ledger = rig()
    box.press("pause")
    cmd = listener.wait_for(lambda t, b: t == "counter/1/command")
    boot = box.fw.boot
    eid = event_id("box-1", boot, 1)
    assert cmd == {"command_id": eid, "action": "pause", "source": "box-1",
                   "device": "box-1", "boot": boot, "device_time_ms": cmd["device_time_ms"],
                   "relay": cmd["relay"], "relay_rx_ms": cmd["relay_rx_ms"], "relay_tx_ms": cmd["relay_tx_ms"]}
    assert cmd["relay"].startswith("counter-1:") and 0 <= cmd["relay_tx_ms"] - cmd["relay_rx_ms"] < 5000
    assert type(cmd["boot"]) is int and type(cmd["device_time_ms"]) is int and cmd["device_time_ms"] >= 0
    reply = listener.wait_for(lambda t, b: t == "counter/1/reply" and b.get("command_id") == eid)
    assert reply["ok"] is True
    wait_until(lambda: box.pending() == 0, what="ACK reaching the box")
    # The bridge counts an ACK once it is written, so its count may trail the box.
    wait_until(lambda: bridge.stats["acked"] == 1, what="the ACK counted")
    assert ledger.seen("box-1", boot, 1) and bridge.stats["confirmed"] == 1
    assert M.BEEP_ERROR not in box.board.beeps
    listener.wait_for(lambda t, b: t == "presence/counter-1" and b["status"] == "online")


def test_the_brokers_puback_alone_never_acks_the_box(rig, bus):
    box, bridge, listener, ledger = rig()          # no core: nobody confirms
    box.press("next")
    cmd = listener.wait_for(lambda t, b: t == "counter/1/command")
    eid = cmd["command_id"]
    # PUBACKed, then republished (same id and press; only relay_tx_ms, when
    # the copy left, differs) after republish_s: still not acked.
    wait_until(lambda: bridge.stats["pubacked"] >= 2 and bridge.stats["republished"] >= 1,
               what="a PUBACK and a republish")
    # the listener's copy of the republish may trail the bridge's PUBACK
    wait_until(lambda: len(raw(listener)) >= 2, what="both copies at the listener")
    copies = [json.loads(c) for c in raw(listener)]
    assert len(copies) >= 2
    assert len({json.dumps({k: v for k, v in c.items() if k != "relay_tx_ms"}, sort_keys=True)
                for c in copies}) == 1
    assert copies[1]["relay_tx_ms"] > copies[0]["relay_tx_ms"]
    assert box.pending() == 1 and ledger.count() == 0 and bridge.stats["acked"] == 0
    core = bus(FAKE_CORE)
    # someone else's reply on the same topic (console, CLI) settles nothing
    core.publish("counter/1/reply", {"command_id": "console-7", "ok": True, "action": "next", "counter": 1})
    core.publish("counter/1/reply", {"rating_id": eid, "ok": True, "counted": True})  # wrong kind
    time.sleep(0.3)
    assert box.pending() == 1
    core.publish("counter/1/reply", {"command_id": eid, "ok": True, "action": "next", "counter": 1})
    wait_until(lambda: box.pending() == 0, what="ACK after the confirmation")
    # The bridge counts an ACK once it is written, so its count may trail the box.
    wait_until(lambda: bridge.stats["acked"] == 1, what="the ACK counted")
    assert ledger.seen("box-1", box.fw.boot, 1)
    assert eid not in bridge.delivery.unconfirmed


def test_rating_press_carries_the_box_clock_and_bridge_time(rig):
    box, bridge, listener, _ = rig()
    box.rate(2)
    r = listener.wait_for(lambda t, b: t == "counter/1/rating")
    assert r["rating_id"] == event_id("box-1", box.fw.boot, 1)
    assert r["level"] == 2 and r["device"] == "box-1" and r["boot"] == box.fw.boot
    assert type(r["boot"]) is int and type(r["device_time_ms"]) is int and r["device_time_ms"] >= 0
    assert abs(r["received_at"] - time.time()) < 60 and r["source"] == "bridge:counter-1"
    assert set(r) == {"rating_id", "level", "device", "boot", "device_time_ms", "received_at", "source",
                      "relay", "relay_rx_ms", "relay_tx_ms"}


def test_rating_press_is_stored_by_the_core_then_acked(rig, core):
    box, bridge, listener, ledger = rig()
    box.rate(1)
    eid = event_id("box-1", box.fw.boot, 1)
    reply = listener.wait_for(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == eid)
    assert reply["ok"] is True and reply["counted"] is False    # no window open: an anomaly, kept
    wait_until(lambda: box.pending() == 0, what="ACK after the core stored the press")
    assert stored_ratings(core.db) == [eid]
    assert ledger.seen("box-1", box.fw.boot, 1)


def test_a_button_the_site_lacks_is_sent_as_is_and_kept_as_bad_level(rig, core, caplog):
    caplog.set_level(logging.WARNING, "phucvu.bridge")
    box, bridge, listener, ledger = rig(n_levels=5)   # the site has 3 levels
    box.rate(5)
    eid = event_id("box-1", box.fw.boot, 1)
    assert listener.wait_for(lambda t, b: t == "counter/1/rating")["level"] == 5
    reply = listener.wait_for(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == eid)
    assert reply["ok"] is True and reply["counted"] is False and reply["reason"] == "bad_level"
    wait_until(lambda: box.pending() == 0, what="ACK for the anomaly")
    assert "sent button 5 but the site has levels 1..3" in caplog.text
    rows = core_rows(core.db, "SELECT counted, reason FROM ratings WHERE id = ?", eid)
    assert rows == [(0, "bad_level")]


def test_no_ack_while_the_broker_is_down_then_committed_once(rig, core, broker):
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
    assert stored_commands(core.db) == [event_id("box-1", box.fw.boot, 1)]


def test_replayed_event_already_committed_is_acked_without_publishing(rig):
    box, bridge, listener, ledger = rig()
    ledger.record("box-1", box.fw.boot, 1, event_id("box-1", box.fw.boot, 1))
    box.press("recall")
    wait_until(lambda: box.pending() == 0, what="ACK from the ledger")
    box.press("next")
    listener.wait_for(lambda t, b: t == "counter/1/command")
    assert [c["action"] for c in commands(listener)] == ["next"]
    assert bridge.stats["acked_from_ledger"] == 1


def test_a_refused_command_is_still_committed_acked_and_beeps(rig, core):
    box, bridge, listener, ledger = rig()
    box.press("next")                               # nobody waits: the core answers "empty"
    eid = event_id("box-1", box.fw.boot, 1)
    reply = listener.wait_for(lambda t, b: t == "counter/1/reply" and b.get("command_id") == eid)
    assert reply["ok"] is False and reply["error"]["code"] == "empty"
    wait_until(lambda: M.BEEP_ERROR in box.board.beeps, what="the buzzer")
    wait_until(lambda: box.pending() == 0, what="ACK of a refused command")
    assert ledger.seen("box-1", box.fw.boot, 1) and bridge.stats["core_refused"] == 1
    assert stored_commands(core.db) == [eid]


def test_bad_payload_settles_the_event_and_is_logged_as_an_error(rig, bus, caplog):
    caplog.set_level(logging.INFO, "phucvu.bridge")
    box, bridge, listener, ledger = rig()
    box.press("next")
    box.rate(1)
    key_id = listener.wait_for(lambda t, b: t == "counter/1/command")["command_id"]
    core = bus(FAKE_CORE)
    core.publish("counter/1/reply", {"command_id": key_id, "ok": False,
                                     "error": {"code": "bad_payload", "message": "boot: bad"}})
    rating_id = listener.wait_for(lambda t, b: t == "counter/1/rating")["rating_id"]
    core.publish("counter/1/reply", {"rating_id": rating_id, "ok": False,
                                     "error": {"code": "bad_payload", "message": "level: bad"}})
    wait_until(lambda: box.pending() == 0, what="both events settled")
    assert bridge.stats["bad_payload"] == 2 and ledger.count() == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(key_id in m and "malformed" in m for m in errors)
    assert any(rating_id in m and "malformed" in m for m in errors)
    assert box.board.beeps.count(M.BEEP_ERROR) == 1      # the key beeps, the citizen's button not


def test_a_payload_bug_names_the_event_and_never_blocks_it(rig, core, monkeypatch, caplog):
    caplog.set_level(logging.INFO, "phucvu.bridge")

    def broken(self, ev, device, eid, paused):
        raise KeyError("a bug")

    monkeypatch.setattr(Payloads, "_body", broken)
    box, bridge, listener, ledger = rig()
    box.press("next")
    eid = event_id("box-1", box.fw.boot, 1)
    wait_until(lambda: box.accepted, what="the press accepted")
    wait_until(lambda: box.pending() == 0, what="the event settled despite the bug")
    assert bridge.stats["payload_bugs"] == 1
    assert any(eid in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert stored_commands(core.db) == [eid]     # the bare fields were a valid command


def test_a_payload_the_contract_refuses_is_sent_and_settled_by_the_core(rig, core, monkeypatch, caplog):
    caplog.set_level(logging.INFO, "phucvu.bridge")
    from kiosk import contract

    def off_contract(self, ev, device, eid, paused):
        body = {"command_id": eid, "action": "next", "device": device, "boot": str(ev.boot),
                "device_time_ms": ev.time_ms}
        return self.topics.counter_command(self.counter), body, contract.CounterCommand

    monkeypatch.setattr(Payloads, "_body", off_contract)
    box, bridge, listener, ledger = rig()
    box.press("next")
    eid = event_id("box-1", box.fw.boot, 1)
    reply = listener.wait_for(lambda t, b: t == "counter/1/reply" and b.get("command_id") == eid)
    assert reply["ok"] is False and reply["error"]["code"] == "bad_payload"
    wait_until(lambda: box.pending() == 0, what="a bad payload settled")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(eid in m and "does not fit the contract" in m for m in errors)
    assert any(eid in m and "malformed" in m for m in errors)


def test_unconfirmed_events_are_bounded_oldest_first():
    out = Outstanding(cap=3)
    for i in range(3):
        assert out.put(f"e{i}", Unconfirmed(("b", 1, i), "key", "t", {}, float(i))) == []
    out.put("e0", out.get("e0"))                       # republished: now the newest
    assert out.put("e3", Unconfirmed(("b", 1, 3), "key", "t", {}, 3.0)) == ["e1"]
    assert len(out) == 3 and "e1" not in out and "e0" in out
    assert out.pop("e0").key == ("b", 1, 0) and out.pop("e0") is None


# ------------------------------------------------------------------ display and links
def test_display_and_leds_follow_the_retained_counter_state(rig, bus):
    box, bridge, listener, _ = rig()
    core = bus(FAKE_CORE)
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
    core = bus(FAKE_CORE)
    core.publish("counter/1/state", {"counter": 1, "status": "paused", "current": None}, retain=True)
    wait_until(lambda: (bridge.state or {}).get("status") == "paused", what="state at the bridge")
    box.press("pause")
    assert listener.wait_for(lambda t, b: t == "counter/1/command")["action"] == "resume"


def test_a_box_with_the_wrong_id_is_refused(rig):
    box, bridge, listener, ledger = rig(box_id="box-9", wait_hello=False, device_id="box-1")
    wait_until(lambda: bridge.stats["refused"] > 0, what="the HELLO refused")
    box.press("next")
    written = box.board.written
    wait_until(lambda: box.board.written > written + 60, what="the box retransmitting")
    assert box.pending() == 1 and ledger.count() == 0 and commands(listener) == []
    assert bridge.port.hello is None


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


def test_unplug_mid_frame_and_replug_commits_every_press_once(rig, core):
    box, bridge, listener, _ = rig()
    box.press("next")
    box.press("no_show")
    wait_until(lambda: len(box.accepted) == 2, what="presses accepted")
    box.unplug(mid_frame=True)
    box.plug()
    box.press("finish")
    wait_until(lambda: len(box.accepted) == 3 and box.pending() == 0, what="all committed and acked")
    want = {event_id("box-1", b, s) for b, s, _, _ in box.accepted}
    stored = stored_commands(core.db)
    assert sorted(stored) == sorted(want) and len(box.boots) == 2


fuzz_bodies = st.one_of(
    st.binary(min_size=1, max_size=60).map(lambda b: b + b"\x00"),                 # noise
    st.binary(min_size=1, max_size=40).filter(                                      # valid CRC, bad message
        lambda b: b[0] != M.EVENT or len(b) != 15).map(framing.frame),
    st.tuples(st.integers(1, 2**32 - 1), st.integers(1, 9999), st.integers(0, 14), st.integers(0, 7)).map(
        lambda t: _flip(M.encode(M.Event(t[0], t[1], M.SRC_KEY, M.KEY_NEXT, 0)), t[2], t[3])),
)


def _flip(raw: bytes, pos: int, bit: int) -> bytes:
    b = bytearray(raw)
    b[pos % (len(b) - 1)] ^= 1 << bit
    return bytes(b)


def test_fuzzed_frames_count_nothing_and_break_nothing(rig, core):
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
    eid = event_id("box-1", box.fw.boot, 1)
    assert [c["command_id"] for c in commands(listener)] == [eid]
    assert commands(listener, "rating") == []
    assert stored_commands(core.db) == [eid] and stored_ratings(core.db) == []
    assert bridge.stats["bad_frames"] + bridge.stats["bad_messages"] > 0


def test_killed_bridge_leaves_presence_offline_by_last_will(tmp_path, broker, bus):
    import signal
    import subprocess
    import sys

    from tests.test_bridge_helpers import ROOT
    link = str(tmp_path / "by-id-box-2")
    box = SimBox("box-2", link, seed=3, hold_ms=2).start()
    watcher = bus(LISTENER)
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


def test_box_clocks_place_a_held_event_when_it_was_pressed():
    """A press the box held while the bridge was away: its HEARTBEATs date it."""
    clocks = BoxClocks()
    boot = ("box-1", 7)
    # heartbeats read 3 ms after they were sent: bridge time = box time + 1000 (+3)
    for box_ms in (0, 1000, 2000):
        clocks.learn(boot, box_ms, 1000 + box_ms + 3)
    # a press made at box time 2500, read by the bridge 40 s later (a replay):
    # placed at 3503, give or take the drift allowance over those 40 s (8 ms)
    assert 3503 <= clocks.learn(boot, 2500, 43_500) <= 3503 + 8
    # a press read at once is placed at its reading, never later
    assert clocks.learn(boot, 44_000, 45_001) == 45_001
    # another boot knows nothing yet: placed at its reading
    assert clocks.learn(("box-1", 8), 100, 50_000) == 50_000


def test_a_box_s_events_reach_the_core_in_the_order_they_were_made(rig, bus):
    """A later press never overtakes an earlier one the core has not confirmed."""
    box, bridge, listener, ledger = rig()          # no core yet
    box.press("finish")
    box.rate(1)
    box.rate(2)
    finish = listener.wait_for(lambda t, b: t == "counter/1/command")
    time.sleep(1.2)                                # the box retransmits meanwhile
    assert [t for t, _, _ in listener.messages if t.endswith("/rating")] == []
    assert bridge.stats["held"] == 2
    core = bus(FAKE_CORE)
    core.publish("counter/1/reply", {"command_id": finish["command_id"], "ok": True,
                                     "action": "finish", "counter": 1})
    first = listener.wait_for(lambda t, b: t == "counter/1/rating")
    assert first["level"] == 1
    core.publish("counter/1/reply", {"rating_id": first["rating_id"], "ok": True, "counted": True,
                                     "reason": None, "level": "rat-hai-long"})
    second = listener.wait_for(lambda t, b: t == "counter/1/rating" and b["level"] == 2)
    core.publish("counter/1/reply", {"rating_id": second["rating_id"], "ok": True, "counted": False,
                                     "reason": "extra_press", "level": "hai-long"})
    wait_until(lambda: box.pending() == 0, what="all three acked, in order")
    # each press was read before it was held: relay_rx_ms is the press, not the release
    assert second["relay_rx_ms"] < second["relay_tx_ms"] - 1000
