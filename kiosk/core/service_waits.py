"""The wait forecast's pace in the core service.

Playing the queue forward (``Queue.wait_forecast``) costs about 2 µs a
waiting ticket per counter call played: nothing for a commune's thirty
waiting, 20-30 ms for a backlog of 2,000.  A call must reach the wall at
once (bench/bus.py: next -> display snapshot), so no publication waits for
a play: the snapshot, the summary and the phones' list tell the waits of
the last play, and the loop plays again at most every ``EVERY_S`` once
something changed (or ``Queue.MEMO_S`` of clock went by), then publishes
them again, if the waits moved.  A wait on the wall is at most about a
second behind; the wait printed on a ticket is never behind: ``Queue.issue``
plays for it when the last play is not of the current state.
"""
from __future__ import annotations

from typing import Any

# A play at most this often (seconds, monotonic).
EVERY_S = 1.0


class WaitsPacer:
    """``forecast()`` when publishing, ``poll()`` in the service loop."""

    def __init__(self, service: Any, every_s: float = EVERY_S):
        self.service = service
        self.every_s = every_s
        self._next = 0.0                    # monotonic: no play before this
        self.due: float | None = None       # a play is held until then

    def forecast(self) -> dict:
        """The play to tell the waits by, without playing when one exists."""
        svc = self.service
        q, now = svc.engine.queue, svc.engine.clock()
        if q.forecast_current(now):
            return q.wait_forecast(now)
        last = q.last_forecast()
        if last is None:                    # the first since the start or a reload
            self._next = svc.monotonic() + self.every_s
            return q.wait_forecast(now)
        if self.due is None:
            self.due = max(svc.monotonic(), self._next)
        return last

    def poll(self) -> None:
        svc = self.service
        if self.due is None or svc.monotonic() < self.due:
            return
        self.due = None
        self._next = svc.monotonic() + self.every_s
        svc.engine.queue.wait_forecast(svc.engine.clock())
        # Out again with the new waits (each only if it changed).
        svc._publish_state(counters=set(), urgent=True)
        svc.tickets.changed()
