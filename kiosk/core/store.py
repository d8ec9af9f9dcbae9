"""The SQLite store: the one place that writes the database.

WAL with ``synchronous=FULL``: a ticket the kiosk printed survives a power
cut.  Every change is one transaction holding the journal row (append-only,
the truth state can be rebuilt from) and the projection rows that make
reads cheap (kiosk/core/projection.py), with the reply of the command that
made it; the tables are in kiosk/core/schema.py.  It reads back through
the queries every reader uses (kiosk/core/read/queries.py).

One writer only: the store takes an exclusive ``flock`` on ``<db>.lock``
and writes its pid and command there, so a second writer is told who holds
the database instead of fighting it for the write lock.
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from kiosk import lockfile
from kiosk.core.domain import QueueState
from kiosk.core.projection import journal, project
from kiosk.core.read import cases as case_queries
from kiosk.core.read import queries
from kiosk.core.read.queries import machine_clock
from kiosk.core import schema
from kiosk.core.schema import MIGRATIONS


def _import_sqlite_utils():
    """sqlite-utils imports numpy when it can, only to map numpy's scalar
    types to column types, which the store never inserts: 17 MB and 0.13 s
    of the core's start (bench/bus.py), in a process that never uses numpy.
    numpy is hidden for that one import; a process that imports it later
    (the reports) gets it as usual, and one that has it already changes
    nothing."""
    hide = "numpy" not in sys.modules
    if hide:
        sys.modules["numpy"] = None         # an import of it raises ImportError
    try:
        import sqlite_utils
    finally:
        if hide:
            del sys.modules["numpy"]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()


class StoreError(Exception):
    """The store cannot do it; the message is one line for a person."""


class StoreLocked(StoreError):
    pass


ROLES = ("staff", "head", "admin")


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _put_reply(c: sqlite3.Connection, key: str, at: float, reply: dict) -> None:
    # REPLACE: an id may come back after its memory ran out (COMMAND_MEMORY_S);
    # it is then a new command whose reply takes the old row's place.
    c.execute("INSERT OR REPLACE INTO commands (command_id, at, reply) VALUES (?, ?, ?)",
              (key, at, json.dumps(reply, ensure_ascii=False)))


def _put_print(c: sqlite3.Connection, ticket_id: str, at: float, reprint: bool) -> int:
    """A print job not yet answered by the printer: ``pending``, printed = 0."""
    return c.execute("INSERT INTO print_jobs (ticket_id, at, reprint, printed, state) "
                     "VALUES (?, ?, ?, 0, 'pending')", (ticket_id, at, int(reprint))).lastrowid


def _put_mark(c: sqlite3.Connection, event_id: int) -> None:
    c.execute("UPDATE published SET through = ? WHERE id = 1 AND through < ?", (event_id, event_id))


# What a job the core did not see finish says (``interrupt_prints``).
INTERRUPTED = "the core stopped before the printer confirmed this ticket; it is not printed again by itself"


class Store:
    """Owns the database file: lock, migrations, transactions, projections."""

    def __init__(self, path: str | Path, *, lock: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        # Inside ``group()``: transactions are savepoints of its one commit.
        self._grouped = False
        # (boot id, wall - monotonic) of this machine now; the engine sets it.
        self.clock_ref = machine_clock
        if lock:
            self._take_lock()
        try:
            # Only a path that does not exist is started as a new database.
            if self.path.exists():
                self._examine()
            self.conn = connect(self.path)
        except BaseException:
            self._unlock()
            raise
        self.db = sqlite_utils.Database(self.conn)
        self.db.enable_wal()
        # FULL: the WAL is synced on every commit, so a committed ticket
        # survives a power cut, not only a process crash.
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.migrate()
        # How far the broker has the core's events (service_outbox.py): the
        # mark noted, and the last one written.
        self._mark = self._mark_saved = queries.published_through(self.conn)

    # ----------------------------------------------------------- lifecycle
    def _take_lock(self) -> None:
        try:
            self._lock_fd = lockfile.hold(self.path.with_name(self.path.name + ".lock"),
                                          f"pid {os.getpid()} ({' '.join(sys.argv[:3])})")
        except lockfile.Held as e:
            raise StoreLocked(f"{self.path} is in use by {e.holder}; "
                              "stop it, or send commands through it") from None

    def close(self) -> None:
        self.conn.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _examine(self) -> None:
        """Refuse a file that is not a sound phucvu database of this or an older schema.

        Before anything writes to it: WAL mode, a migration or a new
        database would change a file the user may need to rescue.  So the
        checks run on a read-only connection.
        """
        problem = schema.file_problem(self.path)
        if problem:
            raise StoreError(problem)
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            problem = schema.schema_problem(conn, self.path) or schema.damage(conn, self.path)
        except sqlite3.DatabaseError as e:
            problem = schema.unreadable(self.path, e)
        finally:
            conn.close()
        if problem:
            raise StoreError(problem)

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        version = self.schema_version
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing.  Inside ``group()`` it is a savepoint: undone
        alone when it fails, made durable with the group's one commit."""
        if self._grouped:
            self.conn.execute("SAVEPOINT one")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK TO one")
                self.conn.execute("RELEASE one")
                raise
            self.conn.execute("RELEASE one")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._commit()

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, I/O error) may leave the
            # transaction open; the next BEGIN would then fail too.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def group(self) -> Iterator[None]:
        """The transactions inside it share one commit (group commit).

        With ``synchronous=FULL`` every commit waits for the disk; a busy
        centre's messages arrive several at a time, and one sync for all of
        them lets the first one's reply go out sooner.  Nothing inside is
        durable until the block ends; when the commit fails, nothing of it
        is, and the caller must not report any of it as done.
        """
        if self._grouped:
            raise StoreError("a group inside a group")
        self.conn.execute("BEGIN IMMEDIATE")
        self._grouped = True
        try:
            yield
        except BaseException:
            self._grouped = False
            self.conn.execute("ROLLBACK")
            raise
        self._grouped = False
        self._commit()

    def backup(self, target: str | Path) -> Path:
        """An online, consistent copy (SQLite's backup API), then checked."""
        target = Path(target)
        if target.exists():
            raise StoreError(f"{target} exists; choose a new file name")
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(str(target))
        try:
            self.conn.backup(dest)
            ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
        if ok != "ok":
            raise StoreError(f"backup {target} failed integrity_check: {ok}")
        return target

    # --------------------------------------------------------------- writes
    def commit_events(self, events: list[dict], state: QueueState,
                      replies: Iterable[tuple[str, float, dict]] = (),
                      prints: Iterable[tuple[str, float]] = ()) -> None:
        """Journal the events and project the state they produced, atomically.

        ``replies`` holds (command key, at, reply) to store in the same
        transaction, so a redelivered command finds its reply exactly when
        its effect is committed.  ``prints`` holds (ticket id, at) of the
        tickets to print: their pending jobs are committed with them, so no
        ticket is ever committed with its printing unrecorded.
        """
        mark = self._mark if self._mark > self._mark_saved else None
        with self.transaction() as c:
            for e in events:
                journal(c, e)
                project(c, e, state, self.clock_ref)
            for key, at, reply in replies:
                _put_reply(c, key, at, reply)
            for ticket_id, at in prints:
                _put_print(c, ticket_id, at, False)
            if mark is not None:
                _put_mark(c, mark)
        if mark is not None:
            # Inside a group whose commit then fails, the file keeps an
            # older mark: more is sent again after a cut, nothing is lost.
            self._mark_saved = max(self._mark_saved, mark)

    # ---------------------------------------------------------------- reads
    # The core's reads are the read side's queries (kiosk/core/read/queries.py)
    # on the writer's own connection: each query's SQL is written once.
    def journal(self) -> Iterator[dict]:
        return queries.journal(self.conn)

    def published_through(self) -> int:
        return queries.published_through(self.conn)

    def unpublished_events(self, after: int) -> list[tuple[int, str, dict]]:
        """(journal id, kind, event) of what the core publishes, after journal id ``after``."""
        return queries.ticket_and_rating_events(self.conn, after + 1, cases=True)

    def note_published(self, event_id: int) -> None:
        """The broker has every event up to ``event_id``: written with the
        next commit of events, so it costs no sync of its own while busy."""
        self._mark = max(self._mark, event_id)

    def mark_unsaved(self) -> bool:
        return self._mark > self._mark_saved

    def save_published(self) -> None:
        """The noted mark written now (an idle moment, a clean stop)."""
        if self._mark > self._mark_saved:
            mark = self._mark
            with self.transaction() as c:
                _put_mark(c, mark)
            self._mark_saved = mark

    def load_state(self, counters: list[int]) -> QueueState:
        """The current state from the projections, on the engine's clock."""
        return queries.load_state(self.conn, counters, self.clock_ref())

    def recent_tickets(self, before_day: str, days: int) -> list[tuple]:
        return queries.recent_tickets(self.conn, before_day, days)

    def last_calls(self, day: str, limit: int) -> list[dict[str, Any]]:
        return queries.last_calls(self.conn, day, limit)

    def last_print(self, ticket_id: str) -> dict[str, Any] | None:
        return queries.last_print(self.conn, ticket_id)

    def official(self, code: str) -> dict[str, Any] | None:
        return queries.official(self.conn, code)

    def has_rating(self, rating_id: str) -> bool:
        return queries.has_rating(self.conn, rating_id)

    def rating_outcome(self, rating_id: str) -> dict[str, Any] | None:
        return queries.rating_outcome(self.conn, rating_id)

    def phone_outcome(self, rating_id: str) -> dict[str, Any] | None:
        return queries.phone_outcome(self.conn, rating_id)

    def counted_levels(self, day: str) -> dict[str, int]:
        return queries.counted_levels(self.conn, day)

    def case(self, case_id: int) -> dict[str, Any] | None:
        """A follow-up case as the ``case_update`` reply shows it (no comment)."""
        row = case_queries.case(self.conn, case_id)
        return None if row is None else row.public()

    def case_of_rating(self, rating_id: str) -> dict[str, Any] | None:
        row = case_queries.case_of_rating(self.conn, rating_id)
        return None if row is None else row.public()

    def command_reply(self, key: str, since: float) -> dict[str, Any] | None:
        return queries.command_reply(self.conn, key, since)

    def forget_replies(self, before: float) -> int:
        """Drop the replies stored before ``before`` (wall time); returns how many."""
        with self.transaction() as c:
            return c.execute("DELETE FROM commands WHERE at < ?", (before,)).rowcount

    # --------------------------------------------------------------- prints
    def start_print(self, ticket_id: str, at: float, reprint: bool,
                    reply: tuple[str, dict] | None = None) -> int:
        """A pending print job, with the (command key, reply) that waits for
        it in the same transaction; returns the job's id."""
        with self.transaction() as c:
            if reply is not None:
                _put_reply(c, reply[0], at, reply[1])
            return _put_print(c, ticket_id, at, reprint)

    def record_print(self, job_id: int, at: float, printed: bool, state: str, detail: str,
                     nbytes: int) -> None:
        """The printer's answer, on the job's own row (one row per attempt)."""
        with self.transaction() as c:
            c.execute("UPDATE print_jobs SET at = ?, printed = ?, state = ?, detail = ?, bytes = ? "
                      "WHERE id = ?", (at, int(printed), state, detail, nbytes, job_id))

    def interrupt_prints(self, at: float) -> list[dict[str, Any]]:
        """Jobs still pending from an earlier run become ``not_printed`` /
        ``interrupted``: the core may have died mid-print, and nothing prints
        twice unless a person asks for a reprint.  Returns their tickets."""
        with self.transaction() as c:
            rows = c.execute("SELECT j.id, j.ticket_id, t.label FROM print_jobs j "
                             "LEFT JOIN tickets t ON t.id = j.ticket_id "
                             "WHERE j.printed = 0 AND j.state = 'pending' ORDER BY j.id").fetchall()
            c.executemany("UPDATE print_jobs SET at = ?, state = 'interrupted', detail = ? WHERE id = ?",
                          [(at, INTERRUPTED, r[0]) for r in rows])
        return [{"ticket_id": r[1], "label": r[2] or r[1]} for r in rows]

    # ------------------------------------------------------------- roster
    def add_official(self, code: str, name: str, pin_hash: str | None, role: str = "staff") -> None:
        if role not in ROLES:
            raise StoreError(f"role {role!r} is not one of {', '.join(ROLES)}")
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM officials WHERE code = ?", (code,)).fetchone():
                raise StoreError(f"official {code!r} already exists")
            c.execute("INSERT INTO officials (code, name, pin_hash, active, role) VALUES (?, ?, ?, 1, ?)",
                      (code, name, pin_hash, role))

    def apply_roster(self, action: str, code: str, *, name: str | None = None,
                     role: str = "staff", pin_hash: str | None = None,
                     active: bool | None = None) -> None:
        """One roster change (the core's core/command and the CLI without a core)."""
        if action == "official_add":
            self.add_official(code, unicodedata.normalize("NFC", name or ""), pin_hash, role)
        elif action == "official_pin":
            self.set_pin(code, pin_hash or "")
        elif action == "official_active":
            self.set_active(code, bool(active))
        else:
            raise StoreError(f"unknown roster action {action!r}")

    def set_pin(self, code: str, pin_hash: str) -> None:
        with self.transaction() as c:
            if c.execute("UPDATE officials SET pin_hash = ? WHERE code = ?", (pin_hash, code)).rowcount == 0:
                raise StoreError(f"no official {code!r}")

    def set_active(self, code: str, active: bool) -> None:
        with self.transaction() as c:
            if c.execute("UPDATE officials SET active = ? WHERE code = ?", (int(active), code)).rowcount == 0:
                raise StoreError(f"no official {code!r}")

    def reject(self, at: float, topic: str, payload: bytes, reason: str) -> None:
        """Keep a message the core could not take, with why (nothing is dropped unseen)."""
        with self.transaction() as c:
            c.execute("INSERT INTO rejected (at, topic, payload, reason) VALUES (?, ?, ?, ?)",
                      (at, topic, bytes(payload[:65536]), reason[:500]))

    # ------------------------------------------------------ command replies
    def remember_reply(self, key: str, at: float, reply: dict) -> None:
        """Store the reply of a command whose effect is no engine operation."""
        with self.transaction() as c:
            _put_reply(c, key, at, reply)

    def update_reply(self, key: str, reply: dict) -> None:
        """A stored reply that learnt more (a reprint's outcome from the printer)."""
        with self.transaction() as c:
            c.execute("UPDATE commands SET reply = ? WHERE command_id = ?",
                      (json.dumps(reply, ensure_ascii=False), key))
