"""The wait forecast's pace in the core service.

Playing the queue forward (``Queue.wait_forecast``) costs about 2 µs a
waiting ticket per counter call played: nothing for a commune's thirty
waiting, 20-30 ms for a backlog of 2,000.  A call must reach the wall at
once (bench/bus.py: next -> display snapshot), so no publication waits for
a play: the snapshot, the summary and the phones' list tell the waits of
the last play, and the loop plays again at most every ``EVERY_S`` once
something changed (or ``Queue.MEMO_S`` of clock went by), then publishes
them again, if the waits moved.  The wait printed on a ticket is never
behind: ``Queue.issue`` plays for it when the last play is not of the
current state.

A play also waits for a quiet moment: ``QUIET_S`` with no change
published.  A play blocks the loop, and a command that arrives during it
waits: with bench/bus.py's 2,400 tickets a play took 20-90 ms, and the calls
that came during one were a run of slow calls every second, the ones that
set next -> display's p99.  A centre whose commands never pause for
``QUIET_S`` (a burst, a bench) gets its play ``DEFER_MAX_S`` after it fell
due all the same, so a wait on the wall is at most about a second behind
in a centre's usual pace and ``DEFER_MAX_S`` behind in a burst.
"""
from __future__ import annotations

from typing import Any

# A play at most this often (seconds, monotonic).
EVERY_S = 1.0
# A play waits until no change was published for this long...
QUIET_S = 0.25
# ...but no longer than this after it fell due.
DEFER_MAX_S = 5.0


class WaitsPacer:
    """``forecast()`` when publishing, ``poll()`` in the service loop."""

    def __init__(self, service: Any, every_s: float = EVERY_S, quiet_s: float = QUIET_S,
                 defer_max_s: float = DEFER_MAX_S):
        self.service = service
        self.every_s, self.quiet_s, self.defer_max_s = every_s, quiet_s, defer_max_s
        self._next = 0.0                    # monotonic: no play before this
        self._due: float | None = None      # a play is held until then
        self._busy = float("-inf")          # monotonic: the last publication asking for waits

    @property
    def due(self) -> float | None:
        """When ``poll`` plays next (monotonic; None: nothing to play)."""
        if self._due is None:
            return None
        return min(max(self._due, self._busy + self.quiet_s), self._due + self.defer_max_s)

    def forecast(self) -> dict:
        """The play to tell the waits by, without playing when one exists."""
        svc = self.service
        q, now = svc.engine.queue, svc.engine.clock()
        self._busy = svc.monotonic()
        if q.forecast_current(now):
            return q.wait_forecast(now)
        last = q.last_forecast()
        if last is None:                    # the first since the start or a reload
            self._next = svc.monotonic() + self.every_s
            return q.wait_forecast(now)
        if self._due is None:
            self._due = max(svc.monotonic(), self._next)
        return last

    def poll(self) -> None:
        svc = self.service
        due = self.due
        if due is None or svc.monotonic() < due:
            return
        self._due = None
        self._next = svc.monotonic() + self.every_s
        svc.engine.queue.wait_forecast(svc.engine.clock())
        # Out again with the new waits (each only if it changed).
        svc._publish_state(counters=set(), urgent=True)
        svc.tickets.changed()
