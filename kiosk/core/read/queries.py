"""Every query that reads the core's file back, as a function over a connection.

The store (the core, the file's one writer) calls them on its own
connection; other processes call them through ``kiosk.core.read.Reader``.
Either way a query's SQL is written once, here, beside the tables it reads
(kiosk/core/schema.py defines them, kiosk/core/projection.py fills them).
"""
from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections import deque
from typing import Any, Iterator

from kiosk.core.domain import SERVICE_WINDOW, Counter, QueueState, Stamp, Ticket
from kiosk.core.schema import COUNTER_COLUMNS, TICKET_COLUMNS

# What the queries below read, table by table: a reader checks them when it
# opens the file (``open_readonly``), so a file from an older core is named
# as such instead of failing on a missing column half-way.
REQUIRED: dict[str, tuple[str, ...]] = {
    "days": ("day", "closed_at"),
    "tickets": (*TICKET_COLUMNS,),
    "counters": (*COUNTER_COLUMNS, "judging"),
    "calls": ("call_id", "call_seq", "ticket_id", "counter", "at", "recall"),
    "box_clocks": ("link", "offset", "at", "epoch", "boot"),
    "officials": ("code", "name", "pin_hash", "active", "role"),
    "print_jobs": ("id", "ticket_id", "at", "printed", "state", "detail", "reprint"),
    "ratings": ("id", "counted", "reason", "level", "at"),
    "commands": ("command_id", "reply"),
    "journal": ("id", "at", "kind", "payload"),
}


@functools.cache
def boot_id() -> str:
    """This machine's boot: the monotonic clock starts again with a new one.

    Read once per process (it cannot change while the process runs), not on
    every commit that stores a monotonic time."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def machine_clock() -> tuple[str, float]:
    """(boot id, wall - monotonic) of this machine now: what ``load_state``
    needs to carry stored monotonic times onto this process's clock."""
    return boot_id(), time.time() - time.monotonic()


