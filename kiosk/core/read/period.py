"""A period of tickets and presses, read out of the core's file as report columns.

The figures (kiosk/reports/figures.py) compute over these columns; what a
column means, and how a ticket's outcome is packed, is defined here, beside
the SQL that fills them.  Only the columns the wanted breakdowns need are read.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from kiosk.core import schema
from kiosk.core.read import ReadError, open_readonly

# A ticket's outcome as bits of one integer (the SQL below packs them, and
# reports.figures.ticket_columns packs hand-made rows the same way): one
# value per ticket to hand over instead of five.
FINISHED, EXPIRED_BIT, NO_SHOW, PRIORITY, TRANSFERRED = 1, 2, 4, 8, 16


class TicketColumns(NamedTuple):
    """The tickets as columns: what this module hands over for a month.  A key
    column no wanted breakdown uses may be all None (it is not
    fetched).  Times are whole milliseconds, or None."""

    day: Sequence
    field: Sequence
    origin_field: Sequence
    issued_at: Sequence
    counter: Sequence
    official: Sequence
    outcome: Sequence             # FINISHED | EXPIRED_BIT | NO_SHOW | PRIORITY | TRANSFERRED
    wait_ms: Sequence
    service_ms: Sequence
    est_err_ms: Sequence          # the wait told at issue - the real wait; None: not told or never called


class RatingColumns(NamedTuple):
    """The presses as columns: ``n`` identical presses per entry (grouped by
    SQL when no time is read), times cut to the quarter hour (all
    the figures need of them: the local day and hour)."""

    counter: Sequence
    level: Sequence
    at: Sequence
    counted: Sequence
    reason: Sequence
    official: Sequence
    field: Sequence               # the press's field, else its ticket's (None: not read)
    ticket_day: Sequence
    ticket_issued_at: Sequence
    phone: Sequence               # 1: from the citizen's phone page; 0: a box's press
    complaints: Sequence          # a counted phone rating's reason codes (JSON), else None
    n: Sequence                   # how many such presses


# What the figures read, table by table (the schema after the core's migration 10).
REQUIRED = {
    "tickets": ("id", "day", "field", "origin_field", "priority", "issued_at", "state", "counter",
                "called_at", "finished_at", "transfers", "close_reason", "official",
                "first_called_at", "est_wait_s"),
    "ratings": ("id", "ticket_id", "counter", "level", "at", "counted", "reason", "official",
                "field", "source", "reasons"),
    "officials": ("code", "name"),
    "official_sessions": ("official", "login_at", "logout_at"),
    "journal": ("id",),
}
DAY_S = 86400

# Outcomes, wait and service are derived here, in C, rather than per row in
# Python (figures.ticket_columns defines the same flags for hand-made rows).
# Wait ends at the ticket's first non-recall call (kept on the ticket since
# schema 5); service runs from its last call to its finish.
_TICKET_SQL = {
    "day": "day", "field": "field", "origin_field": "origin_field",
    # The quarter hour of issue is all the hour breakdown needs (an integer
    # costs SQLite far less to write out than a REAL).
    "issued_at": "CAST(issued_at / 900 AS INTEGER) * 900",
    "counter": "counter", "official": "official",
    "outcome": f"""(state = 'finished') * {FINISHED}
        | (close_reason IS 'day_closed') * {EXPIRED_BIT}
        | (state = 'no_show' AND close_reason IS NOT 'day_closed') * {NO_SHOW}
        | (priority IS NOT NULL) * {PRIORITY} | (transfers > 0) * {TRANSFERRED}""",
    "wait_ms": "CAST(ROUND((first_called_at - issued_at) * 1000) AS INTEGER)",
    "service_ms": "CASE WHEN state = 'finished' THEN "
                  "CAST(ROUND((finished_at - called_at) * 1000) AS INTEGER) END",
    # NULL unless the ticket was told a wait (schema 10) and was called.
    "est_err_ms": "CAST(ROUND((est_wait_s - (first_called_at - issued_at)) * 1000) AS INTEGER)",
}
_TICKETS_FROM = "FROM tickets WHERE day >= ? AND day <= ?"
# The official pack's extra reads (kiosk/reports/pack_figures.py), each a
# few rows rather than a column of every ticket.  Tickets never called and
# closed with their day: how long their citizen had waited by the close.
_UNSEEN_SQL = """SELECT t.origin_field, CAST(t.issued_at / 900 AS INTEGER) * 900,
    d.closed_at - t.issued_at
FROM tickets t JOIN days d ON d.day = t.day
WHERE t.day >= ? AND t.day <= ? AND t.first_called_at IS NULL
  AND t.close_reason IS 'day_closed'"""
# Served tickets of the period rated at a level not graded satisfied (a
# level the config no longer has is "not satisfied", as in the rates) or
# with a follow-up case, with what the on-time rule needs: found through the
# ratings' time index and the cases' day index, then each ticket by its
# key, rather than a lookup for each of a quarter's 450,000 tickets.
_FLAGGED_SQL = """SELECT field, CAST(ROUND((finished_at - called_at) * 1000) AS INTEGER)
FROM tickets
WHERE id IN (SELECT ticket_id FROM ratings WHERE at >= ? AND at < ? AND counted = 1
                 AND level NOT IN ({levels})
             UNION SELECT ticket_id FROM cases WHERE day >= ? AND day <= ?)
  AND day >= ? AND day <= ? AND state = 'finished'"""
# The longest waits of the period: tickets called at least once.
_LONGEST_SQL = """SELECT id, label, day, origin_field, counter, official, issued_at,
    first_called_at - issued_at AS wait_s
