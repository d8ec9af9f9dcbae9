"""The official pack's figures over the scenario month (tests/pack_helpers.py).

Every expected figure is worked out by hand from the scenario's table, with
the arithmetic in the comments; the code's output is never copied here.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from kiosk.core.read.period import read_period
from kiosk.reports import rules_of
from kiosk.reports.pack_figures import PACK_BREAKDOWNS, compute_pack, grade_share
from kiosk.reports.rates import (case_counts, in_wait_target_base, satisfaction_estimate,
                                 three_levels, within_wait_target)
from tests.pack_helpers import month_db, site_with_targets

NOV = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


@pytest.fixture
def month(tmp_path):
    cfg = site_with_targets(tmp_path)
    db = month_db(cfg, tmp_path / "month.db")
    # "Now" for the cases: 2 December 2026, noon (every November case is past due).
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=cfg.tz).timestamp()
    return cfg, _pack(cfg, db, now)


def _pack(cfg, db, now):
    rules = rules_of(cfg)
    good = tuple(c for c, g in rules.grades.items() if g != "khong-hai-long")
    period = read_period(db, *NOV, cfg.tz, PACK_BREAKDOWNS, pack=good)
    return compute_pack(period, rules, *NOV, now)


def approx(x):
    return pytest.approx(x, abs=1e-9)


def test_targets_come_from_the_config(month):
    cfg, _ = month
    assert [cfg.wait_target_min(f) for f in ("tu-phap", "chung-thuc", "dat-dai")] == [20, 20, 45]
    assert [cfg.service_target_min(f) for f in ("tu-phap", "chung-thuc", "dat-dai")] == [10, 5, 25]


def test_three_levels_and_share_rated(month):
    _, f = month
    r = f.report
    total = r.breakdowns["official"].total
    # Served: T1 T2 T3 T4 T7 T9 T10 T11 = 8 (T8 a no-show, T5 T6 expired; O1 O2 outside).
    # Counted ratings: T1 T2 T3 T4 T7 T9 T11 = 7; 7/8 = 87.5 % rated.
    assert (total.issued, total.served, total.rated) == (11, 8, 7)
    assert total.rated_share == approx(7 / 8)
    # Rất hài lòng T1 T11 = 2; hài lòng T3 T4 = 2; không hài lòng T2 T7 T9 = 3.
    three = f.three(total)
    assert three == {"rat-hai-long": 2, "hai-long": 2, "khong-hai-long": 3}
    assert grade_share(three, "khong-hai-long") == approx(3 / 7)
    assert total.satisfaction == approx(4 / 7)
    official = {g.key: g for g in r.breakdowns["official"].groups}
    # nv01 served T1 T2 T7 T11, rated all four: 2 rất hài lòng (T1 T11), 2 không (T2 T7).
    assert f.three(official["nv01"]) == {"rat-hai-long": 2, "hai-long": 0, "khong-hai-long": 2}
    assert official["nv01"].rated_share == approx(1.0)
    # nv02 served T3 and T10, T3 rated hài lòng: 1 of 2 rated.
    assert f.three(official["nv02"]) == {"rat-hai-long": 0, "hai-long": 1, "khong-hai-long": 0}
    assert official["nv02"].rated_share == approx(0.5)
    # nv03 served T4 (hài lòng) and T9 (không hài lòng).
    assert f.three(official["nv03"]) == {"rat-hai-long": 0, "hai-long": 1, "khong-hai-long": 1}
    counter = {g.key: g for g in r.breakdowns["counter"].groups}
    # Counter 2 served T3 (nv02) and T10 (nv02); counter 1 T1 T2 T7 T11.
    assert (counter[1].served, counter[2].served, counter[3].served) == (4, 2, 2)
    field = {g.key: g for g in r.breakdowns["field"].groups}
    # tu-phap: served T1 T2 T7 T10 T11 = 5; rated T1 T2 T7 T11: 2 rất, 2 không.
    assert field["tu-phap"].served == 5
    assert f.three(field["tu-phap"]) == {"rat-hai-long": 2, "hai-long": 0, "khong-hai-long": 2}
    assert f.three(field["dat-dai"]) == {"rat-hai-long": 0, "hai-long": 1, "khong-hai-long": 1}


def test_on_time_uses_the_service_target(month):
    _, f = month
    total = f.report.breakdowns["field"].total
    # T1 8<=10, T3 4<=5, T7 5<=10, T9 20<=25, T10 10<=10, T11 5<=10 on time;
    # T2 12>10 and T4 30>25 late: 6 of 8.
    assert (total.on_time, total.on_time_base) == (6, 8)
    field = {g.key: g for g in f.report.breakdowns["field"].groups}
    # dat-dai: T4 30 > 25 late, T9 20 <= 25 on time (minutes_per_citizen 20 would call it on time
    # too, but T4 would then be late by 10 instead of 5; the target, not the field, decides).
    assert (field["dat-dai"].on_time, field["dat-dai"].on_time_base) == (1, 2)
    # chung-thuc: T3 4 <= 5.
    assert (field["chung-thuc"].on_time, field["chung-thuc"].on_time_base) == (1, 1)


def test_within_wait_target(month):
    _, f = month
    # Called: T1 10 ok, T2 30 X, T3 5 ok, T4 40<=45 ok, T7 50 X, T8 5 ok, T9 70>45 X,
    # T10 5 ok, T11 20<=20 ok; never called: T5 waited 09:10-17:00 = 470 > 20, a miss;
    # T6 16:50-17:00 = 10 <= 20, not in the base.  Base 9 + 1 = 10; within 6.
    assert (f.wait_total.base, f.wait_total.within, f.wait_total.missed) == (10, 6, 4)
    assert f.wait_total.share == approx(0.6)
    by_field = {w.key: w for w in f.wait_by_field}
    # Every field of the config has a row, in config order.
    assert [w.key for w in f.wait_by_field] == ["tu-phap", "chung-thuc", "dat-dai",
                                                "van-hoa-xa-hoi", "kinh-te"]
    # tu-phap: T1 ok, T2 X, T7 X, T10 ok, T11 ok (T6 out): 3 of 5.
    assert (by_field["tu-phap"].base, by_field["tu-phap"].within) == (5, 3)
    # chung-thuc: T3 ok, T5 X (never called), T8 ok: 2 of 3.
    assert (by_field["chung-thuc"].base, by_field["chung-thuc"].within) == (3, 2)
    # dat-dai: T4 ok, T9 X: 1 of 2.
    assert (by_field["dat-dai"].base, by_field["dat-dai"].within) == (2, 1)
    assert by_field["kinh-te"].base == 0 and by_field["kinh-te"].share is None


def test_hours_when_the_target_was_missed(month):
    _, f = month
    # Hour of issue 08: T1 ok, T2 X, T3 ok, T11 ok -> 4 tickets, 1 over, 75 %.
    # 09: T4 ok, T5 X -> 2, 1 over, 50 %.  10: T7 X, T8 ok, T9 X -> 3, 2 over, 1/3.
    # 14: T10 ok -> no miss, not listed.  16: T6 is in no base.
    assert [(h.key, h.base, h.missed) for h in f.hours_missed] == [(8, 4, 1), (9, 2, 1),
                                                                   (10, 3, 2)]
    assert [h.share for h in f.hours_missed] == [approx(0.75), approx(0.5), approx(1 / 3)]
    assert [(h.key, h.base) for h in f.hours if h.key == 14] == [(14, 1)]


def test_longest_waits(month):
    _, f = month
    # Called tickets by wait: T9 70, T7 50, T4 40, T2 30, T11 20, T1 10, then three of 5
    # minutes in ticket id order (20261102-B001, 20261103-A002, 20261103-B001).  O1 and
    # O2 waited 200 minutes but are not November's.
    assert [(w.ticket_id, w.minutes) for w in f.longest] == [
        ("20261103-C001", approx(70)), ("20261103-A001", approx(50)),
        ("20261102-C001", approx(40)), ("20261102-A002", approx(30)),
        ("20261130-A001", approx(20)), ("20261102-A001", approx(10)),
        ("20261102-B001", approx(5)), ("20261103-A002", approx(5)), ("20261103-B001", approx(5))]
    top = f.longest[0]
    assert (top.label, top.field, top.counter, top.official) == ("C001", "dat-dai", 3, "nv03")


def test_anomalies_per_official(month):
    _, f = month
    official = {g.key: g for g in f.report.breakdowns["official"].groups}
    # nv01: a1 too_fast, a2 extra_press; nv02: a3 no_window; nv03: a4 after_window.
    assert (official["nv01"].anomalies, official["nv01"].reasons["too_fast"],
            official["nv01"].reasons["extra_press"]) == (2, 1, 1)
    assert (official["nv02"].anomalies, official["nv02"].reasons["no_window"]) == (1, 1)
    assert (official["nv03"].anomalies, official["nv03"].reasons["after_window"]) == (1, 1)
    assert f.report.breakdowns["official"].total.anomalies == 4
    # Anomalies move no satisfaction: nv01 is still 2 of 4.
    assert official["nv01"].satisfied == 2


def test_cases_closed_on_time_and_late(month):
    _, f = month
    # #1 closed 04/11 before due 05/11 (on time); #2 closed 07/11 after due 06/11
    # (late); #3 open, due 06/11 < now 02/12 (overdue); #4 is December's.
    assert [c.id for c in f.cases] == [1, 2, 3]
    assert f.case_counts == {"cases": 3, "closed": 2, "on_time": 1, "late": 1, "open": 1,
                             "overdue": 1, "base": 3}
    assert f.cases_on_time_share == approx(1 / 3)


def test_766_estimate(month):
    _, f = month
    # Served 8.  Rated không hài lòng or with a case: T2 T7 T9; late: T2 T4.
    # Flagged, each once: T2 T4 T7 T9 = 4.  Share (8 - 4)/8 = 0.5; points 0.5/0.9.
    e = f.estimate
    assert (e.served, e.flagged, e.rated_bad_or_case, e.late) == (8, 4, 3, 2)
    assert e.share == approx(0.5)
    assert e.points == approx(0.5 / 0.9)


def test_a_level_the_config_dropped_is_not_satisfied_everywhere(tmp_path):
    import sqlite3
    cfg = site_with_targets(tmp_path)
    db = month_db(cfg, tmp_path / "month.db")
    # T10 (served on time, not rated) gets a counted rating at a level the
    # config no longer has: a fourth "không hài lòng" in the three levels,
    # and a fifth flagged ticket for the estimate (T2 T4 T7 T9 T10): 3/8.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO ratings (id, ticket_id, counter, level, at, counted, official, "
                     "field, source) SELECT 'r10', id, 2, 'tam-duoc', finished_at + 60, 1, "
                     "'nv02', field, 'bridge:counter-2' FROM tickets WHERE id = '20261103-A002'")
    f = _pack(cfg, db, dt.datetime(2026, 12, 2, 12, 0, tzinfo=cfg.tz).timestamp())
    assert f.three(f.report.breakdowns["field"].total)["khong-hai-long"] == 4
    assert (f.estimate.flagged, f.estimate.rated_bad_or_case) == (5, 4)
    assert f.estimate.share == approx(3 / 8)


def test_rules_in_rates():
    nan = math.nan
    # Called at 20:00 of a 20-minute target: within; at 20:01: over; never called: never within.
    assert within_wait_target(1200.0, 20) and not within_wait_target(1201.0, 20)
    assert not within_wait_target(nan, 20)
    base = in_wait_target_base(np.array([300.0, nan, nan, nan]),
                               np.array([nan, 1201.0, 1200.0, nan]), np.array([20.0] * 4))
    # Called: in; never called after 20:01: in (a miss); after exactly 20:00: out;
    # still waiting (no close): out.
    assert base.tolist() == [True, True, False, False]
    # A level the config dropped counts as not satisfied.
    assert three_levels({"tot": 3, "old": 1}, {"tot": "rat-hai-long"}) == {
        "rat-hai-long": 3, "hai-long": 0, "khong-hai-long": 1}
    assert satisfaction_estimate(10, 0) == (1.0, 1.0)
    assert satisfaction_estimate(10, 1) == (approx(0.9), approx(1.0))
    assert satisfaction_estimate(0, 0) == (None, None)


def test_case_counts_leave_cases_within_their_deadline_out_of_the_share():
    from collections import namedtuple
    C = namedtuple("C", "status due_at closed_at")
    now = 1000.0
    cases = [C("closed", 900.0, 900.0),      # closed at the due second: on time
             C("closed", 900.0, 901.0),      # one second late
             C("looked_into", 999.0, None),  # past due: overdue
             C("open", 1001.0, None)]        # not due yet: in no base
    assert case_counts(cases, now) == {"cases": 4, "closed": 2, "on_time": 1, "late": 1,
                                       "open": 2, "overdue": 1, "base": 3}
