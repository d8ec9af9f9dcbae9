"""Reports over whole days played through the real engine into a real SQLite file.

The scenario files (tests/scenarios/reports-*.toml) are timed operations;
every expected figure below is worked out by hand from them, with the
arithmetic in the comments.  Percentiles are nearest-rank: the value at
rank ceil(p/100 * n) of the sorted samples (docs/reports.md).
"""
from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from kiosk.reports import build, report_main

SCENARIOS = Path(__file__).parent / "scenarios"
DAY = dt.date(2026, 11, 27)


def run_scenario(cfg, name: str, db: Path) -> Path:
    """Play a scenario file through Engine + Store; returns the database path."""
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store

    spec = tomllib.loads((SCENARIOS / name).read_text(encoding="utf-8"))
    day = dt.date.fromisoformat(spec["day"])
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=cfg.tz).timestamp()
    clock = [midnight]
    store = Store(db)
    engine = Engine(cfg, store, clock=lambda: clock[0], monotonic=lambda: clock[0] - midnight)
    for code, name_ in spec.get("officials", []):
        store.add_official(code, name_, pin_hash=None)
    for step in spec["step"]:
        step = dict(step)
        h, m, s = step.pop("at").split(":")
        at = midnight + int(h) * 3600 + int(m) * 60 + float(s)
        op, args = step.pop("op"), step.pop("args", [])
        repeat, every = step.pop("repeat", 1), step.pop("every", 0.0)
        if op == "issue":
            step.setdefault("priority", None)
        base_id = step.get("rating_id")
        for i in range(repeat):
            clock[0] = at + i * every
            kwargs = dict(step)
            if repeat > 1:
                kwargs["rating_id"] = f"{base_id}{i + 1:02d}"
            engine.run(op, *args, **kwargs)
    store.close()
    return db


@pytest.fixture
def ordinary_day(site, tmp_path):
    return run_scenario(site, "reports-ngay-thuong.toml", tmp_path / "day.db")


@pytest.fixture
def gaming_day(site, tmp_path):
    return run_scenario(site, "reports-gian-lan.toml", tmp_path / "gaming.db")


def groups(report, by):
    return {f.key: f for f in report.breakdowns[by].groups}


def approx(x):
    return pytest.approx(x, abs=1e-9)


# Final tickets of the ordinary day (wait = first call - issue; service =
# finish - last call; minutes):
#   A001 tu-phap        c1 nv01 finished  wait 08:05-08:00 = 5.0   service 08:12-08:05 = 7.0  (<= 10 on time)
#   A002 tu-phap->chung-thuc, priority, transferred once
#                       c2 nv02 finished  wait 08:12:30-08:01 = 11.5  service 08:25-08:22 = 3.0  (<= 5 on time)
#   B001 chung-thuc     c2 nv02 finished  wait 08:06-08:02 = 4.0   service 08:13-08:06 = 7.0  (> 5 late)
#   A003 tu-phap        c2 nv02 no-show   wait 08:14-08:03 = 11.0  (the recall does not change it)
#   C001 dat-dai        c3 nv03 finished  wait 08:07-08:04 = 3.0   service 08:30-08:07 = 23.0 (> 20 late)
#   E001 kinh-te        never called, expired at day close
#   B002 chung-thuc     c1 nv01 finished  wait 09:06-09:05 = 1.0   service 09:09-09:06 = 3.0  (<= 5 on time)
# Presses: r1 nv01 L1 counted; r2 nv02 L2 counted; r3 nv02 too_fast; r4 nv02
# extra_press; r5 nv02 after_window (A002); r6 nv03 L3 counted; r7 nv03
# after_window; r8 nv01 L2 counted; r9 counter 4 nobody no_window; r10
# counter 4 nobody too_fast.

