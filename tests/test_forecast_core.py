"""The wait forecast in the core: figures learned from the file's recent
days, the wait told at issue journaled and kept in ``tickets`` (schema 10),
the same after a reload and a replay, and an old file upgraded.

Real parts: SQLite files, the engine with its clock driven.  The figures
are worked out by hand from the services played.
"""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from kiosk.core.domain import Queue
from kiosk.core.domain.forecast import ServiceFigure
from kiosk.core.engine import Engine
from kiosk.core.schema import MIGRATIONS
from kiosk.core.store import Store
from tests.test_forecast import TZ, site


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def at(day: int, h: int, m: int = 0) -> float:
    return dt.datetime(2026, 11, day, h, m, tzinfo=TZ).timestamp()


def serve_day(engine: Engine, clock: Clock, day: int, services: list[float]) -> None:
    """Issue len(services) 'a' tickets at 8:00, one a minute, and serve them
    one after the other at counter 1 with these service times."""
    clock.t = at(day, 8)
    for _ in services:
        engine.run("issue", "a", None)
        clock.t += 60
    for s in services:
        engine.run("call_next", 1)
        clock.t += s
    engine.run("finish", 1)


def test_the_engine_learns_the_last_days_and_tells_each_ticket_its_wait(tmp_path):
    cfg = site({1: ["a"], 2: ["b"]})
    clock = Clock(at(25, 8))
    store = Store(tmp_path / "q.db")
    engine = Engine(cfg, store, clock=clock, monotonic=clock, boot=lambda: "b")
    assert engine.queue.figures is None                 # a new centre: nothing to learn from
    serve_day(engine, clock, 25, [200, 400])
    serve_day(engine, clock, 26, [300, 500])
    clock.t = at(27, 9)
    engine.run("issue", "a", None)                      # the day moves on: learned from 25 and 26
    figs = engine.queue.figures
    assert figs.fields["a"] == ServiceFigure(350.0, pytest.approx((5 * 100 ** 2 / 3) ** 0.5))
    assert "b" not in figs.fields                       # no history: the live window tells it
    # Each day issued 8:00-8:01 (a quarter hour counted): 2 / 0.25 = 8 an hour.
    assert figs.arrivals_per_h == {("a", False, 8): pytest.approx(8.0)}
    # Counter 1 is idle: the first ticket of the day is told 0; a second is
    # told the learned mean (350 s) from then, a b ticket 0 (counter 2).
    engine.run("issue", "a", None)
    engine.run("call_next", 1)
    clock.t += 50
    e = engine.run("issue", "a", None)[-1]
    assert e["est_wait_s"] == pytest.approx(350 - 50 + 350, abs=0.1)
    assert engine.run("issue", "b", None)[-1]["est_wait_s"] == 0
    row = store.conn.execute("SELECT est_wait_s, est_low_s, est_high_s FROM tickets WHERE id = ?",
                             (e["ticket_id"],)).fetchone()
    assert row == (e["est_wait_s"], e["est_low_s"], e["est_high_s"])
    assert row[1] < row[0] < row[2]                     # a spread was learned: a range
    store.close()
    # After a restart (the state loaded from the tickets table) and a
    # replay of the journal, the ticket still carries what it was told.
    store = Store(tmp_path / "q.db")
    try:
        again = Engine(cfg, store, clock=clock, monotonic=clock, boot=lambda: "b")
        t = again.ticket(e["ticket_id"])
        assert (t.est_wait_s, t.est_low_s, t.est_high_s) == row
        replayed = Queue.replay(cfg, store.journal()).state.tickets[e["ticket_id"]]
        assert (replayed.est_wait_s, replayed.est_low_s, replayed.est_high_s) == row
        assert again.queue.figures.fields["a"].mean_s == 350.0
    finally:
        store.close()


def test_learning_skips_the_day_closes_expired_tickets_and_counts_no_shows(tmp_path):
    cfg = site({1: ["a"]}, fields=("a",))
    clock = Clock(at(25, 8))
    store = Store(tmp_path / "q.db")
    engine = Engine(cfg, store, clock=clock, monotonic=clock, boot=lambda: "b")
    for _ in range(3):
        engine.run("issue", "a", None)
    engine.run("call_next", 1)
    clock.t += 600
    engine.run("finish", 1)                             # a service of 600 s
    engine.run("call_next", 1)
    clock.t += 60
    engine.run("no_show", 1)                            # a call that cost 60 s
    engine.run("close_day")                             # the third: expired, never called
    clock.t = at(26, 8)
    engine.run("issue", "a", None)
    try:
        assert engine.queue.figures.fields["a"].mean_s == 330.0
    finally:
        store.close()


