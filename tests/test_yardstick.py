"""The yardstick holds: no rating lost, forged, misjudged or misattributed.

Each test reproduces one way the rating path failed when tried from outside
(issue "The yardstick holds", items 1-9), first on the engine with both
clocks driven by the test, then with the real Mosquitto, core, bridge and a
simulated box on a pty.  The ACL matrix and client-id takeovers are in
tests/test_acl.py; the broker kill -9 with presses in flight in
tests/test_bridge_faults.py.
"""
from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from kiosk.core.engine import Engine
from kiosk.core.store import Store
from tests.conftest import DEMO_SITE, ROOT
from tests.test_bridge_helpers import serving_at_box, start_boxes, wait_until

LINK = "box-1:0000abcd"


class Clocks:
    def __init__(self):
        self.wall = 1795800000.0   # 2026-11-28 morning in Asia/Ho_Chi_Minh
        self.mono = 1000.0

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clocks():
    return Clocks()


@pytest.fixture
def engine(site, tmp_path, clocks):
    store = Store(tmp_path / "y.db")
    e = Engine(site, store, clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    store.add_official("nv01", "Nguyễn Văn An", None)
    store.add_official("nv02", "Lê Thị Bình", None)
    yield e
    store.close()


class Box:
    """The box's clock: milliseconds since its boot, advanced with the test's clocks."""

    def __init__(self, clocks, link=LINK):
        self.clocks, self.link = clocks, link
        self.boot_mono = clocks.mono - 500.0

    def now(self):
        return (self.link, int(round((self.clocks.mono - self.boot_mono) * 1000)))


# ------------------------------------------------------------- 3: press time
def test_presses_replayed_after_an_outage_are_judged_on_the_box_clock(engine, clocks):
    """Next, finish and rate made 2.2 s apart, all delivered within a millisecond."""
    box = Box(clocks)
    engine.run("login", 1, "nv01")
    engine.run("issue", "tu-phap", None)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=box.now())        # fresh: the link's clock is learnt
    clocks.advance(120)
    presses = []
    for what in ("next", "rate"):                      # made during a bridge outage
        presses.append((what, box.now()))
        clocks.advance(2.2)
    clocks.advance(1.5)                                 # the outage ends: all arrive at once
    engine.run("call_next", 1, press=presses[0][1])
    clocks.advance(0.001)
    e = engine.run("rate", 1, 1, rating_id="r1", press=presses[1][1])[-1]
    assert (e["counted"], e["reason"]) == (True, None)
    assert e["ticket_id"].endswith("A001") and e["official"] == "nv01"
    assert e["delivered_late"] is True
    assert e["pressed_at"] == pytest.approx(clocks.wall - 2.2 - 1.5 - 0.001, abs=0.05)


def test_same_link_replay_is_exact_even_with_no_earlier_press(engine, clocks):
    """A box never heard before, whose first presses all arrive late together."""
    box = Box(clocks, "box-2:00000001")
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)
    made = []
    made.append(box.now())
    clocks.advance(2.2)
    made.append(box.now())
    clocks.advance(30)
    engine.run("finish", 1, press=made[0])
    e = engine.run("rate", 1, 2, rating_id="r1", press=made[1])[-1]
    assert (e["counted"], e["reason"]) == (True, None)


def test_an_outage_longer_than_the_window_keeps_a_press_made_inside_it(engine, clocks, site):
    box = Box(clocks)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=box.now())
    clocks.advance(60)
    engine.run("finish", 1, press=box.now())            # delivered at once
    clocks.advance(20)
    made = box.now()                                    # inside the window
    clocks.advance(site.rating.window_s * 3)            # delivered long after it closed
    e = engine.run("rate", 1, 1, rating_id="late", press=made)[-1]
    assert (e["counted"], e["reason"], e["delivered_late"]) == (True, None, True)
    # while a press really made after the window is still after_window
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=box.now())
    engine.run("finish", 1, press=box.now())
    clocks.advance(site.rating.window_s + 5)
    e = engine.run("rate", 1, 1, rating_id="really-late", press=box.now())[-1]
    assert e["reason"] == "after_window"


class Relay:
    """The bridge's clock: its own monotonic milliseconds, on another origin."""

    def __init__(self, clocks, name="counter-1:00c0ffee"):
        self.clocks, self.name = clocks, name
        self.origin = clocks.mono - 77.0

    def ms(self):
        return int(round((self.clocks.mono - self.origin) * 1000))