def test_ordinary_day_by_official(site, ordinary_day):
    report, names = build(site, ordinary_day, DAY, DAY, ["official"])
    assert names == {"nv01": "Nguyễn Văn An", "nv02": "Trần Thị Bích", "nv03": "Lê Hoàng Dũng",
                     "nv04": "Phạm Minh Đức", "nv05": "Vũ Thị Hoa"}
    g = groups(report, "official")
    # nv04 sat at counter 4 from 10:00 to 10:30 and served nobody: a row of
    # zeros.  nv05 never logged in that day: no row.
    assert list(g) == ["nv01", "nv02", "nv03", "nv04", None]
    d = g["nv04"]
    assert (d.issued, d.served, d.rated, d.anomalies) == (0, 0, 0, 0)
    assert d.wait_p50 is None and d.satisfaction is None

    a = g["nv01"]                    # A001, B002
    assert (a.issued, a.served, a.no_show, a.expired, a.transferred) == (2, 2, 0, 0, 0)
    # waits [1.0, 5.0]: p50 rank ceil(1.0)=1 -> 1.0; p90 rank ceil(1.8)=2 -> 5.0
    assert (a.wait_p50, a.wait_p90) == (approx(1.0), approx(5.0))
    # services [3.0, 7.0]
    assert (a.service_p50, a.service_p90) == (approx(3.0), approx(7.0))
    assert a.levels == {"rat-hai-long": 1, "hai-long": 1, "khong-hai-long": 0}
    assert a.satisfaction == 1.0 and a.rated_share == 1.0      # 2/2, 2 rated / 2 served
    assert a.anomalies == 0 and a.priority_share == 0.0
    assert a.on_time_share == 1.0                               # 7 <= 10, 3 <= 5

    b = g["nv02"]                    # A002 (called last by nv02), B001, A003
    assert (b.issued, b.served, b.no_show, b.expired, b.transferred) == (3, 2, 1, 0, 1)
    # waits [4.0, 11.0, 11.5]: p50 rank ceil(1.5)=2 -> 11.0; p90 rank ceil(2.7)=3 -> 11.5
    assert (b.wait_p50, b.wait_p90) == (approx(11.0), approx(11.5))
    assert (b.service_p50, b.service_p90) == (approx(3.0), approx(7.0))
    assert b.levels == {"rat-hai-long": 0, "hai-long": 1, "khong-hai-long": 0}
    assert b.satisfaction == 1.0                                # 1/1
    assert b.rated_share == 0.5                                 # 1 rated / 2 served
    assert b.anomalies == 3
    assert b.reasons == {"no_window": 0, "after_window": 1, "extra_press": 1, "too_fast": 1, "bad_level": 0}
    assert b.priority_share == approx(1 / 3)                    # A002 of 3
    assert b.on_time_share == 0.5                               # A002 3<=5 yes, B001 7>5 no

    c = g["nv03"]                    # C001
    assert (c.issued, c.served, c.wait_p50, c.service_p90) == (1, 1, approx(3.0), approx(23.0))
    assert c.levels["khong-hai-long"] == 1 and c.satisfaction == 0.0   # 0 of 1 satisfied
    assert c.reasons["after_window"] == 1 and c.on_time_share == 0.0   # 23 > 20

    n = g[None]                      # E001 and the presses at counter 4
    assert (n.issued, n.served, n.expired, n.no_show) == (1, 0, 1, 0)
    assert n.wait_p50 is None and n.service_p50 is None
    assert n.satisfaction is None and n.rated_share is None and n.on_time_share is None
    assert n.reasons == {"no_window": 1, "after_window": 0, "extra_press": 0, "too_fast": 1, "bad_level": 0}

    t = report.breakdowns["official"].total
    assert (t.issued, t.served, t.no_show, t.expired, t.transferred) == (7, 5, 1, 1, 1)
    # waits [1, 3, 4, 5, 11, 11.5]: p50 rank 3 -> 4.0; p90 rank ceil(5.4)=6 -> 11.5
    assert (t.wait_p50, t.wait_p90) == (approx(4.0), approx(11.5))
    # services [3, 3, 7, 7, 23]: p50 rank ceil(2.5)=3 -> 7.0; p90 rank ceil(4.5)=5 -> 23.0
    assert (t.service_p50, t.service_p90) == (approx(7.0), approx(23.0))
    assert t.levels == {"rat-hai-long": 1, "hai-long": 2, "khong-hai-long": 1}
    assert t.satisfaction == 0.75                               # 3 of 4
    assert t.rated_share == 0.8                                 # 4 of 5 served
    assert t.anomalies == 6
    assert t.reasons == {"no_window": 1, "after_window": 2, "extra_press": 1, "too_fast": 2, "bad_level": 0}
    assert t.priority_share == approx(1 / 7)
    assert t.on_time_share == 0.6                               # A001, A002, B002 of 5


