"""A scenario month for the official pack, as rows in a real SQLite file.

The file is made by the core's store (its migrations: the real schema,
cases included); the month's tickets, presses, day closes and follow-up
cases are then written as rows, so every time below is exact and every
figure in tests/test_pack_*.py can be worked out by hand from this table.

Site: deploy/demo-site.toml plus [targets] below.  Wait targets: 20 min
(tu-phap, chung-thuc), 45 min (dat-dai); service targets: tu-phap 10
(minutes_per_citizen), chung-thuc 5, dat-dai 25 ([targets.fields]).

 #   day    label field       issued first call last call finish  state    ctr off   wait  service
 T1  02/11  A001  tu-phap     08:00  08:10      08:10     08:18   finished 1   nv01  10 ok  8 ok
 T2  02/11  A002  tu-phap     08:05  08:35      08:35     08:47   finished 1   nv01  30 X   12 late
 T3  02/11  B001  chung-thuc  08:10  08:15      08:15     08:19   finished 2   nv02  5 ok   4 ok
 T4  02/11  C001  dat-dai     09:00  09:40      09:40     10:10   finished 3   nv03  40 ok  30 late
 T5  02/11  B002  chung-thuc  09:10  -          -         -       expired  -   -     closed 17:00: 470 > 20, a miss
 T6  02/11  A003  tu-phap     16:50  -          -         -       expired  -   -     closed 17:00: 10 <= 20, no base
 T7  03/11  A001  tu-phap     10:00  10:50      10:50     10:55   finished 1   nv01  50 X   5 ok
 T8  03/11  B001  chung-thuc  10:05  10:10      10:10     -       no_show  2   nv02  5 ok   -
 T9  03/11  C001  dat-dai     10:20  11:30      11:30     11:50   finished 3   nv03  70 X   20 ok
 T10 03/11  A002  tu-phap     14:00  14:05      14:05     14:15   finished 2   nv02  5 ok   10 ok (= target)
 T11 30/11  A001  tu-phap     08:00  08:20      08:20     08:25   finished 1   nv01  20 ok (= target) 5 ok
 Outside November (must count nowhere): O1 31/10 and O2 01/12, waits of 200 minutes,
 rated "không hài lòng", O2 with a case.

Counted ratings: T1 rất hài lòng (box), T2 không hài lòng (phone, "cho-lau", with a
comment that must never reach the pack), T3 hài lòng, T4 hài lòng, T7 không hài lòng
(box), T9 không hài lòng (phone, "thai-do", "huong-dan"), T11 rất hài lòng.
Anomalies: nv01 too_fast and extra_press (T1), nv02 no_window (no ticket, 03/11 09:00),
nv03 after_window (T4).
Cases: #1 T2 due 05/11 17:00 closed 04/11 10:00 (on time); #2 T7 due 06/11 17:00
closed 07/11 09:00 (late); #3 T9 due 06/11 17:00 still open (overdue); #4 O2 (December).
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from kiosk import config as site_config

ROOT = Path(__file__).resolve().parent.parent
TARGETS = """
[targets]
wait_min = 20

[targets.fields.chung-thuc]
service_min = 5