FROM tickets WHERE day >= ? AND day <= ? AND first_called_at IS NOT NULL
ORDER BY wait_s DESC, id LIMIT ?"""
PACK_REQUIRED = {**REQUIRED, "days": ("day", "closed_at"),
                 "cases": ("id", "rating_id", "ticket_id", "day", "status", "due_at",
                           "closed_at")}
LONGEST = 10
# Presses need no samples, only counts: times are cut to the quarter hour
# (every UTC offset in use is whole quarters, so the local day and hour
# survive), and without times SQLite groups them, ``n`` presses per group.
_RATING_SQL = {
    "counter": "r.counter", "level": "r.level", "at": "CAST(r.at / 900 AS INTEGER) * 900",
    "counted": "r.counted", "reason": "r.reason", "official": "r.official",
    "field": "COALESCE(r.field, t.field)",
    "ticket_day": "t.day", "ticket_issued_at": "CAST(t.issued_at / 900 AS INTEGER) * 900",
    # Why a citizen was not satisfied is counted for the ticket's rating only
    # (a counted phone rating), never for an extra or late one.
    "phone": "(r.source = 'phone')",
    "complaints": "CASE WHEN r.counted = 1 AND r.source = 'phone' THEN NULLIF(r.reasons, '[]') END",
}
# A press tied to a ticket belongs to that ticket's service day (the ticket
# and its rating are never split between periods); a press tied to no known
# ticket belongs to the moment it was pressed.  The first range only narrows
# the scan through the index on ratings.at (a rating follows its ticket's
# finish within minutes).
_RATINGS_FROM = """
FROM ratings r LEFT JOIN tickets t ON t.id = r.ticket_id
WHERE r.at >= ? AND r.at < ?
  AND ((t.id IS NOT NULL AND t.day >= ? AND t.day <= ?)
       OR (t.id IS NULL AND r.at >= ? AND r.at < ?))