def test_ordinary_day_by_field_counter_and_hour(site, ordinary_day):
    report, _ = build(site, ordinary_day, DAY, DAY)
    f = groups(report, "field")
    # Config order, then the presses tied to no field.
    assert list(f) == ["tu-phap", "chung-thuc", "dat-dai", "kinh-te", None]
    tp = f["tu-phap"]
    # Issue side by origin field: A001, A002, A003; outcome side by the field
    # served in: A001 finished, A003 no-show (A002 finished in chung-thuc).
    assert (tp.issued, tp.transferred, tp.priority_share) == (3, 1, approx(1 / 3))
    assert (tp.served, tp.no_show) == (1, 1)
    # waits [5.0, 11.0, 11.5]: p50 rank 2 -> 11.0
    assert tp.wait_p50 == approx(11.0)
    assert tp.levels["rat-hai-long"] == 1 and tp.rated_share == 1.0
    ct = f["chung-thuc"]
    # Issued B001, B002; served B001, B002 and A002.
    assert (ct.issued, ct.served) == (2, 3)
    # services [3.0, 3.0, 7.0]: p50 rank 2 -> 3.0; p90 rank 3 -> 7.0
    assert (ct.service_p50, ct.service_p90) == (approx(3.0), approx(7.0))
    assert ct.on_time_share == approx(2 / 3)                    # B002, A002 within 5 min
    assert ct.levels["hai-long"] == 2 and ct.rated_share == approx(2 / 3)
    assert ct.anomalies == 3                                    # r3, r4 (B001), r5 (A002)
    assert f["kinh-te"].expired == 1 and f["kinh-te"].issued == 1
    assert f[None].anomalies == 2 and f[None].issued == 0

    c = groups(report, "counter")
    # Presses are grouped by the counter they were made at: counter 4 has
    # presses but no tickets; E001 was called nowhere.
    assert list(c) == [1, 2, 3, 4, None]
    assert (c[1].issued, c[2].issued, c[3].issued, c[None].issued) == (2, 3, 1, 1)
    assert c[4].issued == 0 and c[4].anomalies == 2 and c[4].rated_share is None
    assert c[None].anomalies == 0 and c[None].expired == 1

    h = groups(report, "hour")
    assert list(h) == [8, 9]
    # Hour of issue: 08h A001 A002 B001 A003 C001; 09h E001 B002.
    assert (h[8].issued, h[9].issued) == (5, 2)
    # 08h waits [3, 4, 5, 11, 11.5]: p50 rank 3 -> 5.0; p90 rank 5 -> 11.5
    assert (h[8].wait_p50, h[8].wait_p90) == (approx(5.0), approx(11.5))
    # A rating goes to its ticket's hour of issue (r1 r2 r6 -> 08h, r8 -> 09h);
    # presses with no ticket to the hour pressed (r9 r10 at 09:30).
    assert (h[8].rated, h[9].rated) == (3, 1)
    assert (h[8].anomalies, h[9].anomalies) == (4, 2)

    d = groups(report, "day")
    assert list(d) == ["2026-11-27"]
    assert d["2026-11-27"].issued == 7 and d["2026-11-27"].rated == 4


