"""How one committed event lands in the database: its journal row and the
projection rows it changes.

``Store.commit_events`` calls these inside its transaction, one event at a
time, with the state the events produced.  Prepared SQL through
``conn.execute``, because ``table.insert()`` inspects the table on each call
and this is the hot path of every ticket and key press.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Callable

from kiosk.core.domain import Counter, QueueState, Ticket
from kiosk.core.schema import COUNTER_COLUMNS, TICKET_COLUMNS

# (boot id, wall - monotonic) of this machine now: monotonic times (rating
# windows, box clocks) are stored with it so a reboot can move them.
ClockRef = Callable[[], tuple[str, float]]

# An upsert that updates the row in place.  INSERT OR REPLACE deleted the
# row and inserted it again under a new rowid, so every change of a ticket
# rewrote a page of each of its six b-trees twice: 11.5 of the 21 pages a
# call wrote to the WAL (bench/bus.py's centre), each synced to disk.  An
# update touches only the indexes whose columns changed.  A clash on the
# other UNIQUE (day, origin_field, number) now fails the commit instead of
# quietly deleting the other ticket, which is what that constraint is for.
# SQLite rewrites every index on a column the SET names, changed or not, so
# the columns the id itself spells (20261202-A001: the day, the issuing
# field's prefix and the number) are left out: 21 -> 14 pages a call.
_TICKET_ID_PARTS = ("id", "day", "origin_field", "number")
_UPSERT_TICKET = (f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(TICKET_COLUMNS))}) "
                  "ON CONFLICT (id) DO UPDATE SET "
                  + ", ".join(f"{k} = excluded.{k}" for k in TICKET_COLUMNS
                              if k not in _TICKET_ID_PARTS))
# The counter's row and, in the same statement, its rating window as JSON
# (``judging``; NULL when there is none, so a REPLACE never leaves a stale one).
_UPSERT_COUNTER = (f"INSERT OR REPLACE INTO counters ({', '.join(COUNTER_COLUMNS)}, judging) "
                   f"VALUES ({', '.join('?' * (len(COUNTER_COLUMNS) + 1))})")


class ProjectionError(Exception):
    """An event kind no projection knows: a bug, never written half-way."""


def journal(c: sqlite3.Connection, e: dict) -> None:
    cur = c.execute("INSERT INTO journal (at, kind, payload) VALUES (?, ?, ?)",
                    (e["at"], e["kind"], json.dumps(e, ensure_ascii=False, sort_keys=True)))
    # The journal row id names this committed change for good: the
    # provincial aggregator keys its upserts by (site, event_id), so a
    # redelivered or replayed event lands on the same row.
    e["event_id"] = cur.lastrowid


def project(c: sqlite3.Connection, e: dict, s: QueueState, clock_ref: ClockRef) -> None:
    kind = e["kind"]
    if kind == "day_started":
        c.execute("INSERT OR IGNORE INTO days (day, started_at) VALUES (?, ?)", (e["day"], e["at"]))
        for k in s.counters.values():
            _put_counter(c, k, clock_ref)
    elif kind == "day_closed":
        c.execute("UPDATE days SET closed_at = ? WHERE day = ?", (e["at"], e["day"]))
        # Tickets of the closed day still open in the database (the
        # memory may already hold the next day after a rollover).
        c.execute("UPDATE tickets SET state = 'no_show', close_reason = 'day_closed' "
                  "WHERE day = ? AND state IN ('waiting', 'called', 'transferred')", (e["day"],))
        for k in s.counters.values():
            _put_counter(c, k, clock_ref)
    elif kind.startswith("ticket_"):
        _put_ticket(c, s.tickets[e["ticket_id"]])
        if "counter" in e:
            _put_counter(c, s.counters[e["counter"]], clock_ref)
        if kind in ("ticket_called", "ticket_recalled"):
            k = s.counters[e["counter"]]
            c.execute("INSERT INTO calls (call_id, call_seq, ticket_id, counter, at, recall, "
                      "specific, official) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (e["call_id"], e["call_seq"], e["ticket_id"], e["counter"], e["at"],
                       int(kind == "ticket_recalled"), int(bool(e.get("specific"))), k.official))
    elif kind.startswith("counter_"):
        _put_counter(c, s.counters[e["counter"]], clock_ref)
    elif kind == "official_login":
        _put_counter(c, s.counters[e["counter"]], clock_ref)
        c.execute("INSERT INTO official_sessions (official, counter, login_at) VALUES (?, ?, ?)",
                  (e["official"], e["counter"], e["at"]))
    elif kind == "official_logout":
        _put_counter(c, s.counters[e["counter"]], clock_ref)
        c.execute("UPDATE official_sessions SET logout_at = ? WHERE official = ? AND counter = ? "
                  "AND logout_at IS NULL", (e["at"], e["official"], e["counter"]))
    elif kind == "rating_pressed":
        payload = {k: e.get(k) for k in ("device_time_ms", "received_at", "source", "pressed",
                                         "client")}
        # reasons: NULL for a box's press (it has none), a JSON list for a phone's.
        reasons = json.dumps(e["reasons"], ensure_ascii=False) if "reasons" in e else None
        c.execute("INSERT INTO ratings (id, ticket_id, counter, level, level_index, at, counted, "
                  "reason, official, field, wait_s, service_s, source, payload, pressed_at, "
                  "delivered_late, reasons, comment) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (e["rating_id"], e["ticket_id"], e["counter"], e["level"], e["level_index"],
                   e["at"], int(e["counted"]), e["reason"], e["official"], e["field"],
                   e["wait_s"], e["service_s"], e["source"], json.dumps(payload),
                   e.get("pressed_at"), int(bool(e.get("delivered_late"))), reasons,
                   e.get("comment")))
        _put_counter(c, s.counters[e["counter"]], clock_ref)
        if e["counted"] and e["ticket_id"] in s.tickets:
            _put_ticket(c, s.tickets[e["ticket_id"]])     # its ``rated``
        if e.get("case_due") is not None:
            _open_case(c, e, s, reasons)
    elif kind == "case_updated":
        _update_case(c, e)
    else:
        raise ProjectionError(f"cannot project event kind {kind!r}")
    if e.get("clocks"):
        boot, epoch = clock_ref()
        for name, offset in e["clocks"].items():
            c.execute("INSERT OR REPLACE INTO box_clocks (link, offset, at, epoch, boot) "
                      "VALUES (?, ?, ?, ?, ?)", (name, offset, e["mono"], epoch, boot))


def _open_case(c: sqlite3.Connection, e: dict, s: QueueState, reasons: str | None) -> None:
    """The follow-up case a counted "not satisfied" rating opens (its event
    carries the due time the domain decided, domain/cases.py).  Its id is the
    next in journal order."""
    ticket = s.tickets.get(e["ticket_id"])
    # The ticket's service day; its id starts with it should memory not hold it.
    day = ticket.day if ticket is not None else \
        f"{e['ticket_id'][:4]}-{e['ticket_id'][4:6]}-{e['ticket_id'][6:8]}"
    c.execute("INSERT INTO cases (rating_id, ticket_id, day, field, counter, official, level, "
              "source, reasons, opened_at, due_at, status, updated_at) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
              (e["rating_id"], e["ticket_id"], day, e["field"], e["counter"], e["official"],
               e["level"], e["source"], reasons, e["at"], e["case_due"], e["at"]))


def _update_case(c: sqlite3.Connection, e: dict) -> None:
    """A change the head made (domain/cases.py ``updated`` says the same in
    Python, for the command's reply), and its line in the case's log."""
    if e["status"] == "looked_into":
        c.execute("UPDATE cases SET status = ?, looked_at = ?, updated_at = ? WHERE id = ?",
                  (e["status"], e["at"], e["at"], e["case"]))
    else:
        c.execute("UPDATE cases SET status = ?, closed_at = ?, closed_by = ?, note = ?, "
                  "updated_at = ? WHERE id = ?",
                  (e["status"], e["at"], e["by"], e["note"], e["at"], e["case"]))
    c.execute("INSERT INTO case_log (case_id, at, by, status, note) VALUES (?, ?, ?, ?, ?)",
              (e["case"], e["at"], e["by"], e["status"], e["note"]))


def _put_ticket(c: sqlite3.Connection, t: Ticket) -> None:
    c.execute(_UPSERT_TICKET, [getattr(t, k) for k in TICKET_COLUMNS])


def _put_counter(c: sqlite3.Connection, k: Counter, clock_ref: ClockRef) -> None:
    judging = None
    if k.rating_ticket is not None or k.last_press is not None:
        boot, epoch = clock_ref()
        judging = json.dumps({"ticket": k.rating_ticket, "opened": _stamp(k.rating_opened),
                              "done": k.rating_done, "last_press": _stamp(k.last_press),
                              "boot": boot, "epoch": epoch})
    c.execute(_UPSERT_COUNTER, [*(getattr(k, x) for x in COUNTER_COLUMNS), judging])


def _stamp(value: Any) -> list | None:
    return None if value is None else value.to_list()
