"""The read side of the core's SQLite file: every query that reads it.

The core is the file's only writer (kiosk/core/store.py) and reads through
the same queries on its own connection.  Every other process (the command
line, the web console, the reports, the uplink's replay) opens the file here
with ``mode=ro``: a reader never writes, takes no lock and runs while the
core serves (WAL lets readers and the writer work side by side).  No other
module holds SQL on the file (tests/test_read_side.py checks).

- ``queries``: the queue state, the roster, prints, presses, the journal, as
  functions over a connection; ``Reader`` offers them to other processes;
- ``period``: a period of tickets and presses as report columns;
- ``cases``: the follow-up cases and their logs.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, TypeVar

from kiosk.core import schema
from kiosk.core.domain import QueueState
from kiosk.core.read import cases as case_queries
from kiosk.core.read import queries
from kiosk.core.read.cases import CaseRow

T = TypeVar("T")


class ReadError(Exception):
    """The file cannot be read as a phucvu database; the message is one line for a person."""


def open_readonly(path: str | Path, require: dict[str, tuple[str, ...]], *,
                  any_thread: bool = False, verify: bool = False) -> sqlite3.Connection:
    """A read-only connection, once the file is a phucvu database this code can
    read and the tables and columns in ``require`` are there.

    A file from an older core lacks columns a newer reader needs; saying so
    (start the newer core once, it migrates) beats a bare "no such column".
    An empty, foreign or newer file is named as such (kiosk/core/schema.py).
    ``verify`` has SQLite check every page first (``quick_check``, about
    0.2 s for a month of a large centre): a one-off command wants a damaged
    file named even where its query would not look; the reports and the web
    console, timed per request, read without it and meet damage only on the
    pages they read (a ``ReadError`` all the same).
    """
    p = Path(path)
    if not p.is_file():
        raise ReadError(f"{p} does not exist; run phucvu init first (or is [store] path "
                        "right, or --db?)")
    try:
        problem = schema.file_problem(p)
    except OSError as e:
        raise ReadError(f"{p}: cannot open it: {e.strerror}") from None
    if problem:
        raise ReadError(problem)
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, check_same_thread=not any_thread)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        problem = schema.schema_problem(conn, p) or (verify and schema.damage(conn, p, "quick_check"))
        if problem:
            raise ReadError(problem)
        _check_schema(conn, p, require)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise ReadError(schema.unreadable(p, e)) from None
    except ReadError:
        conn.close()
        raise
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path,
                  require: dict[str, tuple[str, ...]]) -> None:
    for table, columns in require.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise ReadError(f"{path}: table {table!r} is missing; start the core once so it "
                            "migrates the database, then try again")
        missing = [c for c in columns if c not in have]
        if missing:
            raise ReadError(f"{path}: table {table!r} lacks column(s) {', '.join(missing)}; "
                            "start the newer core once so it migrates the database")


class Reader:
    """The core's file for another process: read-only, its schema checked on
    opening, closed on leaving a ``with`` block.

    A database error while reading (a file damaged after it opened) is a
    ``ReadError`` too, so the caller has one error to turn into one line.
    """

    def __init__(self, path: str | Path, *, verify: bool = False):
        self.path = Path(path)
        self.conn = open_readonly(self.path, queries.REQUIRED, verify=verify)

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        try:
            return query(self.conn, *args)
        except sqlite3.DatabaseError as e:
            raise ReadError(schema.unreadable(self.path, e)) from None

    def load_state(self, counters: list[int]) -> QueueState:
        """The queue now, as the core would load it on this machine."""
        return self._read(queries.load_state, counters, queries.machine_clock())

    def latest_day(self) -> str | None:
        return self._read(queries.latest_day)

    def reprint_queue(self, day: str) -> list[dict[str, Any]]:
        return self._read(queries.reprint_queue, day)

    def official(self, code: str) -> dict[str, Any] | None:
        return self._read(queries.official, code)

    def officials(self) -> list[dict[str, Any]]:
        return self._read(queries.officials)

    def config_versions(self, limit: int = 100, with_toml: bool = False) -> list[dict[str, Any]]:
        """The site config's history, newest first (the admin pages' history)."""
        return self._read(queries.config_versions, limit, with_toml)

    def config_version(self, version: int) -> dict[str, Any] | None:
        return self._read(queries.config_version, version)

    def uncounted_presses(self, start: float, end: float) -> int:
        return self._read(queries.uncounted_presses, start, end)

    def ticket_and_rating_events(self, from_id: int, after: float) -> list[tuple[int, str, dict]]:
        return self._read(queries.ticket_and_rating_events, from_id, after)

    def has_cases(self) -> bool:
        """Whether the file has follow-up cases at all (schema 9 or later)."""
        return self._read(queries.has_table, "cases")

    def expired_tickets(self, day: str) -> list[str]:
        return self._read(queries.expired_tickets, day)

    def day_times(self, day: str) -> list[tuple]:
        return self._read(queries.day_times, day)

    def oldest_waiting(self, day: str) -> dict[str, float]:
        return self._read(queries.oldest_waiting, day)

    def ratings_by_official(self, start: float, end: float) -> list[tuple[str | None, str, int]]:
        return self._read(queries.ratings_by_official, start, end)

    # Cases are checked for on first use, not on opening: every other read
    # still works on a file from before schema 9.
    def _cases_table(self) -> None:
        try:
            _check_schema(self.conn, self.path, case_queries.REQUIRED)
        except sqlite3.DatabaseError as e:
            raise ReadError(schema.unreadable(self.path, e)) from None

    def cases(self, *, day_from: str | None = None, day_to: str | None = None,
              statuses: tuple[str, ...] | None = None) -> list[CaseRow]:
        """The follow-up cases (read/cases.py ``read_cases``), soonest due first."""
        self._cases_table()
        return self._read(lambda c: case_queries.read_cases(
            c, day_from=day_from, day_to=day_to, statuses=statuses))

    def case(self, case_id: int) -> CaseRow | None:
        self._cases_table()
        return self._read(case_queries.case, case_id)

    def case_log(self, case_id: int) -> list[dict[str, Any]]:
        self._cases_table()
        return self._read(case_queries.case_log, case_id)
