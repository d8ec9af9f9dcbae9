"""Ratings the centre can trust: counted once inside the window, everything
else kept as an anomaly with its reason.  Engine on a real SQLite file with
both clocks driven by the test; then the whole path box -> bridge -> core."""
import sqlite3
import time

import pytest

from kiosk.core.domain import DomainError
from kiosk.core.engine import Engine
from kiosk.core.store import Store
from tests.test_bridge_helpers import serving_at_box, wait_until


class Clocks:
    def __init__(self):
        self.wall = 1795800000.0   # 2026-11-28 morning in Asia/Ho_Chi_Minh
        self.mono = 1000.0

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def rig(site, tmp_path):
    clocks = Clocks()
    store = Store(tmp_path / "r.db")
    engine = Engine(site, store, clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    store.add_official("nv01", "Nguyễn Văn An", None)
    store.add_official("nv02", "Lê Thị Bình", None)
    engine.run("login", 1, "nv01")
    engine.run("login", 3, "nv02")
    seq = iter(range(1, 10_000))

    def press(counter, level, gap=2.0):
        clocks.advance(gap)
        events = engine.run("rate", counter, level, rating_id=f"r{next(seq)}")
        return events[-1]

    def serve(field="tu-phap", counter=1, minutes=5):
        engine.run("issue", field, None)
        clocks.advance(60)
        engine.run("call_next", counter)
        clocks.advance(minutes * 60)
        engine.run("finish", counter)

    return engine, clocks, press, serve


def rows(engine):
    return engine.store.conn.execute(
        "SELECT counter, ticket_id, level, counted, reason, official FROM ratings ORDER BY rowid").fetchall()


def test_first_press_in_the_window_is_the_rating(rig):
    engine, clocks, press, serve = rig
    serve()
    e = press(1, 1, gap=10)
    assert e["counted"] and e["reason"] is None and e["level"] == "rat-hai-long"
    assert e["official"] == "nv01" and e["field"] == "tu-phap"
    assert e["service_s"] == pytest.approx(300) and e["wait_s"] == pytest.approx(60)


def test_official_pressing_twenty_times_with_no_ticket(rig):
    engine, clocks, press, serve = rig
    reasons = [press(3, 1, gap=0.3)["reason"] for _ in range(20)]
    assert reasons[0] == "no_window" and set(reasons[1:]) == {"too_fast"}
    slow = [press(3, 1, gap=5)["reason"] for _ in range(20)]
    assert set(slow) == {"no_window"}
    assert all(not r[3] for r in rows(engine))          # zero counted
    assert len(rows(engine)) == 40                       # every press kept


def test_repeats_within_one_second(rig):
    engine, clocks, press, serve = rig
    serve()
    first = press(1, 1, gap=5)
    burst = [press(1, 1, gap=0.2) for _ in range(5)]
    assert first["counted"]
    assert [b["reason"] for b in burst] == ["too_fast"] * 5
    # The next citizen: the first press counts, the two that follow within
    # 0.1 s each are a burst.
    serve(counter=1)
    again = [press(1, 1, gap=0.1)["reason"] for _ in range(3)]
    assert again == [None, "too_fast", "too_fast"]


def test_press_after_the_window(rig):
    engine, clocks, press, serve = rig
    serve()
    late = press(1, 2, gap=61)     # the window is 60 s
    assert late["reason"] == "after_window" and not late["counted"]
    assert late["ticket_id"] is not None  # kept with the ticket it was too late for


def test_two_presses_for_one_ticket(rig):
    engine, clocks, press, serve = rig
    serve()
    a = press(1, 3, gap=3)
    b = press(1, 1, gap=3)
    assert a["counted"] and a["level"] == "khong-hai-long"
    assert b["reason"] == "extra_press" and b["ticket_id"] == a["ticket_id"]


def test_presses_at_other_counters_do_not_use_this_window(rig):
    engine, clocks, press, serve = rig
    serve(counter=1)
    assert press(3, 1, gap=3)["reason"] == "no_window"
    assert press(1, 1, gap=3)["counted"]


def test_next_also_opens_the_window_of_the_ticket_it_finishes(rig):
    engine, clocks, press, serve = rig
    engine.run("issue", "tu-phap", None)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)
    clocks.advance(120)
    engine.run("call_next", 1)                   # finishes A001, calls A002
    e = press(1, 2, gap=4)
    assert e["counted"] and e["ticket_id"].endswith("A001")