def test_gaming_presses_are_anomalies_not_ratings(site, gaming_day):
    report, _ = build(site, gaming_day, DAY, DAY, ["official", "counter"])
    o = groups(report, "official")
    # nv01: 20 presses with no ticket 2 s apart (no_window each), then two
    # presses after A001's 60 s window.  Nothing counted.
    a = o["nv01"]
    assert a.rated == 0 and a.satisfaction is None and a.rated_share == 0.0   # 0 of 1 served
    assert a.anomalies == 22
    assert a.reasons == {"no_window": 20, "after_window": 2, "extra_press": 0, "too_fast": 0, "bad_level": 0}
    # nv02: a burst of 10 presses 0.3 s apart: the first is B001's rating,
    # the other 9 are too fast; one more press 20 s later is extra.
    b = o["nv02"]
    assert b.rated == 1 and b.levels["rat-hai-long"] == 1
    assert b.reasons == {"no_window": 0, "after_window": 0, "extra_press": 1, "too_fast": 9, "bad_level": 0}
    c = groups(report, "counter")
    assert c[1].anomalies == 22 and c[2].anomalies == 10
    total = report.breakdowns["official"].total
    assert total.rated == 1 and total.anomalies == 32


def test_gaming_table_shows_anomaly_columns(site, gaming_day):
    text = report_main(site, gaming_day, date_from=DAY, date_to=DAY, by="official",
                       fmt="table", out=None)
    header = next(line for line in text.splitlines() if line.startswith("Mã cán bộ"))
    row = next(line for line in text.splitlines() if line.startswith("nv01"))
    cols = header.split("  ")
    assert "BT: không có lượt" in [c.strip() for c in cols if c.strip()]
    assert row.split()[:3] == ["nv01", "Nguyễn", "Văn"]
    # Unrated official: the satisfaction rate is shown as a dash, not 0 %.
    assert "—" in row


def test_period_outside_the_day_is_empty(site, ordinary_day):
    report, _ = build(site, ordinary_day, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3))
    assert report.breakdowns["official"].groups == []
    assert report.breakdowns["official"].total.issued == 0
    # The database was read, not written: the core can reopen it untouched.
    before = ordinary_day.read_bytes()
    build(site, ordinary_day, DAY, DAY)
    assert ordinary_day.read_bytes() == before


def test_report_reads_while_the_core_holds_the_database(site, tmp_path):
    # The core keeps the file open (WAL, its lock) all day; a report made
    # meanwhile sees every committed ticket and leaves the writer working.
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store

    noon = dt.datetime.combine(DAY, dt.time(12), tzinfo=site.tz).timestamp()
    store = Store(tmp_path / "live.db")
    engine = Engine(site, store, clock=lambda: noon, monotonic=lambda: 0.0)
    try:
        engine.run("issue", "tu-phap", None)
        report, _ = build(site, tmp_path / "live.db", DAY, DAY, ["field"])
        assert report.breakdowns["field"].total.issued == 1
        engine.run("issue", "tu-phap", None)
        report, _ = build(site, tmp_path / "live.db", DAY, DAY, ["field"])
        assert report.breakdowns["field"].total.issued == 2
    finally:
        store.close()


