"""The core cut off at the worst moments of a rating press, not at a timer's.

A wrapper runs the real ``phucvu core`` and SIGKILLs it at an exact point
of the press's path: right after the commit, before anything is published
(``after_commit``), or after the publications, before the broker is told it
may forget the press (``before_ack``).  After a restart the press must be
stored once, confirmed to its box, and its ``event/rating`` (what the
province counts) published: the core sends again every event after the
journal id the broker last confirmed (kiosk/core/service_outbox.py).
"""
from __future__ import annotations

import json
import sqlite3
import time

import pytest

from tests.conftest import CoreProcess

CUT = r"""
import os, signal, sys
from kiosk.core import service
where = sys.argv.pop(1)

def is_target(events):
    return any(e.get("rating_id") == "cut-me" for e in events)

if where == "after_commit":
    after = service.CoreService._after
    def cut_after(self, events):
        if is_target(events):
            os.kill(os.getpid(), signal.SIGKILL)
        return after(self, events)
    service.CoreService._after = cut_after
else:
    take = service.CoreService._take_messages
    def cut_take(self, batch):
        if any(b"cut-me" in m.payload for m in batch):
            self._ack = lambda msg: os.kill(os.getpid(), signal.SIGKILL)
        return take(self, batch)
    service.CoreService._take_messages = cut_take
sys.argv[0] = "phucvu"
from kiosk.cli import main
main()
"""


def ratings(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM ratings ORDER BY rowid")]
    finally:
        conn.close()


@pytest.mark.parametrize("where", ["after_commit", "before_ack"])
def test_a_press_cut_off_after_its_commit_reaches_the_province_once_stored(
        broker, bus, tmp_path, where):
    core = CoreProcess(broker, tmp_path / "phucvu.db")
    core.entry = ["-c", CUT, where]
    core.start()
    watch = bus("tester")
    watch.subscribe("event/rating", "counter/1/reply")
    box = bus("counter-1")
    try:
        box.publish("counter/1/rating", {"rating_id": "before", "level": 1})
        watch.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "before")
        box.publish("counter/1/rating", {"rating_id": "cut-me", "level": 2})
        core.proc.wait(15)
        assert core.proc.returncode == -9
        core.stop()
        assert ratings(core.db) == ["before", "cut-me"]         # committed before the cut
        seen = [json.loads(p) for t, p, _ in watch.messages if t.endswith("/event/rating")]
        if where == "after_commit":
            assert [b["rating_id"] for b in seen] == ["before"]   # the cut kept it from the bus
        core.entry = CoreProcess.entry
        core.start()
        event = watch.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "cut-me",
                               timeout=10)
        assert event["site"] and event["event_id"] and event["kind"] == "rating_pressed"
        reply = watch.wait_for(lambda t, b: t == "counter/1/reply" and b["rating_id"] == "cut-me",
                               timeout=10)
        assert reply["ok"] is True
        time.sleep(0.5)
        assert ratings(core.db) == ["before", "cut-me"]         # stored once
        assert "published again" in core.log.read_text()
        # A clean stop saves the mark: the next start sends nothing again.
        core.stop()
        offset = len(core.log.read_bytes())
        core.start()
        time.sleep(0.5)
        assert b"published again" not in core.log.read_bytes()[offset:]
    finally:
        core.stop()


def test_the_mark_rides_on_the_next_commit_and_only_the_rest_is_sent_again(broker, bus, tmp_path):
    """While busy, the mark is written with the next commit of events (no
    sync of its own): after a kill -9, only what came after it is sent again."""
    core = CoreProcess(broker, tmp_path / "phucvu.db").start()
    watch = bus("tester")
    watch.subscribe("event/rating")
    box = bus("counter-1")
    try:
        box.publish("counter/1/rating", {"rating_id": "early", "level": 1})
        early = watch.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "early")
        time.sleep(1.5)             # the outbox notes that the broker has it
        box.publish("counter/1/rating", {"rating_id": "late", "level": 1})
        late = watch.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "late")
        conn = sqlite3.connect(f"file:{core.db}?mode=ro", uri=True)
        mark = conn.execute("SELECT through FROM published").fetchone()[0]
        conn.close()
        assert early["event_id"] <= mark < late["event_id"]
        core.proc.kill()
        core.proc.wait()
        core.stop()
        watch.messages.clear()
        core.start()
        again = watch.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "late")
        assert again["event_id"] == late["event_id"]
        time.sleep(0.3)
        assert [json.loads(p)["rating_id"] for t, p, _ in watch.messages
                if t.endswith("/event/rating")] == ["late"]
    finally:
        core.stop()


def test_a_publication_made_while_disconnected_counts_once_the_broker_has_it(broker, site):
    """paho keeps a QoS 1 message published while it is not connected and
    sends it on the next connection, but its ``is_published()`` raises for
    it for ever; that stopped the core under tests/test_bridge_faults.py.
    The outbox reads such a message's own flag instead."""
    import threading

    from kiosk import contract
    from kiosk.core.service_outbox import taken
    client = contract.mqtt_client("tester-6", username="tester-6",
                                  password=broker.password("tester-6"), prefix=site.topic_prefix)
    info = client.publish(f"{site.topic_prefix}/event/rating", b"{}", qos=1)
    assert info.rc != 0 and taken(info) is False
    with pytest.raises(RuntimeError):
        info.is_published()         # what the core called before
    up = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: up.set()
    client.connect_async(broker.host, broker.port, 10)
    client.loop_start()
    try:
        assert up.wait(5)
        deadline = time.monotonic() + 5
        while not taken(info) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert taken(info)
    finally:
        client.loop_stop()
        client.disconnect()