def test_no_show_and_transfer_open_no_window(rig):
    engine, clocks, press, serve = rig
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)
    engine.run("no_show", 1)
    assert press(1, 1)["reason"] == "no_window"


def test_calls_finishes_and_ratings_are_attributed(rig):
    engine, clocks, press, serve = rig
    serve(counter=1)
    press(1, 1, gap=3)
    engine.run("login", 1, "nv02")     # nv02 moves to counter 1, leaving counter 3
    serve(counter=1)
    press(1, 2, gap=3)
    officials = [r[5] for r in rows(engine)]
    assert officials == ["nv01", "nv02"]
    tickets = engine.store.conn.execute("SELECT label, official FROM tickets ORDER BY seq").fetchall()
    assert tickets == [("A001", "nv01"), ("A002", "nv02")]
    sessions = engine.store.conn.execute(
        "SELECT official, counter, logout_at IS NOT NULL FROM official_sessions ORDER BY id").fetchall()
    assert sessions == [("nv01", 1, 1), ("nv02", 3, 1), ("nv02", 1, 0)]


def test_unknown_official_is_refused_and_a_bad_level_kept(rig):
    engine, clocks, press, serve = rig
    with pytest.raises(DomainError, match="no active official"):
        engine.run("login", 2, "ghost")
    serve()
    clocks.advance(5)
    e = engine.run("rate", 1, 7, rating_id="x")[-1]
    # A button the site has no level for is a press all the same: kept.
    assert (e["counted"], e["reason"], e["level"]) == (False, "bad_level", "level-7")
    assert engine.store.has_rating("x")
    # ... and it neither uses up the window nor makes the next press too fast.
    clocks.advance(0.3)
    assert engine.run("rate", 1, 2, rating_id="y")[-1]["counted"]


def test_a_core_restart_keeps_the_window_open(site, tmp_path):
    clocks = Clocks()
    path = tmp_path / "w.db"
    engine = Engine(site, Store(path), clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)
    engine.run("finish", 1)
    engine.store.close()
    engine = Engine(site, Store(path), clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    clocks.advance(5)
    e = engine.run("rate", 1, 1, rating_id="after-restart")[-1]
    assert e["counted"] and e["ticket_id"].endswith("A001")
    assert engine.store.has_rating("after-restart")


# ------------------------------------------------------------ the whole path
def test_box_finish_lights_leds_and_one_press_is_counted(tmp_path, broker, core, bus):
    box, _, boxes, ledger, admin = serving_at_box(tmp_path, broker, bus, seed=3)
    try:
        box.press("finish")
        wait_until(lambda: box.display()[1] == 0b111, what="rating LEDs lit after finish")
        time.sleep(1.1)                       # a person, not a burst
        box.rate(1)
        counted = admin.wait_for(lambda t, b: t == "event/rating")
        assert counted["counted"] and counted["level"] == "rat-hai-long"
        wait_until(lambda: box.display()[1] == 0, what="LEDs off once rated")
        box.rate(1)                           # a second press for the same citizen
        extra = admin.wait_for(lambda t, b: t == "event/rating" and not b["counted"])
        assert extra["reason"] in ("extra_press", "too_fast")
        conn = sqlite3.connect(core.db)
        assert conn.execute("SELECT COUNT(*), SUM(counted) FROM ratings").fetchone() == (2, 1)
    finally:
        for b in boxes:
            b.stop()
        ledger.close()
        box.stop()
