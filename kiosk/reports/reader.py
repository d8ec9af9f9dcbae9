"""Reads a period out of the SQLite file, read-only, into report rows.

The database is opened with ``mode=ro``: a report never writes, takes no
lock and can run while the core serves (WAL lets readers and the writer
work side by side).  Only the columns the figures need are read.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kiosk.reports.figures import RatingRow, ReportError, TicketRow

# What the figures read, table by table (the schema after the core's migration 3).
REQUIRED = {
    "tickets": ("id", "day", "field", "origin_field", "priority", "issued_at", "state", "counter",
                "called_at", "finished_at", "transfers", "close_reason", "official"),
    "calls": ("ticket_id", "at", "recall"),
    "ratings": ("id", "ticket_id", "counter", "level", "at", "counted", "reason", "official",
                "field"),
    "officials": ("code", "name"),
    "official_sessions": ("official", "login_at", "logout_at"),
}
DAY_S = 86400

# Wait and service are derived here, in C, rather than per row in Python:
# a month is 150,000 tickets.  Wait ends at the ticket's first non-recall
# call; service runs from its last call to its finish.  Tickets of the
# period are called after it starts, so older calls are not even grouped.
_TICKETS = """
SELECT t.day, t.field, t.origin_field, t.priority, t.issued_at, t.state, t.counter,
       t.transfers, t.close_reason, t.official,
       fc.first_at - t.issued_at,
       CASE WHEN t.state = 'finished' THEN t.finished_at - t.called_at END
FROM tickets t
LEFT JOIN (SELECT ticket_id, MIN(at) AS first_at FROM calls WHERE recall = 0 AND at >= ?
           GROUP BY ticket_id) fc ON fc.ticket_id = t.id
WHERE t.day >= ? AND t.day <= ?
"""
# A press tied to a ticket belongs to that ticket's service day (the ticket
# and its rating are never split between periods); a press tied to no known
# ticket belongs to the moment it was pressed.  The first range only narrows
# the scan through the index on ratings.at (a rating follows its ticket's
# finish within minutes).
_RATINGS = """
SELECT r.counter, r.level, r.at, r.counted, r.reason, r.official, r.field,
       t.day, t.issued_at, t.field
FROM ratings r LEFT JOIN tickets t ON t.id = r.ticket_id
WHERE r.at >= ? AND r.at < ?
  AND ((t.id IS NOT NULL AND t.day >= ? AND t.day <= ?)
       OR (t.id IS NULL AND r.at >= ? AND r.at < ?))
"""


@dataclass
class Period:
    tickets: list[TicketRow]
    ratings: list[RatingRow]
    officials: dict[str, str]   # code -> name
    on_duty: list[str]          # officials logged in at a counter at some time in the period


def open_readonly(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such database (is [store] path right, or --db?)")
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout = 5000")
        _check_schema(conn, p)
    except sqlite3.DatabaseError as e:
        raise ReportError(f"{p}: cannot read it as a phucvu database: {e}") from None
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    for table, columns in REQUIRED.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise ReportError(f"{path}: table {table!r} is missing; start the core once so it "
                              "migrates the database, then report again")
        missing = [c for c in columns if c not in have]
        if missing:
            raise ReportError(f"{path}: table {table!r} lacks column(s) {', '.join(missing)}; "
                              "start the newer core once so it migrates the database")


def bounds(date_from: dt.date, date_to: dt.date, tz: dt.tzinfo) -> tuple[float, float]:
    """Epoch seconds of local midnight starting ``date_from`` and ending ``date_to``."""
    start = dt.datetime.combine(date_from, dt.time(0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp()
    return start, end


def read_period(path: str | Path, date_from: dt.date, date_to: dt.date,
                tz: dt.tzinfo) -> Period:
    if date_to < date_from:
        raise ReportError(f"the period ends ({date_to}) before it starts ({date_from})")
    start, end = bounds(date_from, date_to, tz)
    days = (date_from.isoformat(), date_to.isoformat())
    conn = open_readonly(path)
    try:
        # One snapshot for all queries, so a ticket finished mid-report is
        # either wholly in or wholly out.
        conn.execute("BEGIN")
        tickets = list(map(TicketRow._make, conn.execute(_TICKETS, (start, *days))))
        ratings = list(map(RatingRow._make, conn.execute(
            _RATINGS, (start - DAY_S, end + DAY_S, *days, start, end))))
        officials = dict(conn.execute("SELECT code, name FROM officials"))
        # An official who sat at a counter and served nobody is still a row
        # of the report (a zero is a figure the head wants to see).  A
        # session nobody closed counts for the day it began only, or one
        # forgotten logout would put the official in every later report.
        on_duty = sorted({
            code for code, login_at, logout_at in conn.execute(
                "SELECT official, login_at, logout_at FROM official_sessions "
                "WHERE login_at < ? AND (logout_at IS NULL OR logout_at >= ?)", (end, start))
            if logout_at is not None or dt.datetime.fromtimestamp(login_at, tz).date() >= date_from})
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        raise ReportError(f"{path}: reading the period failed: {e}") from None
    finally:
        conn.close()
    return Period(tickets, ratings, officials, on_duty)
