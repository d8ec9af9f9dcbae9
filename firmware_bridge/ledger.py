"""The bridge's memory of events the core has committed, in SQLite.

A row (device, boot, seq) means "the core committed this event": the bridge
writes it when the core's confirmation arrives on ``counter/<n>/reply``
(never on the broker's PUBACK), just before it ACKs the box.  When the box
replays the event (after a lost ACK, a replug, a bridge restart) the bridge
acks it again from here without publishing.  Written with
synchronous=NORMAL: a row lost to a power cut only means the event is
published once more under the same deterministic id, which the core
recognises and answers again, so FULL would buy nothing.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    device TEXT NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (device, boot, seq)
) WITHOUT ROWID;
"""


class Ledger:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def seen(self, device: str, boot: int, seq: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM delivered WHERE device=? AND boot=? AND seq=?",
                                   (device, boot, seq)).fetchone()
        return row is not None

    def record(self, device: str, boot: int, seq: int, event_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO delivered VALUES (?,?,?,?,?)",
                             (device, boot, seq, event_id, time.time()))

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM delivered").fetchone()[0]

    def prune(self, keep_days: float = 7.0) -> int:
        """Forget old rows: a box keeps at most its ring (32 events), never a week."""
        with self._lock:
            cur = self._db.execute("DELETE FROM delivered WHERE at < ?", (time.time() - keep_days * 86400,))
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
