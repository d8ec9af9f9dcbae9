"""The retained ``queue/tickets`` (what citizens' phones show), published
by the core service after the commit of what changed it.

It is the day's every ticket, so it goes out at most every
``EVERY_S``: a change inside that time is held and published when
it is due, with whatever else changed meanwhile, so the last change is
always published.  It is built only after a commit, never for a
heartbeat (nothing a phone shows changes with time alone), and a body equal
to the last one (its time aside) is not published again: a pause or a
login changes nothing a phone shows.  On every (re)connect it goes out whatever it says (``republish``), and
at day close it is an empty ``tickets`` (``views.phone_tickets``).  A
centre without ``[phone]`` has no reader for it: nothing is built or sent.
"""
from __future__ import annotations

from typing import Any

from kiosk.core import views

# Once a second at most: a phone need not follow faster (the wall display
# and its voice call the number at once), and a day of 2,400 tickets costs
# the core's loop about 15 ms a build (docs/performance.md).
EVERY_S = 1.0


class TicketsFeed:
    """``changed()`` after each commit, ``poll()`` in the service loop."""

    def __init__(self, service: Any, every_s: float = EVERY_S):
        self.service = service
        self.every_s = every_s
        self._last: dict | None = None
        self._next = 0.0                    # monotonic: not before this
        self.due: float | None = None       # a held change goes out then

    def republish(self) -> None:
        """Out again even if it says what the last said (a reconnect: the
        broker may have lost its retained copy; a ``republish`` command)."""
        self._last = None
        self.changed()

    def changed(self) -> None:
        """Something was committed: publish now, or when the last publication is old enough."""
        if self.service.config.phone is None:
            return          # no phone page reads it ([phone] needs a restart to change)
        mono = self.service.monotonic()
        if mono >= self._next:
            self._publish(mono)
        elif self.due is None:
            self.due = self._next

    def poll(self) -> None:
        if self.due is not None and self.service.monotonic() >= self.due:
            self._publish(self.service.monotonic())

    def _publish(self, mono: float) -> None:
        self.due = None
        svc = self.service
        body = views.phone_tickets(svc.config, svc.engine.queue, svc.engine.clock(),
                                   svc.waits.forecast())
        same = {k: v for k, v in body.items() if k != "updated_at"}
        if same == self._last:
            return
        self._last = same
        self._next = mono + self.every_s
        svc._publish(svc.topics.queue_tickets, body, retain=True)