def test_a_rebooted_box_whose_first_press_waits_out_a_core_outage(engine, clocks, site):
    """The box's new clock is unknown; the bridge that read the press places it."""
    relay = Relay(clocks)
    old = Box(clocks)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=old.now() + (relay.name, relay.ms(), relay.ms()))
    clocks.advance(30)
    engine.run("finish", 1, press=old.now() + (relay.name, relay.ms(), relay.ms()))
    new = Box(clocks, "box-1:0badb007")                 # rebooted right after finish
    clocks.advance(5)
    made, rx = new.now(), relay.ms()                    # the citizen presses; the bridge reads it
    clocks.advance(70)                                  # ... but the core is down past the window
    tx = relay.ms()
    e = engine.run("rate", 1, 1, rating_id="r", press=made + (relay.name, rx, tx))[-1]
    assert (e["counted"], e["reason"], e["delivered_late"]) == (True, None, True)
    assert e["pressed_at"] == pytest.approx(clocks.wall - 70, abs=0.05)
    # without the bridge's clock the same press could only be placed at its arrival
    new2 = Box(clocks, "box-1:0badb008")
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)
    engine.run("finish", 1)
    clocks.advance(5)
    made = new2.now()
    clocks.advance(70)
    assert engine.run("rate", 1, 1, rating_id="s", press=made)[-1]["reason"] == "after_window"


def test_a_burst_is_still_too_fast_on_the_box_clock(engine, clocks):
    box = Box(clocks)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=box.now())
    clocks.advance(30)
    engine.run("finish", 1, press=box.now())
    clocks.advance(3)
    burst = []
    for _ in range(4):
        burst.append(box.now())
        clocks.advance(0.2)
    clocks.advance(10)                                  # delivered slowly, 2 s apart
    reasons = []
    for i, made in enumerate(burst):
        reasons.append(engine.run("rate", 1, 1, rating_id=f"b{i}", press=made)[-1]["reason"])
        clocks.advance(2)
    assert reasons == [None, "too_fast", "too_fast", "too_fast"]


def test_a_press_made_before_finish_is_no_window(engine, clocks):
    """The citizen pressed before the official finished; the press arrives after."""
    box = Box(clocks)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=box.now())
    clocks.advance(10)
    early = box.now()
    clocks.advance(10)
    engine.run("finish", 1, press=box.now())
    e = engine.run("rate", 1, 1, rating_id="early", press=early)[-1]
    assert e["reason"] == "no_window" and e["ticket_id"] is None


def test_window_from_the_browser_and_press_from_the_box(engine, clocks, site):
    """Cross-source: the mapped press time decides, with the clock tolerance."""
    box = Box(clocks)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1, press=box.now())         # the link is learnt here
    clocks.advance(40)
    engine.run("finish", 1)                             # from the browser: no box clock
    clocks.advance(site.rating.window_s - 1)
    made = box.now()
    clocks.advance(30)                                  # arrives after the window
    e = engine.run("rate", 1, 1, rating_id="x", press=made)[-1]
    assert e["counted"]