"""
# Columns only some breakdowns group by; the others are not read.
_KEYS = {"official": {"official"}, "counter": {"counter"},
         "field": {"origin_field"}, "day": {"day", "ticket_day", "at"},
         "hour": {"issued_at", "ticket_issued_at", "ticket_day", "at"}}
_OPTIONAL = set().union(*_KEYS.values())


@dataclass
class Period:
    tickets: TicketColumns
    ratings: RatingColumns
    officials: dict[str, str]   # code -> name
    on_duty: list[str]          # officials logged in at a counter at some time in the period
    # With ``pack``: the longest waits (rows of _LONGEST_SQL), the cases of
    # the period (kiosk.core.read.cases.CaseRow, by due time), the tickets
    # never called (_UNSEEN_SQL: origin field, issue time, seconds waited)
    # and the flagged served tickets (_FLAGGED_SQL: field, service ms).
    longest: list[tuple] = dc_field(default_factory=list)
    cases: list = dc_field(default_factory=list)
    unseen: list[tuple] = dc_field(default_factory=list)
    flagged: list[tuple] = dc_field(default_factory=list)


def _sql_text(code: str) -> str:
    return "'" + code.replace("'", "''") + "'"


def bounds(date_from: dt.date, date_to: dt.date, tz: dt.tzinfo) -> tuple[float, float]:
    """Epoch seconds of local midnight starting ``date_from`` and ending ``date_to``.

    The calendar ends with 9999-12-31, so a period ending that day has no
    end (nor, in some time zones, one at the calendar's first day): a
    ``ReadError`` then, not Python's OverflowError.
    """
    try:
        start = dt.datetime.combine(date_from, dt.time(0), tzinfo=tz).timestamp()
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp()
    except (OverflowError, ValueError):
        raise ReadError(f"the period {date_from} to {date_to} is out of range; give days from "
                        f"{dt.date.min} to {dt.date.max - dt.timedelta(days=1)}") from None
    return start, end


def read_period(path: str | Path, date_from: dt.date, date_to: dt.date,
                tz: dt.tzinfo, breakdowns: Iterable[str] = tuple(_KEYS),
                pack: tuple[str, ...] | None = None) -> Period:
    """``pack``: the level codes graded satisfied (rất hài lòng, hài lòng); given, the
    official pack's extras are read too (the hour of issue, the longest
    waits, the cases, the tickets never called, the flagged served
    tickets), from the same snapshot."""
    if date_to < date_from:
        raise ReadError(f"the period ends ({date_to}) before it starts ({date_from})")
    start, end = bounds(date_from, date_to, tz)
    days = (date_from.isoformat(), date_to.isoformat())
    required = REQUIRED if pack is None else PACK_REQUIRED
    conn = open_readonly(path, required)
    presses = open_readonly(path, required, any_thread=True)
    try:
        # Tickets and presses are read at once on two connections (SQLite
        # builds each column with the GIL released: two cores, half the
        # wait), from one snapshot, so a ticket finished mid-report is
        # either wholly in or wholly out.
        wanted = tuple(breakdowns)
        skip = _OPTIONAL.difference(*(_KEYS[by] for by in wanted))
        # A press's field (its own, else its ticket's) is a key of the field
        # breakdown only; the tickets' field is always read (the on-time rule).
        rating_skip = skip if "field" in wanted else skip | {"field"}
        if pack is not None:
            skip = skip - {"issued_at"}

        def read_presses(c: sqlite3.Connection) -> RatingColumns:
            return _columns(c, RatingColumns, _RATING_SQL, _RATINGS_FROM,
                            (start - DAY_S, end + DAY_S, *days, start, end), rating_skip,
                            # Grouping pays when few keys are read; with the
                            # times (day, hour) nearly every press is its own
                            # group and the sort is pure cost.
                            count="n", group="at" in rating_skip)

        # The pack's extras are split between the two connections (same
        # snapshot) so that each side takes about as long: the presses
        # (a join and a grouping) take a little longer than the tickets.
        levels = ", ".join(map(_sql_text, pack or ())) or "NULL"

        def ticket_extras(c: sqlite3.Connection) -> dict[str, list]:
            if pack is None:
                return {}
            return {"longest": c.execute(_LONGEST_SQL, (*days, LONGEST)).fetchall(),
                    "unseen": c.execute(_UNSEEN_SQL, days).fetchall(),
                    "flagged": c.execute(_FLAGGED_SQL.format(levels=levels), (
                        start - DAY_S, end + DAY_S, *days, *days)).fetchall()}

        def presses_and_extras(c: sqlite3.Connection):
            if pack is None:
                return read_presses(c), {}
            from kiosk.core.read.cases import read_cases
            return read_presses(c), {"cases": read_cases(c, day_from=days[0], day_to=days[1])}

        if _same_snapshot(conn, presses):
            with ThreadPoolExecutor(1, thread_name_prefix="report-presses") as pool:
                presses_job = pool.submit(presses_and_extras, presses)
                tickets = _columns(conn, TicketColumns, _TICKET_SQL, _TICKETS_FROM, days, skip)
                extras = ticket_extras(conn)
                ratings, more = presses_job.result()
        else:
            tickets = _columns(conn, TicketColumns, _TICKET_SQL, _TICKETS_FROM, days, skip)
            extras = ticket_extras(conn)
            ratings, more = presses_and_extras(conn)
        extras.update(more)
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
        if presses.in_transaction:
            presses.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        raise ReadError(schema.unreadable(path, e)) from None
    finally:
        conn.close()
        presses.close()
    return Period(tickets, ratings, officials, on_duty, **extras)


def _same_snapshot(a: sqlite3.Connection, b: sqlite3.Connection, tries: int = 5) -> bool:
    """Start a read transaction on both; True when they see the same data.

    A snapshot starts at a transaction's first read.  Every change to
    tickets, presses and sessions appends to the journal, so equal last
    journal ids mean equal data.  With a writer busy between the two starts
    for every try, False: the caller then reads everything through ``a``.
    """
    a.execute("BEGIN")
    mark = a.execute("SELECT MAX(id) FROM journal").fetchone()
    for _ in range(tries):
        b.execute("BEGIN")
        if b.execute("SELECT MAX(id) FROM journal").fetchone() == mark:
            return True
        b.execute("COMMIT")
    return False


def _columns(conn: sqlite3.Connection, kind, sql: dict[str, str], source: str, args: tuple,
             skip: set[str], count: str | None = None, group: bool = False):
    """Read one column list per field of ``kind``; with ``group``, identical
    rows come once with their number in the field ``count``.

    Each column comes back as one JSON array built by SQLite, and json's C
    parser turns it into a list: a month is 150,000 rows, and the sqlite3
    module's per-row tuples and per-cell conversions cost more than the
    query itself (docs/performance.md).
    """
    read = [f for f in kind._fields if f not in skip and f != count]
    if group:
        keys = ", ".join(f"{sql[f]} AS {f}" for f in read)
        by = ", ".join(str(i) for i in range(1, len(read) + 1))
        source = f"FROM (SELECT {keys}, COUNT(*) AS {count} {source} GROUP BY {by})"
        sql = {f: f for f in read}
        read.append(count)
        sql[count] = count
    row = conn.execute(f"SELECT COUNT(*), {', '.join(f'json_group_array({sql[f]})' for f in read)} "
                       f"{source}", args).fetchone()
    n, values = row[0], dict(zip(read, map(json.loads, row[1:])))
    if count is not None and count not in values:
        values[count] = [1] * n
    return kind(*(values[f] if f in values else [None] * n for f in kind._fields))
