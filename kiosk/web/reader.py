"""What the web reads from the core's SQLite file, read-only: the roster (for
PIN checks and /admin), a counter's waiting list, the day's anomaly count.

The only SQL in the web; the core stays the file's one writer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config import SiteConfig


class Reader:
    """Read-only queries on the core's SQLite file, one short connection each."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)

    def _store(self):
        from kiosk.core.store import Store
        return Store.reader(self.db_path)

    def official(self, code: str) -> dict[str, Any] | None:
        s = self._store()
        try:
            return s.official(code)
        finally:
            s.close()

    def officials(self) -> list[dict[str, Any]]:
        s = self._store()
        try:
            return s.officials()
        finally:
            s.close()

    def waiting(self, config: SiteConfig, day: str, counter: int) -> list[dict[str, Any]]:
        """Tickets this counter could call, in the order Next would call them.

        The domain's own rule (``Queue.call_order``: transfers to this
        counter, then its fields in their order, the priority interleave),
        not a second copy of it in SQL: the list starts with whom Next calls.
        """
        from kiosk.core.domain import Queue
        s = self._store()
        try:
            state = s.load_state([c.number for c in config.counters])
        finally:
            s.close()
        if state.day != day:
            return []
        return [{"label": t.label, "field": t.field, "priority": t.priority, "state": t.state,
                 "issued_at": t.issued_at, "to_counter": t.target_counter}
                for t in Queue(config, state).call_order(counter)]

    def anomalies(self, start: float, end: float) -> int:
        s = self._store()
        try:
            return s.conn.execute("SELECT count(*) FROM ratings WHERE counted = 0 AND at >= ? "
                                  "AND at < ?", (start, end)).fetchone()[0]
        finally:
            s.close()