# ------------------------------------------------------------ the queue
def load_state(conn: sqlite3.Connection, counters: list[int],
               clock: tuple[str, float]) -> QueueState:
    """The current state from the projections (fast; no journal replay).

    ``clock`` is (boot id, wall - monotonic) of the reading process now
    (``machine_clock``, or the engine's clock seam)."""
    s = QueueState()
    row = conn.execute("SELECT day, closed_at FROM days ORDER BY day DESC LIMIT 1").fetchone()
    if row:
        s.day, s.day_closed = row[0], row[1] is not None
        cur = conn.execute(f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets WHERE day = ?", (s.day,))
        for values in cur:
            t = Ticket(**dict(zip(TICKET_COLUMNS, values)))
            s.tickets[t.id] = t
            s.last_number[t.origin_field] = max(s.last_number.get(t.origin_field, 0), t.number)
    s.issue_seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM tickets").fetchone()[0]
    s.call_seq = conn.execute("SELECT COALESCE(MAX(call_seq), 0) FROM calls").fetchone()[0]
    stored = {r[0]: r for r in conn.execute(f"SELECT {', '.join(COUNTER_COLUMNS)} FROM counters")}
    boot, epoch = clock

    def shift(saved_boot: str, saved_epoch: float) -> float:
        # Monotonic times saved under another boot of this machine,
        # moved onto today's monotonic clock through wall time.
        return 0.0 if saved_boot == boot else saved_epoch - epoch

    for n in counters:
        if n in stored:
            s.counters[n] = Counter(**dict(zip(COUNTER_COLUMNS, stored[n])))
        else:
            s.counters[n] = Counter(n)
    for n, judging in conn.execute("SELECT number, judging FROM counters "
                                   "WHERE judging IS NOT NULL"):
        if n not in s.counters:
            continue
        j = json.loads(judging)
        d = shift(j["boot"], j["epoch"])
        k = s.counters[n]
        k.rating_ticket, k.rating_done = j["ticket"], j["done"]
        k.rating_opened = _moved(Stamp.of(j["opened"]), d)
        k.last_press = _moved(Stamp.of(j["last_press"]), d)
    for link, offset, at, saved_epoch, saved_boot in conn.execute(
            "SELECT link, offset, at, epoch, boot FROM box_clocks"):
        d = shift(saved_boot, saved_epoch)
        s.links[link] = (offset + d, at + d)
    fields = [r[0] for r in conn.execute("SELECT DISTINCT field FROM tickets")]
    for f in fields:
        rows = conn.execute(
            "SELECT finished_at - called_at FROM tickets WHERE field = ? AND state = 'finished' "
            "AND called_at IS NOT NULL ORDER BY finished_at DESC, seq DESC LIMIT ?",
            (f, SERVICE_WINDOW)).fetchall()
        if rows:
            s.service_times[f] = deque((max(0.0, r[0]) for r in reversed(rows)),
                                       maxlen=SERVICE_WINDOW)
    return s


def _moved(stamp: Stamp | None, d: float) -> Stamp | None:
    if stamp is None or d == 0:
        return stamp
    return Stamp(stamp.mono + d, stamp.link, stamp.box_ms)


def latest_day(conn: sqlite3.Connection) -> str | None:
    """The latest service day (open or closed), or None before the first ticket."""
    return conn.execute("SELECT MAX(day) FROM days").fetchone()[0]


def recent_tickets(conn: sqlite3.Connection, before_day: str, days: int) -> list[tuple]:
    """(day, issued_at, origin_field, priority?, field, called_at, ended_at)
    of every ticket of the ``days`` latest service days before ``before_day``:
    what the wait forecast learns its figures from (``forecast.learn``).
    ``ended_at``: when the counter was free of it, served or marked a
    no-show (a no-show's minute at the counter is what the counter spent on
    that call); None for one the day's close expired or still open."""
    return conn.execute(
        "SELECT day, issued_at, origin_field, priority IS NOT NULL, field, called_at, "
        "CASE WHEN state = 'finished' OR (state = 'no_show' AND close_reason IS NULL) "
        "THEN finished_at END FROM tickets "
        "WHERE day IN (SELECT day FROM days WHERE day < ? ORDER BY day DESC LIMIT ?) "
        "ORDER BY issued_at", (before_day, days)).fetchall()


def last_calls(conn: sqlite3.Connection, day: str, limit: int) -> list[dict[str, Any]]:
    """The day's latest calls, newest first, as the events that made them."""
    rows = conn.execute(
        "SELECT c.call_id, c.call_seq, c.ticket_id, c.counter, c.at, c.recall FROM calls c "
        "JOIN tickets t ON t.id = c.ticket_id WHERE t.day = ? ORDER BY c.call_seq DESC LIMIT ?",
        (day, limit)).fetchall()
    return [{"kind": "ticket_recalled" if recall else "ticket_called", "call_id": call_id,
             "call_seq": seq, "ticket_id": ticket_id, "counter": counter, "at": at}
            for call_id, seq, ticket_id, counter, at, recall in rows]


# ------------------------------------------------------------- printing
def last_print(conn: sqlite3.Connection, ticket_id: str) -> dict[str, Any] | None:
    """The ticket's latest print job; ``state`` is ``pending`` until the printer answers."""
    row = conn.execute(
        "SELECT printed, state, detail, reprint, id FROM print_jobs WHERE ticket_id = ? "
        "ORDER BY id DESC LIMIT 1", (ticket_id,)).fetchone()
    if row is None:
        return None
    return {"printed": bool(row[0]), "state": row[1], "detail": row[2], "reprint": bool(row[3]),
            "id": row[4]}


def reprint_queue(conn: sqlite3.Connection, day: str) -> list[dict[str, Any]]:
    """The day's tickets still in line whose latest print attempt failed
    (a job still pending is in flight, not in the queue)."""
    rows = conn.execute(
        "SELECT t.id, t.label, t.state, j.state, j.detail, j.at FROM tickets t "
        "JOIN print_jobs j ON j.id = (SELECT MAX(id) FROM print_jobs WHERE ticket_id = t.id) "
        "WHERE t.day = ? AND j.printed = 0 AND j.state <> 'pending' AND t.state IN ('waiting', 'called', 'transferred') "
        "ORDER BY t.seq", (day,)).fetchall()
    return [{"ticket_id": r[0], "label": r[1], "ticket_state": r[2], "print_state": r[3],
             "detail": r[4], "at": r[5]} for r in rows]


# --------------------------------------------------------------- roster
def official(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT code, name, pin_hash, active, role FROM officials WHERE code = ?",
                       (code,)).fetchone()
    return None if row is None else {"code": row[0], "name": row[1], "pin_hash": row[2],
                                     "active": bool(row[3]), "role": row[4]}


def officials(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [{"code": r[0], "name": r[1], "has_pin": r[2] is not None, "active": bool(r[3]),
             "role": r[4]}
            for r in conn.execute("SELECT code, name, pin_hash, active, role FROM officials "
                                  "ORDER BY code")]


# -------------------------------------------------------------- presses
def has_rating(conn: sqlite3.Connection, rating_id: str) -> bool:
    return conn.execute("SELECT 1 FROM ratings WHERE id = ?", (rating_id,)).fetchone() is not None


def rating_outcome(conn: sqlite3.Connection, rating_id: str) -> dict[str, Any] | None:
    """How a stored press was judged (the confirmation a redelivery gets again)."""
    row = conn.execute("SELECT counted, reason, level FROM ratings WHERE id = ?",
                       (rating_id,)).fetchone()
    return None if row is None else {"counted": bool(row[0]), "reason": row[1], "level": row[2]}


def phone_outcome(conn: sqlite3.Connection, rating_id: str) -> dict[str, Any] | None:
    """How a stored phone rating was judged, with its ticket (what a retry gets again)."""
    row = conn.execute("SELECT counted, reason, level, ticket_id FROM ratings WHERE id = ?",
                       (rating_id,)).fetchone()
    return None if row is None else {"counted": bool(row[0]), "reason": row[1], "level": row[2],
                                     "ticket_id": row[3]}


def uncounted_presses(conn: sqlite3.Connection, start: float, end: float) -> int:
    """Presses made in [start, end) that are not ratings (the anomalies)."""
    return conn.execute("SELECT count(*) FROM ratings WHERE counted = 0 AND at >= ? AND at < ?",
                        (start, end)).fetchone()[0]


# ------------------------------------------------- journal and replies
def command_reply(conn: sqlite3.Connection, key: str, since: float) -> dict[str, Any] | None:
    """The reply stored at or after ``since`` for a command
    (``kiosk/core/commands.py`` names the keys and how long they are remembered)."""
    row = conn.execute("SELECT reply FROM commands WHERE command_id = ? AND at >= ?",
                       (key, since)).fetchone()
    return json.loads(row[0]) if row else None


def journal(conn: sqlite3.Connection) -> Iterator[dict]:
    """Every committed event, in order (``Queue.replay`` rebuilds the state from it)."""
    for (payload,) in conn.execute("SELECT payload FROM journal ORDER BY id"):
        yield json.loads(payload)


def published_through(conn: sqlite3.Connection) -> int:
    """The journal id up to which the broker took every event the core publishes."""
    return conn.execute("SELECT through FROM published WHERE id = 1").fetchone()[0]


def ticket_and_rating_events(conn: sqlite3.Connection, from_id: int = 1, after: float = 0.0,
                             cases: bool = False) -> list[tuple[int, str, dict]]:
    """(journal id, kind, event) of the ticket and rating events and the
    days' closes from journal id ``from_id`` made at or after ``after``: what
    the uplink republishes.  With ``cases``, the follow-up cases' changes
    too: every kind the core publishes once committed (its outbox)."""
    kinds = "'rating_pressed', 'day_closed'" + (", 'case_updated'" if cases else "")
    rows = conn.execute(
        "SELECT id, kind, payload FROM journal WHERE id >= ? AND at >= ? "
        f"AND (kind LIKE 'ticket%' OR kind IN ({kinds})) ORDER BY id",
        (from_id, after)).fetchall()
    return [(event_id, kind, json.loads(payload)) for event_id, kind, payload in rows]


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the file has the table ``name`` (a file from before the
    migration that made it has none)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def expired_tickets(conn: sqlite3.Connection, day: str) -> list[str]:
    """The tickets the close of ``day`` expired, in issue order: what a
    ``day_closed`` journaled before it listed them would have said."""
    return [r[0] for r in conn.execute(
        "SELECT id FROM tickets WHERE day = ? AND close_reason = 'day_closed' ORDER BY seq", (day,))]


# ------------------------------------------------------------ dashboard
def day_times(conn: sqlite3.Connection, day: str) -> list[tuple]:
    """(field, counter, issued_at, first_called_at, called_at, finished_at, state,
    est_wait_s) of the day's tickets: what the dashboard's wait and service
    percentiles and its estimate error are computed from (kiosk/web/figures.py).
    The first call falls back to the latest for a ticket from before
    ``first_called_at``; ``est_wait_s`` is the wait told at issue (seconds,
    NULL when no open counter served the field or before schema 10)."""
    return conn.execute(
        "SELECT field, counter, issued_at, COALESCE(first_called_at, called_at), called_at, "
        "finished_at, state, est_wait_s FROM tickets WHERE day = ? ORDER BY seq", (day,)).fetchall()


def oldest_waiting(conn: sqlite3.Connection, day: str) -> dict[str, float]:
    """Per field, when its longest-waiting ticket still in line was issued."""
    return dict(conn.execute(
        "SELECT field, MIN(issued_at) FROM tickets WHERE day = ? "
        "AND state IN ('waiting', 'transferred') GROUP BY field", (day,)).fetchall())


def counted_levels(conn: sqlite3.Connection, day: str) -> dict[str, int]:
    """Level code -> counted ratings of the tickets of ``day`` (the public board's rate).

    By code, as the reports count: the admin may reorder the levels during
    the day (issue 17), and a position would then name another level."""
    return dict(conn.execute(
        "SELECT r.level, count(*) FROM ratings r JOIN tickets t ON t.id = r.ticket_id "
        "WHERE r.counted = 1 AND t.day = ? GROUP BY r.level", (day,)).fetchall())


def ratings_by_official(conn: sqlite3.Connection, start: float,
                        end: float) -> list[tuple[str | None, str, int]]:
    """(official, level, count) of the counted presses made in [start, end)."""
    return conn.execute(
        "SELECT official, level, count(*) FROM ratings WHERE counted = 1 AND at >= ? AND at < ? "
        "GROUP BY official, level ORDER BY official, level", (start, end)).fetchall()


_VERSION_COLUMNS = ("version", "at", "by", "hash", "changes")


def _version_row(row: tuple, with_toml: bool) -> dict[str, Any]:
    out = dict(zip(_VERSION_COLUMNS, row))
    out["changes"] = json.loads(out["changes"])
    if with_toml:
        out["toml"] = row[len(_VERSION_COLUMNS)]
    return out


def config_versions(conn: sqlite3.Connection, limit: int = 100,
                    with_toml: bool = False) -> list[dict[str, Any]]:
    """The site config's history, newest first (``config_versions``, schema 7);
    an older core's file has none."""
    cols = ", ".join(_VERSION_COLUMNS + (("toml",) if with_toml else ()))
    try:
        rows = conn.execute(f"SELECT {cols} FROM config_versions ORDER BY version DESC LIMIT ?",
                            (limit,)).fetchall()
    except sqlite3.OperationalError:
        return []
    return [_version_row(r, with_toml) for r in rows]


def config_version(conn: sqlite3.Connection, version: int) -> dict[str, Any] | None:
    """One version of the site config, with its TOML text."""
    try:
        row = conn.execute(f"SELECT {', '.join(_VERSION_COLUMNS)}, toml FROM config_versions "
                           "WHERE version = ?", (version,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return _version_row(row, True) if row else None
