"""The SQLite store: the one place that writes the database.

WAL with ``synchronous=FULL``: a ticket the kiosk printed survives a power
cut.  Every change is one transaction holding the journal row (append-only,
the truth state can be rebuilt from) and the projection rows that make
reads cheap (kiosk/core/projection.py), with the reply of the command that
made it; the tables are in kiosk/core/schema.py.

One writer only: the store takes an exclusive ``flock`` on ``<db>.lock``
and writes its pid and command there, so a second writer is told who holds
the database instead of fighting it for the write lock.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
import sys
import time
import unicodedata
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils

from kiosk.core.domain import SERVICE_WINDOW, Counter, QueueState, Stamp, Ticket
from kiosk.core.projection import journal, project
from kiosk.core.schema import COUNTER_COLUMNS, MIGRATIONS, TICKET_COLUMNS


class StoreError(Exception):
    pass


class StoreLocked(StoreError):
    pass


ROLES = ("staff", "head", "admin")


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


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


def _default_clock_ref() -> tuple[str, float]:
    return boot_id(), time.time() - time.monotonic()


def _put_reply(c: sqlite3.Connection, key: str, at: float, reply: dict) -> None:
    c.execute("INSERT INTO commands (command_id, at, reply) VALUES (?, ?, ?)",
              (key, at, json.dumps(reply, ensure_ascii=False)))


def _moved(stamp: Stamp | None, d: float) -> Stamp | None:
    if stamp is None or d == 0:
        return stamp
    return Stamp(stamp.mono + d, stamp.link, stamp.box_ms)


class Store:
    """Owns the database file: lock, migrations, transactions, projections."""

    def __init__(self, path: str | Path, *, lock: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        # (boot id, wall - monotonic) of this machine now; the engine sets it.
        self.clock_ref = _default_clock_ref
        if lock:
            self._take_lock()
        self.conn = connect(self.path)
        self.db = sqlite_utils.Database(self.conn)
        self.db.enable_wal()
        # FULL: the WAL is synced on every commit, so a committed ticket
        # survives a power cut, not only a process crash.
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.check_integrity()
        self.migrate()

    @classmethod
    def reader(cls, path: str | Path) -> "Store":
        """Read-only access (status, reports): no lock, no migrations."""
        if not Path(path).exists():
            raise StoreError(f"{path} does not exist; run phucvu init first")
        self = cls.__new__(cls)
        self.path = Path(path)
        self._lock_fd = None
        self.clock_ref = _default_clock_ref
        self.conn = connect(self.path, readonly=True)
        self.db = sqlite_utils.Database(self.conn)
        return self

    # ----------------------------------------------------------- lifecycle
    def _take_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise StoreLocked(f"{self.path} is in use by {holder}; "
                              "stop it, or send commands through it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])})\n".encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        self.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def check_integrity(self) -> None:
        result = self.conn.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            problems = "; ".join(r[0] for r in result[:5])
            raise StoreError(f"{self.path} failed integrity_check: {problems}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema {version}, newer than this program "
                             f"({len(MIGRATIONS)}); upgrade phucvu")
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

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
                      replies: Iterable[tuple[str, float, dict]] = ()) -> None:
        """Journal the events and project the state they produced, atomically.

        ``replies`` holds (command key, at, reply) to store in the same
        transaction, so a redelivered command finds its reply exactly when
        its effect is committed.
        """
        with self.transaction() as c:
            for e in events:
                journal(c, e)
                project(c, e, state, self.clock_ref)
            for key, at, reply in replies:
                _put_reply(c, key, at, reply)

    # ---------------------------------------------------------------- reads
    def journal(self) -> Iterator[dict]:
        for (payload,) in self.conn.execute("SELECT payload FROM journal ORDER BY id"):
            yield json.loads(payload)

    def load_state(self, counters: list[int]) -> QueueState:
        """The current state from the projections (fast; no journal replay)."""
        s = QueueState()
        row = self.conn.execute(
            "SELECT day, closed_at FROM days ORDER BY day DESC LIMIT 1").fetchone()
        if row:
            s.day, s.day_closed = row[0], row[1] is not None
            cur = self.conn.execute(
                f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets WHERE day = ?", (s.day,))
            for values in cur:
                t = Ticket(**dict(zip(TICKET_COLUMNS, values)))
                s.tickets[t.id] = t
                s.last_number[t.origin_field] = max(s.last_number.get(t.origin_field, 0), t.number)
        s.issue_seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM tickets").fetchone()[0]
        s.call_seq = self.conn.execute("SELECT COALESCE(MAX(call_seq), 0) FROM calls").fetchone()[0]
        stored = {r[0]: r for r in self.conn.execute(
            f"SELECT {', '.join(COUNTER_COLUMNS)} FROM counters")}
        boot, epoch = self.clock_ref()

        def shift(saved_boot: str, saved_epoch: float) -> float:
            # Monotonic times saved under another boot of this machine,
            # moved onto today's monotonic clock through wall time.
            return 0.0 if saved_boot == boot else saved_epoch - epoch

        for n in counters:
            if n in stored:
                s.counters[n] = Counter(**dict(zip(COUNTER_COLUMNS, stored[n])))
            else:
                s.counters[n] = Counter(n)
        for n, judging in self.conn.execute("SELECT number, judging FROM counters "
                                            "WHERE judging IS NOT NULL"):
            if n not in s.counters:
                continue
            j = json.loads(judging)
            d = shift(j["boot"], j["epoch"])
            k = s.counters[n]
            k.rating_ticket, k.rating_done = j["ticket"], j["done"]
            k.rating_opened = _moved(Stamp.of(j["opened"]), d)
            k.last_press = _moved(Stamp.of(j["last_press"]), d)
        for link, offset, at, saved_epoch, saved_boot in self.conn.execute(
                "SELECT link, offset, at, epoch, boot FROM box_clocks"):
            d = shift(saved_boot, saved_epoch)
            s.links[link] = (offset + d, at + d)
        fields = [r[0] for r in self.conn.execute("SELECT DISTINCT field FROM tickets")]
        for f in fields:
            rows = self.conn.execute(
                "SELECT finished_at - called_at FROM tickets WHERE field = ? AND state = 'finished' "
                "AND called_at IS NOT NULL ORDER BY finished_at DESC, seq DESC LIMIT ?",
                (f, SERVICE_WINDOW)).fetchall()
            if rows:
                s.service_times[f] = deque((max(0.0, r[0]) for r in reversed(rows)),
                                           maxlen=SERVICE_WINDOW)
        return s

    def last_calls(self, day: str, limit: int) -> list[dict[str, Any]]:
        """The day's latest calls, newest first, as the events that made them."""
        rows = self.conn.execute(
            "SELECT c.call_id, c.call_seq, c.ticket_id, c.counter, c.at, c.recall FROM calls c "
            "JOIN tickets t ON t.id = c.ticket_id WHERE t.day = ? ORDER BY c.call_seq DESC LIMIT ?",
            (day, limit)).fetchall()
        return [{"kind": "ticket_recalled" if recall else "ticket_called", "call_id": call_id,
                 "call_seq": seq, "ticket_id": ticket_id, "counter": counter, "at": at}
                for call_id, seq, ticket_id, counter, at, recall in rows]

    def record_print(self, ticket_id: str, at: float, reprint: bool, printed: bool, state: str,
                     detail: str, nbytes: int) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO print_jobs (ticket_id, at, reprint, printed, state, detail, bytes) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (ticket_id, at, int(reprint), int(printed), state, detail, nbytes))

    def last_print(self, ticket_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT printed, state, detail, reprint FROM print_jobs WHERE ticket_id = ? "
            "ORDER BY id DESC LIMIT 1", (ticket_id,)).fetchone()
        if row is None:
            return None
        return {"printed": bool(row[0]), "state": row[1], "detail": row[2], "reprint": bool(row[3])}

    def reprint_queue(self, day: str) -> list[dict[str, Any]]:
        """Today's tickets still in line whose latest print attempt failed."""
        rows = self.conn.execute(
            "SELECT t.id, t.label, t.state, j.state, j.detail, j.at FROM tickets t "
            "JOIN print_jobs j ON j.id = (SELECT MAX(id) FROM print_jobs WHERE ticket_id = t.id) "
            "WHERE t.day = ? AND j.printed = 0 AND t.state IN ('waiting', 'called', 'transferred') "
            "ORDER BY t.seq", (day,)).fetchall()
        return [{"ticket_id": r[0], "label": r[1], "ticket_state": r[2], "print_state": r[3],
                 "detail": r[4], "at": r[5]} for r in rows]

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

    def official(self, code: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT code, name, pin_hash, active, role FROM officials WHERE code = ?",
                                (code,)).fetchone()
        return None if row is None else {"code": row[0], "name": row[1], "pin_hash": row[2],
                                         "active": bool(row[3]), "role": row[4]}

    def officials(self) -> list[dict[str, Any]]:
        return [{"code": r[0], "name": r[1], "has_pin": r[2] is not None, "active": bool(r[3]),
                 "role": r[4]}
                for r in self.conn.execute(
                    "SELECT code, name, pin_hash, active, role FROM officials ORDER BY code")]

    def has_rating(self, rating_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM ratings WHERE id = ?", (rating_id,)).fetchone() is not None

    def rating_outcome(self, rating_id: str) -> dict[str, Any] | None:
        """How a stored press was judged (the confirmation a redelivery gets again)."""
        row = self.conn.execute("SELECT counted, reason, level FROM ratings WHERE id = ?",
                                (rating_id,)).fetchone()
        return None if row is None else {"counted": bool(row[0]), "reason": row[1], "level": row[2]}

    def reject(self, at: float, topic: str, payload: bytes, reason: str) -> None:
        """Keep a message the core could not take, with why (nothing is dropped unseen)."""
        with self.transaction() as c:
            c.execute("INSERT INTO rejected (at, topic, payload, reason) VALUES (?, ?, ?, ?)",
                      (at, topic, bytes(payload[:65536]), reason[:500]))

    # ------------------------------------------------------ command replies
    def command_reply(self, key: str) -> dict[str, Any] | None:
        """The reply stored for a command (``kiosk/core/commands.py`` names the keys)."""
        row = self.conn.execute("SELECT reply FROM commands WHERE command_id = ?",
                                (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def remember_reply(self, key: str, at: float, reply: dict) -> None:
        """Store the reply of a command whose effect is no engine operation."""
        with self.transaction() as c:
            _put_reply(c, key, at, reply)

    def update_reply(self, key: str, reply: dict) -> None:
        """A stored reply that learnt more (a reprint's outcome from the printer)."""
        with self.transaction() as c:
            c.execute("UPDATE commands SET reply = ? WHERE command_id = ?",
                      (json.dumps(reply, ensure_ascii=False), key))