def test_windows_and_box_clocks_survive_a_core_restart(site, tmp_path, clocks):
    path = tmp_path / "r.db"
    box = Box(clocks)
    e1 = Engine(site, Store(path), clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    e1.run("issue", "tu-phap", None)
    e1.run("call_next", 1, press=box.now())
    clocks.advance(30)
    e1.run("finish", 1, press=box.now())
    clocks.advance(2)
    made = box.now()                                    # pressed before the crash
    e1.store.close()
    clocks.advance(20)                                  # delivered after the restart
    e2 = Engine(site, Store(path), clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    assert e2.queue.state.links[LINK][0] == pytest.approx(e1.queue.state.links[LINK][0])
    e = e2.run("rate", 1, 1, rating_id="x", press=made)[-1]
    assert (e["counted"], e["reason"]) == (True, None)
    e2.store.close()


def test_a_reboot_of_the_core_machine_moves_windows_onto_the_new_clock(site, tmp_path, clocks):
    path = tmp_path / "b.db"
    e1 = Engine(site, Store(path), clock=lambda: clocks.wall, monotonic=lambda: clocks.mono,
                boot=lambda: "boot-a")
    e1.run("issue", "tu-phap", None)
    e1.run("call_next", 1)
    e1.run("finish", 1)
    e1.store.close()
    clocks.advance(20)
    clocks.mono = 7.0                                   # a new boot: monotonic starts again
    e2 = Engine(site, Store(path), clock=lambda: clocks.wall, monotonic=lambda: clocks.mono,
                boot=lambda: "boot-b")
    w = e2.queue.rating_window(1, clocks.mono)
    assert w is not None and w["left_s"] == pytest.approx(site.rating.window_s - 20, abs=0.01)
    e2.store.close()


# ------------------------------------------------------------- 4: attribution
def test_a_ticket_served_by_nobody_gives_an_unattributed_rating(engine, clocks):
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)                          # nobody logged in
    clocks.advance(60)
    engine.run("finish", 1)
    engine.run("login", 1, "nv01")                      # the newcomer
    clocks.advance(5)
    e = engine.run("rate", 1, 1, rating_id="r")[-1]
    assert e["counted"] and e["official"] is None


def test_anomalies_at_an_unattended_counter_belong_to_no_official(engine, clocks):
    engine.run("login", 3, "nv02")
    engine.run("logout", 3)
    clocks.advance(5)
    e = engine.run("rate", 3, 1, rating_id="r")[-1]
    assert (e["reason"], e["official"]) == ("no_window", None)
    engine.run("login", 3, "nv01")
    clocks.advance(5)
    assert engine.run("rate", 3, 1, rating_id="s")[-1]["official"] == "nv01"


# ------------------------------------------------ the real core on the bus
def _ratings(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, counted, reason, level FROM ratings ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_kill9_right_after_start_loses_no_press(core, bus):
    """1: presses queued while the core was down; the core killed 0-300 ms after it comes up."""
    core.stop()
    box = bus("counter-1")
    n = 800
    infos = [box.client.publish(f"{box.prefix}/counter/1/rating",
                                json.dumps({"rating_id": f"k{i}", "level": 1 + i % 3}), qos=1)
             for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)                    # the broker has them all
    rnd = random.Random(13)
    stored = []
    for delay in (0.0, 0.02, rnd.uniform(0.02, 0.3), 0.0):
        core.start()
        time.sleep(delay)
        core.proc.kill()
        core.proc.wait()
        core.logf.close()
        core.proc = None
        stored.append(len(_ratings(core.db)))
    assert stored[-1] < n, f"the core finished before the last kill: {stored}"
    core.start()
    wait_until(lambda: len(_ratings(core.db)) >= n, timeout=20, what=f"{n} presses stored")
    time.sleep(0.3)
    rows = _ratings(core.db)
    assert len(rows) == n and len({r[0] for r in rows}) == n


def test_every_press_is_confirmed_after_its_commit_and_a_bad_level_kept(core, bus):
    """5: a 5-button box on a 3-level site; the core confirms each press on counter/1/reply."""
    box = bus("counter-1")
    box.subscribe("counter/1/reply")
    for level in (4, 5):
        box.publish("counter/1/rating", {"rating_id": f"lv{level}", "level": level,
                                         "device": "box-1", "boot": 7, "device_time_ms": 1000 * level})
        reply = box.wait_for(lambda t, b, level=level: t == "counter/1/reply"
                             and b.get("rating_id") == f"lv{level}")
        assert reply == {"rating_id": f"lv{level}", "ok": True, "counted": False,
                         "reason": "bad_level", "level": f"level-{level}"}
    assert [r[2] for r in _ratings(core.db)] == ["bad_level", "bad_level"]
    # delivered again: the same confirmation, no second row
    box.publish("counter/1/rating", {"rating_id": "lv4", "level": 4,
                                     "device": "box-1", "boot": 7, "device_time_ms": 4000})
    box.wait_for(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == "lv4"
                 and len(box.messages) >= 3)
    assert len(_ratings(core.db)) == 2


@pytest.mark.parametrize("body, where", [
    ({"rating_id": "t1", "level": "1"}, "level"),
    ({"rating_id": "t2", "level": True}, "level"),
    ({"rating_id": "t3", "level": 1.0}, "level"),
    ({"rating_id": "t4", "level": 1, "device": "box-1"}, "go together"),
])
def test_loose_rating_types_are_refused_and_kept(core, bus, body, where):
    """8: no coercion; the refusal is a reply, and the payload is kept, not dropped."""
    box = bus("counter-1")
    box.subscribe("counter/1/reply")
    box.publish("counter/1/rating", body)
    reply = box.wait_for(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == body["rating_id"])
    assert reply["ok"] is False and reply["error"]["code"] == "bad_payload"
    assert where in reply["error"]["message"]
    assert _ratings(core.db) == []
    conn = sqlite3.connect(core.db)
    kept = conn.execute("SELECT topic, payload FROM rejected").fetchall()
    assert kept and json.loads(kept[-1][1]) == body


def test_loose_command_types_and_bad_topics_get_error_replies(core, bus):
    admin = bus("tester")
    admin.subscribe("counter/+/reply", "core/reply")
    admin.publish("core/command", {"command_id": "i1", "action": "issue", "field": "tu-phap"})
    admin.wait_for(lambda t, b: t == "core/reply" and b["command_id"] == "i1")
    bad = [("counter/1/command", {"command_id": "c1", "action": "transfer", "to_counter": "2"}),
           ("core/command", {"command_id": "c2", "action": "login", "official": "nv01",
                             "counter": True})]
    for topic, body in bad:
        admin.publish(topic, body)
        reply = admin.wait_for(lambda t, b, body=body: b and b.get("command_id") == body["command_id"])
        assert reply["ok"] is False and reply["error"]["code"] == "bad_payload", reply
    for segment in ("01", "-1", "abc", "1.0"):
        cid = f"topic-{segment}"
        admin.publish(f"counter/{segment}/command", {"command_id": cid, "action": "next"})
        reply = admin.wait_for(lambda t, b, cid=cid: t == f"counter/{segment}/reply"
                               and b.get("command_id") == cid)
        assert reply["error"]["code"] == "bad_topic", reply
    # and nothing was called at counter 1
    conn = sqlite3.connect(core.db)
    assert conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 0


def test_a_kiosk_cannot_rate_nor_take_another_kiosks_reply(core, bus):
    """6: the kiosk login publishes only its own ticket requests."""
    spy = bus("tester")
    spy.subscribe("ticket/reply/#")
    kiosk = bus("kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    kiosk.publish("counter/4/rating", {"rating_id": "forged", "level": 1})
    kiosk.publish("ticket/request/kiosk-2", {"request_id": "q0", "field": "tu-phap"})
    kiosk.publish("ticket/request/kiosk-1", {"request_id": "q1", "client": "kiosk-2",
                                              "field": "tu-phap"})
    reply = kiosk.wait_for(lambda t, b: t == "ticket/reply/kiosk-1" and b["request_id"] == "q1")
    assert reply["error"]["code"] == "bad_payload"
    kiosk.publish("ticket/request/kiosk-1", {"request_id": "q2", "field": "tu-phap"})
    ok = kiosk.wait_for(lambda t, b: t == "ticket/reply/kiosk-1" and b["request_id"] == "q2")
    assert ok["ok"] is True
    time.sleep(0.3)
    assert not [t for t, _, _ in spy.messages if t.endswith("ticket/reply/kiosk-2")]
    assert _ratings(core.db) == []
    conn = sqlite3.connect(core.db)
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1


def test_login_of_an_unknown_official_gets_a_reply(core, bus, broker):
    """9: an error reply at once, and the CLI says so in one line."""
    admin = bus("tester")
    admin.subscribe("core/reply")
    admin.publish("core/command", {"command_id": "l1", "action": "login", "official": "nobody",
                                   "counter": 1})
    reply = admin.wait_for(lambda t, b: t == "core/reply" and b["command_id"] == "l1")
    assert reply["ok"] is False and reply["error"]["code"] == "unknown_official"
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "login", "1", "nobody", "--config", str(DEMO_SITE),
         "--db", str(core.db), "--mqtt-port", str(broker.port),
         "--mqtt-password-file", str(broker.password_file("cli"))],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode != 0 and time.monotonic() - started < 10
    assert "nobody" in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------ the whole path with a box
def test_a_bridge_outage_does_not_make_a_citizens_press_too_fast(tmp_path, broker, core, bus):
    """3, end to end: finish and rate made 2.2 s apart while the bridge was down."""
    box, path, boxes, ledger, admin = serving_at_box(tmp_path, broker, bus, seed=5)
    try:
        time.sleep(0.5)
        for b in boxes:
            b.stop()
        box.press("finish")
        time.sleep(2.2)
        box.rate(1)
        time.sleep(0.5)
        boxes, ledger2 = start_boxes(path)
        judged = admin.wait_for(lambda t, b: t == "event/rating", timeout=10)
        assert (judged["counted"], judged["reason"]) == (True, None), judged
        wait_until(lambda: box.pending() == 0, what="the box's ring emptied")
        ledger2.close()
    finally:
        for b in boxes:
            b.stop()
        ledger.close()
        box.stop()
