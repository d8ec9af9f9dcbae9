"""What the web reads from the core's SQLite file, read-only: the roster (for
PIN checks and /admin), a counter's waiting list, the day's anomaly count,
the follow-up cases.

Each through the core's read side (``kiosk.core.read.Reader``) on a short
connection of its own: the calls run on worker threads, and a file the core
creates or a backup restores after the console started is simply opened
next time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config import SiteConfig
from kiosk.core import read


class Reader:
    """Read-only queries on the core's SQLite file, one short connection each."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)

    def official(self, code: str) -> dict[str, Any] | None:
        with read.Reader(self.db_path) as r:
            return r.official(code)

    def officials(self) -> list[dict[str, Any]]:
        with read.Reader(self.db_path) as r:
            return r.officials()

    def waiting(self, config: SiteConfig, day: str, counter: int) -> list[dict[str, Any]]:
        """Tickets this counter could call, in the order Next would call them.

        The domain's own rule (``Queue.call_order``: transfers to this
        counter, then its fields in their order, the priority interleave),
        not a second copy of it in SQL: the list starts with whom Next calls.
        """
        from kiosk.core.domain import Queue
        with read.Reader(self.db_path) as r:
            state = r.load_state([c.number for c in config.counters])
        if state.day != day:
            return []
        return [{"label": t.label, "field": t.field, "priority": t.priority, "state": t.state,
                 "issued_at": t.issued_at, "to_counter": t.target_counter}
                for t in Queue(config, state).call_order(counter)]

    def config_versions(self, limit: int = 100) -> list[dict[str, Any]]:
        """The site config's history, newest first (the core's ``config_versions``,
        which it alone writes); empty on a database from before that table."""
        with read.Reader(self.db_path) as r:
            return r.config_versions(limit)

    def cases(self, *, day_from: str | None = None, day_to: str | None = None,
              statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Follow-up cases by due time (``read_cases``), each as a dict of its
        columns plus the rating's comment."""
        with read.Reader(self.db_path) as r:
            return [row._asdict() for row in r.cases(day_from=day_from, day_to=day_to,
                                                     statuses=statuses)]

    def anomalies(self, start: float, end: float) -> int:
        with read.Reader(self.db_path) as r:
            return r.uncounted_presses(start, end)

    def today(self, config: SiteConfig, day: str, start: float, end: float) -> dict[str, Any]:
        """The dashboard's figures for the service day ``day`` ([start, end) in
        epoch seconds), read in one short connection."""
        from kiosk.web import figures
        with read.Reader(self.db_path) as r:
            names = {o["code"]: o["name"] for o in r.officials()}
            times = r.day_times(day)
            return {"anomalies": r.uncounted_presses(start, end),
                    "oldest": r.oldest_waiting(day),
                    "kpis": figures.time_kpis(config, times),
                    "estimate_error": figures.estimate_error(times),
                    "satisfaction": figures.satisfaction(
                        config, r.ratings_by_official(start, end), names)}
