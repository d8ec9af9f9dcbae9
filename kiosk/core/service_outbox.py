"""The core's events, followed until the broker has them.

The core publishes a ticket or rating event, a day's close or a follow-up
case's change only after its commit.  A core cut off between the two
(kill -9, a power cut) never published them: the redelivered command finds
its stored reply and does nothing again, and the province would miss them
until someone ran ``phucvu replay-events``.  So the database keeps the
journal id up to which the broker has acknowledged (PUBACK) every such
publication (``published.through``, schema 11), and at its next start the
core publishes what comes after it again, before it serves.  The province's
``(site, event_id)`` key makes one sent twice a no-op.

Acknowledgements are followed per batch (``committed``: the infos of one
``_after`` and its last journal id), looked at every ``EVERY_S``.  The
mark rides on the next commit of events (``Store.note_published``): a
sync of its own would hold up the call behind it, and the busy centre
this is for commits many times a second.  Only after ``IDLE_SAVE_S``
with no such commit, and at a clean stop, is it written on its own.  A
cut sends at most the last few seconds of events again.  Calls
(``event/call``) are not sent again: the wall shows the number from the
retained snapshot, and a call spoken again minutes later, after a
restart, would send the wrong citizen to a counter.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from paho.mqtt.client import MQTT_ERR_NO_CONN

from kiosk.core import commands_cases
from kiosk.core.domain import public_event

log = logging.getLogger("phucvu.core")

EVERY_S = 1.0
IDLE_SAVE_S = 3.0


def taken(info: Any) -> bool:
    """Whether the broker has acknowledged the publication behind ``info``.

    A message published while the core was not connected gets rc
    MQTT_ERR_NO_CONN: paho keeps it, sends it on the next connection and
    marks its info published on the PUBACK, yet ``is_published()`` raises
    for it for ever (paho 2.x; found when it stopped the core in
    tests/test_bridge_faults.py).  So for those the flag is read itself."""
    if info.rc == MQTT_ERR_NO_CONN:
        with info._condition:
            return info._published
    try:
        return info.is_published()
    except (ValueError, RuntimeError):
        return False        # never queued (paho's queue full): the next start sends it


class EventsOutbox:
    """``committed()`` after each batch's publications, ``poll()`` in the service loop."""

    def __init__(self, service: Any, every_s: float = EVERY_S):
        self.service = service
        self.store = service.engine.store
        self.every_s = every_s
        self._noted = self._through = self.store.published_through()
        self._noted_at = 0.0
        # Read before anything is committed; the mark never passes it
        # until it is sent again (``catch_up``, once connected).
        self._backlog = [{**e, "event_id": event_id}
                         for event_id, _, e in self.store.unpublished_events(self._noted)]
        self._batches: deque[tuple[int, list]] = deque()    # (last journal id, infos)
        self.due: float | None = None

    def committed(self, last_id: int, infos: list) -> None:
        """One batch's events published (``infos``: paho's, one per publication)."""
        self._batches.append((last_id, infos))
        if self.due is None:
            self.due = self.service.monotonic() + self.every_s

    def through(self) -> int:
        """The journal id up to which the broker has every publication."""
        while self._batches and all(taken(i) for i in self._batches[0][1]):
            self._through = max(self._through, self._batches.popleft()[0])
        return self._through

    def poll(self) -> None:
        mono = self.service.monotonic()
        if self.due is None or mono < self.due:
            return
        self.due = None
        try:
            self._note(mono)
            if self.store.mark_unsaved() and mono - self._noted_at >= IDLE_SAVE_S:
                self.store.save_published()
        except Exception:
            # A full disk: the mark stays behind, so more is sent again after
            # a cut; nothing is lost, and the core goes on.  Tried again next time.
            log.exception("could not save how far the broker has the core's events")
        if self._batches or self.store.mark_unsaved():
            self.due = mono + self.every_s       # still waiting: look again

    def _note(self, mono: float) -> None:
        through = self.through()
        if through > self._noted and not self._backlog:
            self.store.note_published(through)
            self._noted, self._noted_at = through, mono

    def flush(self, timeout: float = 2.0) -> None:
        """At a clean stop: wait a little for the broker's acknowledgements, then save."""
        deadline = time.monotonic() + timeout
        for _, infos in list(self._batches):
            for info in infos:
                try:
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                except (ValueError, RuntimeError):
                    pass        # published while the broker was away: not taken, sent again next start
        self._note(self.service.monotonic())
        try:
            self.store.save_published()
        except Exception:
            log.exception("could not save how far the broker has the core's events")

    def publish(self, events: list[dict]) -> int:
        """What committed events say on ``event/ticket``, ``event/rating`` and
        ``event/case``; returns how many publications."""
        svc = self.service
        site, t, sent = svc.config.site.id, svc.topics, []
        for e in events:
            if e["kind"].startswith("ticket_") or e["kind"] == "day_closed":
                sent.append(svc._publish(t.ticket_event, {"site": site, **public_event(e)}))
            elif e["kind"] == "rating_pressed":
                sent.append(svc._publish(t.rating_event, {"site": site, **public_event(e)}))
        for body in commands_cases.case_events(self.store, events):
            sent.append(svc._publish(t.case_event, body))
        last = max((e["event_id"] for e in events if "event_id" in e), default=None)
        if last is not None:
            self.committed(last, sent)
        return len(sent)

    def catch_up(self) -> int:
        """Publish again what the broker may not have: every event after the
        saved mark at start, as it was published after its commit.  Returns
        how many publications."""
        if not self._backlog:
            return 0
        backlog, self._backlog = self._backlog, []
        n = self.publish(backlog)
        self._batches.rotate(1)     # its batch first: the mark passes nothing before it is taken
        log.warning("%d publication(s) of events committed before the last stop were not "
                    "confirmed by the broker; published again (journal ids %d-%d)",
                    n, backlog[0]["event_id"], backlog[-1]["event_id"])
        return n
