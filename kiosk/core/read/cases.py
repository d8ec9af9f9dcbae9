"""Follow-up cases as the head's screen, the reports and the core read them
(the ``cases`` and ``case_log`` tables, schema 9; docs/reports.md,
"Follow-up cases").

``comment`` (the citizen's own words, from the rating) is on ``CaseRow``
for the head's screen only: nothing that leaves the centre carries it.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, NamedTuple

from kiosk.core.schema import CASE_COLUMNS

# What these queries read: a reader checks them before the first one
# (``Reader.cases``), so a file from before schema 9 is named as such.
REQUIRED: dict[str, tuple[str, ...]] = {
    "cases": tuple(CASE_COLUMNS),
    "case_log": ("id", "case_id", "at", "by", "status", "note"),
    "ratings": ("id", "comment"),
}


class CaseRow(NamedTuple):
    """One case: the columns of ``cases`` in the table's order, ``reasons``
    decoded (a list of reason codes, or None), then the rating's comment."""
    id: int
    rating_id: str
    ticket_id: str | None
    day: str
    field: str | None
    counter: int
    official: str | None
    level: str
    source: str | None
    reasons: list[str] | None
    opened_at: float
    due_at: float
    status: str
    looked_at: float | None
    closed_at: float | None
    closed_by: str | None
    note: str | None
    updated_at: float
    comment: str | None

    def public(self) -> dict[str, Any]:
        """The case as a JSON object without the comment (``case_update``'s reply)."""
        row = self._asdict()
        del row["comment"]
        return row


_SELECT = (f"SELECT {', '.join('c.' + k for k in CASE_COLUMNS)}, r.comment "
           "FROM cases c LEFT JOIN ratings r ON r.id = c.rating_id")


def _row(values: tuple) -> CaseRow:
    row = list(values)
    reasons = CASE_COLUMNS.index("reasons")
    row[reasons] = json.loads(row[reasons]) if row[reasons] is not None else None
    return CaseRow(*row)


def read_cases(conn: sqlite3.Connection, *, day_from: str | None = None,
               day_to: str | None = None,
               statuses: tuple[str, ...] | None = None) -> list[CaseRow]:
    """The cases of the service days ``day_from`` to ``day_to`` (either
    open-ended when None) in ``statuses`` (None: all), soonest due first."""
    where, args = [], []
    if day_from is not None:
        where.append("c.day >= ?")
        args.append(day_from)
    if day_to is not None:
        where.append("c.day <= ?")
        args.append(day_to)
    if statuses is not None:
        if not statuses:
            return []
        where.append(f"c.status IN ({', '.join('?' * len(statuses))})")
        args.extend(statuses)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY c.due_at, c.id"
    return [_row(r) for r in conn.execute(sql, args)]


def case(conn: sqlite3.Connection, case_id: int) -> CaseRow | None:
    row = conn.execute(_SELECT + " WHERE c.id = ?", (case_id,)).fetchone()
    return _row(row) if row else None


def case_of_rating(conn: sqlite3.Connection, rating_id: str) -> CaseRow | None:
    row = conn.execute(_SELECT + " WHERE c.rating_id = ?", (rating_id,)).fetchone()
    return _row(row) if row else None


def case_log(conn: sqlite3.Connection, case_id: int) -> list[dict[str, Any]]:
    """Every change the head made to a case, oldest first."""
    rows = conn.execute("SELECT id, at, by, status, note FROM case_log WHERE case_id = ? "
                        "ORDER BY id", (case_id,)).fetchall()
    return [{"id": r[0], "case_id": case_id, "at": r[1], "by": r[2], "status": r[3], "note": r[4]}
            for r in rows]
