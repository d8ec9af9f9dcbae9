"""The pure report figures over hand-made rows (no database)."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from kiosk.reports.figures import (
    Level,
    RatingRow,
    ReportError,
    Rules,
    TicketRow,
    compute,
)
from kiosk.reports.rates import percentile

TZ = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
DAY = dt.date(2026, 11, 27)
RULES = Rules(levels=(Level("tot", True), Level("kha", True), Level("kem", False), Level("te", False)),
              service_min={"a": 10.0, "b": 5.0}, tz=TZ)


def at(hhmm: str, day: dt.date = DAY) -> float:
    h, m = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), tzinfo=TZ).timestamp()


def ticket(id, issued, *, field="a", origin=None, state="finished", first=None, called=None,
           finished=None, official="nv01", counter=1, priority=None, transfers=0,
           close_reason=None, day="2026-11-27"):
    # As the reader derives them: wait from the first call, service from the last.
    first_call = first or called
    wait = at(first_call) - at(issued) if first_call else None
    service = at(finished) - at(called) if state == "finished" and called else None
    row = TicketRow(day, field, origin or field, priority, at(issued), state, counter,
                    transfers, close_reason, official, wait, service)
    TICKETS[id] = row
    return row


# Tickets by id, so a hand-made rating can carry its ticket's day, hour and
# field as the reader's join does.
TICKETS: dict[str, TicketRow] = {}


@pytest.fixture(autouse=True)
def _fresh_tickets():
    TICKETS.clear()


def rating(id, ticket, level="tot", *, counted=True, reason=None, official="nv01", counter=1,
           field="a", when="12:00"):
    t = TICKETS.get(ticket)
    return RatingRow(counter, level, at(when), int(counted), reason, official, field,
                     t.day if t else None, t.issued_at if t else None, t.field if t else None)


@pytest.mark.parametrize("values, p, expected", [
    ([], 50, None),
    ([7.0], 90, 7.0),
    ([1.0, 2.0], 50, 1.0),           # rank ceil(1.0) = 1
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),  # rank 2
    ([1.0, 2.0, 3.0, 4.0], 90, 4.0),  # rank ceil(3.6) = 4
    (list(range(1, 11)), 90, 9),      # rank 9 of 10
    (list(range(1, 21)), 90, 18),     # rank 18 of 20
])
def test_percentile_is_nearest_rank(values, p, expected):
    assert percentile(values, p) == expected


def test_anomaly_reasons_are_the_domains():
    # One list: the reasons the core decides are the report's columns, in the
    # domain's order, never a copy that drifts from it.
    from kiosk.core.domain import ANOMALIES
    from kiosk.reports.figures import REASONS
    assert REASONS is ANOMALIES


def test_no_show_expired_and_served_are_separate():
    rows = [
        ticket("t1", "08:00", called="08:10", finished="08:15"),
        ticket("t2", "08:00", state="no_show", called="08:20", finished="08:21"),
        ticket("t3", "08:00", state="no_show", official=None, counter=None,
               close_reason="day_closed"),
        ticket("t4", "08:00", state="waiting", official=None, counter=None),
    ]
    r = compute(rows, [], RULES, DAY, DAY, ["official"])
    t = r.breakdowns["official"].total
    # t4 is still waiting: issued, but none of served, no-show or expired.
    assert (t.issued, t.served, t.no_show, t.expired) == (4, 1, 1, 1)
    # waits: t1 10 min, t2 20 min; t3 and t4 were never called.
    assert (t.wait_p50, t.wait_p90) == (10.0, 20.0)
    assert t.service_p50 == 5.0 and t.on_time_share == 1.0


def test_satisfaction_counts_satisfied_levels_over_counted_ratings():
    rows = [ticket(f"t{i}", "08:00", called="08:05", finished="08:10") for i in range(5)]
    presses = [rating("r0", "t0", "tot"), rating("r1", "t1", "kha"), rating("r2", "t2", "kem"),
               rating("r3", "t3", "te"),
               rating("x1", "t3", "tot", counted=False, reason="extra_press"),
               rating("x2", None, "tot", counted=False, reason="no_window", field=None)]
    r = compute(rows, presses, RULES, DAY, DAY, ["official"])
    f = r.breakdowns["official"].groups[0]
    assert f.levels == {"tot": 1, "kha": 1, "kem": 1, "te": 1}
    assert f.satisfaction == 0.5          # tot + kha of 4 counted; anomalies never count
    assert f.rated_share == 0.8           # 4 rated of 5 served
    assert f.anomalies == 2 and f.reasons["extra_press"] == 1 and f.reasons["no_window"] == 1


def test_on_time_uses_the_field_served_in():
    # Transferred from a (10 min) to b (5 min): 7 minutes of service is late in b.
    rows = [ticket("t1", "08:00", field="b", origin="a", transfers=1, first="08:01",
                   called="08:30", finished="08:37"),
            ticket("t2", "08:00", field="a", called="08:02", finished="08:09")]
    r = compute(rows, [], RULES, DAY, DAY, ["field"])
    g = {f.key: f for f in r.breakdowns["field"].groups}
    assert (g["a"].issued, g["a"].served, g["a"].transferred) == (2, 1, 1)
    assert (g["b"].issued, g["b"].served) == (0, 1)
    assert g["a"].on_time_share == 1.0 and g["b"].on_time_share == 0.0
    # Waiting ends at the first call (08:01), not the call after the transfer.
    assert g["a"].wait_p90 == 2.0


def test_unknown_level_and_field_are_kept_with_a_warning(caplog):
    rows = [ticket("t1", "08:00", field="gone", called="08:05", finished="08:10")]
    presses = [rating("r1", "t1", "old-level")]
    r = compute(rows, presses, RULES, DAY, DAY, ["official"])
    t = r.breakdowns["official"].total
    assert t.levels["old-level"] == 1 and t.rated == 1 and t.satisfaction == 0.0
    assert [lv.code for lv in r.levels][-1] == "old-level"
    assert t.served == 1 and t.on_time_share is None
    assert any("'gone'" in w for w in r.warnings) and any("'old-level'" in w for w in r.warnings)
    assert "old-level" in caplog.text


def test_ratings_follow_their_ticket_day_and_hour():
    # Issued 08:59, rated 09:20: the rating belongs to hour 8 with its ticket;
    # a press with no ticket belongs to the hour it was made.
    rows = [ticket("t1", "08:59", called="09:00", finished="09:19")]
    presses = [rating("r1", "t1", when="09:20"),
               rating("x1", None, counted=False, reason="no_window", when="10:30", field=None)]
    r = compute(rows, presses, RULES, DAY, DAY, ["hour", "day"])
    h = {f.key: f for f in r.breakdowns["hour"].groups}
    assert list(h) == [8, 10]
    assert h[8].rated == 1 and h[8].rated_share == 1.0 and h[10].anomalies == 1


def test_unknown_breakdown_is_refused():
    with pytest.raises(ReportError, match="unknown breakdown 'week'"):
        compute([], [], RULES, DAY, DAY, ["week"])