[targets.fields.dat-dai]
wait_min = 45
service_min = 25
"""
COMMENT = "Cán bộ nói chuyện điện thoại riêng (SECRET-COMMENT)"


def site_with_targets(tmp: Path):
    text = (ROOT / "deploy" / "demo-site.toml").read_text(encoding="utf-8")
    path = tmp / "site.toml"
    path.write_text(text + TARGETS, encoding="utf-8")
    return site_config.load(path)


def month_db(cfg, path: Path) -> Path:
    from kiosk.core.store import Store
    Store(path).close()
    tz = cfg.tz

    def at(day: str, hhmm: str | None) -> float | None:
        if hhmm is None:
            return None
        h, m = map(int, hhmm.split(":"))
        return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(h, m), tzinfo=tz).timestamp()

    # id, day, label, field, issued, first call, finish, state, counter, official, close_reason
    tickets = [
        ("T1", "2026-11-02", "A001", "tu-phap", "08:00", "08:10", "08:18", "finished", 1, "nv01", None),
        ("T2", "2026-11-02", "A002", "tu-phap", "08:05", "08:35", "08:47", "finished", 1, "nv01", None),
        ("T3", "2026-11-02", "B001", "chung-thuc", "08:10", "08:15", "08:19", "finished", 2, "nv02",
         None),
        ("T4", "2026-11-02", "C001", "dat-dai", "09:00", "09:40", "10:10", "finished", 3, "nv03", None),
        ("T5", "2026-11-02", "B002", "chung-thuc", "09:10", None, None, "no_show", None, None,
         "day_closed"),
        ("T6", "2026-11-02", "A003", "tu-phap", "16:50", None, None, "no_show", None, None,
         "day_closed"),
        ("T7", "2026-11-03", "A001", "tu-phap", "10:00", "10:50", "10:55", "finished", 1, "nv01", None),
        ("T8", "2026-11-03", "B001", "chung-thuc", "10:05", "10:10", None, "no_show", 2, "nv02", None),
        ("T9", "2026-11-03", "C001", "dat-dai", "10:20", "11:30", "11:50", "finished", 3, "nv03", None),
        ("T10", "2026-11-03", "A002", "tu-phap", "14:00", "14:05", "14:15", "finished", 2, "nv02",
         None),
        ("T11", "2026-11-30", "A001", "tu-phap", "08:00", "08:20", "08:25", "finished", 1, "nv01",
         None),
        ("O1", "2026-10-31", "A001", "tu-phap", "08:00", "11:20", "11:30", "finished", 1, "nv01", None),
        ("O2", "2026-12-01", "A001", "tu-phap", "08:00", "11:20", "11:30", "finished", 1, "nv01", None),
    ]
    ids = {t[0]: f"{t[1].replace('-', '')}-{t[2]}" for t in tickets}
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO officials (code, name, pin_hash, active) VALUES (?, ?, NULL, 1)",
                     [("nv01", "Nguyễn Văn An"), ("nv02", "Trần Thị Bình"),
                      ("nv03", "Lê Văn Cường")])
    conn.executemany("INSERT INTO days (day, started_at, closed_at) VALUES (?, ?, ?)",
                     [(d, at(d, "07:00"), at(d, "17:00")) for d in
                      ("2026-10-31", "2026-11-02", "2026-11-03", "2026-11-30", "2026-12-01")])
    for seq, (key, day, label, fld, issued, called, finished, state, counter, official,
              close) in enumerate(tickets, start=1):
        conn.execute(
            "INSERT INTO tickets (id, day, field, origin_field, number, label, priority, seq, "
            "issued_at, state, counter, target_counter, called_at, finished_at, recalls, "
            "transfers, close_reason, official, first_called_at) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL, ?, ?, 0, 0, ?, ?, ?)",
            (ids[key], day, fld, fld, int(label[1:]), label, seq, at(day, issued), state, counter,
             at(day, called), at(day, finished), close, official, at(day, called)))
    by_key = {t[0]: t for t in tickets}

    def rating(rid, key, level, *, counted=1, reason=None, source="bridge:counter-1",
               reasons=None, comment=None, minute_after=1, counter=None, official=None,
               at_time=None):
        t = by_key.get(key)
        when = at_time if at_time is not None else at(t[1], t[6]) + 60 * minute_after
        conn.execute(
            "INSERT INTO ratings (id, ticket_id, counter, level, level_index, at, counted, reason, "
            "official, field, source, payload, reasons, comment) "
            "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
            (rid, ids[key] if t else None, counter or t[8], level, when, counted, reason,
             official or (t[9] if t else None), t[3] if t else None, source,
             json.dumps(reasons) if reasons else None, comment))
        return rid

    rating("r1", "T1", "rat-hai-long")
    rating("r2", "T2", "khong-hai-long", source="phone", reasons=["cho-lau"], comment=COMMENT)
    rating("r3", "T3", "hai-long")
    rating("r4", "T4", "hai-long")
    rating("r7", "T7", "khong-hai-long")
    rating("r9", "T9", "khong-hai-long", source="phone", reasons=["thai-do", "huong-dan"])
    rating("r11", "T11", "rat-hai-long")
    rating("rO1", "O1", "khong-hai-long")
    rating("rO2", "O2", "khong-hai-long")
    rating("a1", "T1", "hai-long", counted=0, reason="too_fast", minute_after=1.01)
    rating("a2", "T1", "hai-long", counted=0, reason="extra_press", minute_after=1.5)
    rating("a3", None, "rat-hai-long", counted=0, reason="no_window", counter=2, official="nv02",
           at_time=at("2026-11-03", "09:00"))
    rating("a4", "T4", "rat-hai-long", counted=0, reason="after_window", minute_after=5)
    # id, rating, ticket key, opened (rating time), due, status, closed
    cases = [
        (1, "r2", "T2", at("2026-11-05", "17:00"), "closed", at("2026-11-04", "10:00")),
        (2, "r7", "T7", at("2026-11-06", "17:00"), "closed", at("2026-11-07", "09:00")),
        (3, "r9", "T9", at("2026-11-06", "17:00"), "open", None),
        (4, "rO2", "O2", at("2026-12-04", "17:00"), "open", None),
    ]
    for cid, rid, key, due, status, closed in cases:
        t = by_key[key]
        r = conn.execute("SELECT level, source, reasons, at FROM ratings WHERE id = ?",
                         (rid,)).fetchone()
        conn.execute(
            "INSERT INTO cases (id, rating_id, ticket_id, day, field, counter, official, level, "
            "source, reasons, opened_at, due_at, status, looked_at, closed_at, closed_by, note, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)",
            (cid, rid, ids[key], t[1], t[3], t[8], t[9], r[0], r[1], r[2], r[3], due, status,
             closed, "head01" if closed else None, "Đã gọi điện xin lỗi." if closed else None,
             closed or r[3]))
    conn.commit()
    conn.close()
    return path