def test_schema_5_and_6_upgrade_an_older_database(site, tmp_path):
    """A database from before schema 5 gets each ticket's first call from its calls."""
    import sqlite3

    from kiosk.core.schema import MIGRATIONS
    from kiosk.core.store import Store

    db = run_scenario(site, "reports-ngay-thuong.toml", tmp_path / "day.db")
    conn = sqlite3.connect(db)
    expected = dict(conn.execute("SELECT id, first_called_at FROM tickets"))
    # Back to schema 4 as an older core left it: no column, the calls only,
    # and nothing of schema 6 (windows and box clocks kept, rejected messages).
    conn.execute("ALTER TABLE tickets DROP COLUMN first_called_at")
    conn.execute("ALTER TABLE counters DROP COLUMN judging")
    conn.execute("ALTER TABLE ratings DROP COLUMN pressed_at")
    conn.execute("ALTER TABLE ratings DROP COLUMN delivered_late")
    conn.execute("DROP TABLE box_clocks")
    conn.execute("DROP TABLE rejected")
    conn.execute("DROP TABLE config_versions")       # schema 7
    conn.execute("ALTER TABLE tickets DROP COLUMN rated")      # schema 8
    conn.execute("ALTER TABLE ratings DROP COLUMN reasons")
    conn.execute("ALTER TABLE ratings DROP COLUMN comment")
    conn.execute("DROP TABLE cases")                            # schema 9
    conn.execute("DROP TABLE case_log")
    for c in ("est_wait_s", "est_low_s", "est_high_s"):        # schema 10
        conn.execute(f"ALTER TABLE tickets DROP COLUMN {c}")
    conn.execute("DROP TABLE published")                         # schema 11
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    Store(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 11
    # Schema 11: what an older core published is not known; the mark starts
    # at the last journal id, so its next start sends nothing again.
    assert conn.execute("SELECT through FROM published").fetchone()[0] == \
        conn.execute("SELECT max(id) FROM journal").fetchone()[0] > 0
    # Schema 8: every counted rating so far came from a box.
    rated = conn.execute("SELECT COUNT(*) FROM tickets WHERE rated = 'box'").fetchone()[0]
    assert rated == conn.execute("SELECT COUNT(*) FROM ratings WHERE counted = 1").fetchone()[0] > 0
    assert conn.execute("SELECT COUNT(*) FROM ratings WHERE delivered_late = 0").fetchone()[0] > 0
    assert dict(conn.execute("SELECT id, first_called_at FROM tickets")) == expected
    # A003 was recalled: its first call is still the first, not the recall.
    a003 = conn.execute("SELECT first_called_at - issued_at FROM tickets WHERE label = 'A003'")
    assert a003.fetchone()[0] == 11 * 60
    # E001 was never called.
    assert conn.execute("SELECT first_called_at FROM tickets WHERE label = 'E001'").fetchone() == (None,)
    conn.close()
    report, _ = build(site, db, DAY, DAY, ["official"])
    assert report.breakdowns["official"].total.wait_p90 == approx(11.5)


def test_two_readers_share_a_snapshot_only_when_nothing_was_committed_between(site, tmp_path):
    """The report reads presses on a second connection only from the same snapshot."""
    import sqlite3

    from kiosk.core.read.period import REQUIRED, _same_snapshot
    from kiosk.core.read import open_readonly

    db = run_scenario(site, "reports-ngay-thuong.toml", tmp_path / "day.db")

    def append_journal_row():
        w = sqlite3.connect(db)
        w.execute("INSERT INTO journal (at, kind, payload) VALUES (0, 'test', '{}')")
        w.commit()
        w.close()

    class WriterSneaksIn:
        """The first reader, with a writer committing right after its snapshot began."""

        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            cur = self.conn.execute(sql, *args)   # the first step starts the snapshot
            if sql.startswith("SELECT MAX(id)"):
                append_journal_row()
            return cur

    a, b = open_readonly(db, REQUIRED), open_readonly(db, REQUIRED)
    assert _same_snapshot(a, b)
    a.execute("COMMIT")
    b.execute("COMMIT")
    # The second reader sees a newer journal on every try: not the same data,
    # so the report reads everything through the first connection.
    assert not _same_snapshot(WriterSneaksIn(a), b)
    assert not b.in_transaction
    a.close()
    b.close()
    report, _ = build(site, db, DAY, DAY, ["official"])
    assert report.breakdowns["official"].total.issued == 7