def test_a_schema_9_file_upgrades_and_its_old_tickets_were_told_nothing(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for sql in MIGRATIONS[:9]:
        conn.executescript(sql)
    conn.execute("PRAGMA user_version = 9")
    conn.execute("INSERT INTO days (day, started_at) VALUES ('2026-11-26', ?)", (at(26, 7),))
    conn.execute("INSERT INTO tickets (id, day, field, origin_field, number, label, priority, seq, "
                 "issued_at, state, called_at, finished_at) VALUES ('20261126-A001', '2026-11-26', "
                 "'a', 'a', 1, 'A001', NULL, 1, ?, 'finished', ?, ?)",
                 (at(26, 8), at(26, 8, 5), at(26, 8, 9)))
    conn.commit()
    conn.close()
    store = Store(db)
    try:
        assert store.schema_version == len(MIGRATIONS) >= 10
        clock = Clock(at(27, 8))
        engine = Engine(site({1: ["a"]}, fields=("a",)), store, clock=clock, monotonic=clock,
                        boot=lambda: "b")
        engine.run("issue", "a", None)
        # Learned from the old file's day: one service of 4 minutes.
        assert engine.queue.figures.fields["a"] == ServiceFigure(240.0, 0.0)
    finally:
        store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT est_wait_s FROM tickets WHERE id = '20261126-A001'").fetchone() == (None,)
    conn.close()


def test_the_days_report_carries_its_estimate_error_worked_by_hand(tmp_path):
    from kiosk.reports import build
    cfg = site({1: ["a"], 2: ["b"]})
    clock = Clock(at(26, 8))
    store = Store(tmp_path / "q.db")
    engine = Engine(cfg, store, clock=clock, monotonic=clock, boot=lambda: "b")
    try:
        # No history: the configured 5 minutes (300 s, sd 180) tell the waits.
        told = []
        for _ in range(3):
            told.append(engine.run("issue", "a", None)[-1])
        b = engine.run("issue", "b", None)[-1]
        engine.run("pause", 2)
        c = engine.run("issue", "b", None)[-1]          # counter 2 paused: told nothing
        assert [e["est_wait_s"] for e in told] == [0, 300, 600] and b["est_wait_s"] == 0
        assert c["est_wait_s"] is None
        engine.run("call_next", 1)                       # A001 after 0 s: error 0
        clock.t += 420
        engine.run("call_next", 1)                       # A002 after 420 s: told 300, error 2 min
        clock.t += 600
        engine.run("call_next", 1)                       # A003 after 1020 s: told 600, error 7 min
        engine.run("resume", 2)
        engine.run("call_next", 2)                       # B001, told 0, real 1020 s: 17 min
        engine.run("call_next", 2)                       # B002, told nothing
        engine.run("finish", 1)
        engine.run("finish", 2)
    finally:
        store.close()
    report, _ = build(cfg, tmp_path / "q.db", dt.date(2026, 11, 26), dt.date(2026, 11, 26),
                      ["day", "field"])
    day = report.breakdowns["day"].groups[0]
    assert day.key == "2026-11-26" and day.est_n == 4
    assert day.est_mae == pytest.approx((0 + 2 + 7 + 17) / 4)
    assert day.est_within_5 == pytest.approx(2 / 4)
    by_field = {f.key: f for f in report.breakdowns["field"].groups}
    assert by_field["a"].est_mae == pytest.approx(3.0) and by_field["b"].est_n == 1


# ---------------------------------------------------------------- on the bus
@pytest.fixture
def rig(broker, bus, tmp_path):
    from tests.test_phone_core import Rig
    r = Rig(broker, bus, tmp_path)
    yield r
    r.core.stop()


def _field(body: dict, code: str) -> dict:
    return next(f for f in body["fields"] if f["field"] == code)


def test_a_real_core_tells_each_ticket_and_the_summary_its_wait(rig):
    """Demo site: land (dat-dai, 20 min a citizen, 12 min spread with no
    history) is served by counter 3 alone; nobody has been served yet."""
    since = rig.mark()
    told = [rig.core_command(action="issue", field="dat-dai")["ticket"] for _ in range(3)]
    # Counter 3 idle: the first at once, then one service (20 min) apart.
    assert [t["estimated_wait_min"] for t in told] == [0.0, 20.0, 40.0]
    # One counter: the range is a service's spread per service ahead,
    # 20 ± 1.2816 × 12 min for the second.
    assert told[1]["wait_low_min"] == pytest.approx(20 - 1.2816 * 12, abs=0.05)
    assert told[1]["wait_high_min"] == pytest.approx(20 + 1.2816 * 12, abs=0.05)
    # The summary follows within about a second of the last change: a new
    # land ticket would wait for three services.
    s = rig.wait(lambda t, b: t == "queue/summary"
                 and _field(b, "dat-dai")["waiting"] == 3
                 and _field(b, "dat-dai")["estimated_wait_min"] == 60.0, since, timeout=5)
    assert _field(s, "dat-dai")["wait_high_min"] > 60.0
    # Counter 3 paused: nobody serves land; the next ticket is told nothing
    # (the kiosk says "chờ quầy mở lại") and so is the summary.
    since = rig.mark()
    assert rig.counter(3, "pause")["ok"]
    t = rig.core_command(action="issue", field="dat-dai")["ticket"]
    assert (t["estimated_wait_min"], t["wait_low_min"], t["wait_high_min"]) == (None, None, None)
    rig.wait(lambda t, b: t == "queue/summary"
             and _field(b, "dat-dai")["estimated_wait_min"] is None
             and _field(b, "dat-dai")["waiting"] == 4, since, timeout=5)
    rig.wait(lambda t, b: t == "display/snapshot" and all(
        w["estimated_wait_min"] is None for w in b["waiting"] if w["field"] == "dat-dai"), since,
        timeout=5)
