"""What the snapshot needs from the store: the day's counted ratings per
level, for the public board's satisfaction rate, and the day's last calls.

Ratings live in the store, not in the queue state the snapshot is built
from; reading them for every snapshot (many a second) would be a query per
publication.  So the count is read from the store when the service day
changes (and at the first publication) and kept up to date from the
committed ``rating_pressed`` events after that.
"""
from __future__ import annotations

from kiosk.config import SiteConfig
from kiosk.core import views
from kiosk.core.engine import Engine


def recent_calls(config: SiteConfig, engine: Engine, limit: int) -> list[dict]:
    """The day's last calls from the database, so a restarted core's snapshot still has them."""
    day = engine.queue.state.day
    if day is None:
        return []
    return [views.call_body(config, engine.queue, e) for e in engine.store.last_calls(day, limit)
            if engine.ticket(e["ticket_id"]) is not None]


class DayRatings:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._day: str | None = None
        self._levels: dict[str, int] = {}

    def levels(self) -> dict[str, int]:
        """Level code -> counted ratings of today's tickets."""
        self._follow_day()
        return self._levels

    def count(self, events: list[dict]) -> None:
        """Committed events: their counted presses for today's tickets added."""
        if self._follow_day():
            return      # read from the store, which has these events already
        for e in events:
            if e["kind"] == "rating_pressed" and e.get("counted") and e.get("level"):
                t = self.engine.queue.state.tickets.get(e.get("ticket_id"))
                if t is not None and t.day == self._day:
                    self._levels[e["level"]] = self._levels.get(e["level"], 0) + 1

    def _follow_day(self) -> bool:
        """Whether the day changed (the count then read again from the store)."""
        day = self.engine.queue.state.day
        if day == self._day:
            return False
        self._day = day
        self._levels = self.engine.store.counted_levels(day) if day else {}
        return True
