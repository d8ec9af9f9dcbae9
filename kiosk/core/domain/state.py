"""The queue's state: tickets, counters, and the ordered lines tickets wait in.

Ticket states::

    waiting ──call──▶ called ──finish──▶ finished
                        │ ├───no-show──▶ no_show ──call specific──▶ called
                        │ └──transfer──▶ transferred ──call──▶ called
                        └─recall (stays called, new call event)

``transferred`` means "handed on and waiting at the new field or counter";
the ticket keeps its number and its original place in line (``seq``).

Only ``kiosk.core.domain.events.apply`` changes this state; the store
loads it back from its projections.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from kiosk.core.domain.clocks import Stamp

WAITING, CALLED, FINISHED, NO_SHOW, TRANSFERRED = (
    "waiting", "called", "finished", "no_show", "transferred")
TICKET_STATES = (WAITING, CALLED, FINISHED, NO_SHOW, TRANSFERRED)
CALLABLE = (WAITING, TRANSFERRED)
OPEN, PAUSED, CLOSED = "open", "paused", "closed"
COUNTER_STATES = (OPEN, PAUSED, CLOSED)

# How many recent service times per field feed the estimated wait.
SERVICE_WINDOW = 20


@dataclass
class Ticket:
    id: str
    day: str
    field: str
    origin_field: str
    number: int
    label: str
    priority: str | None
    seq: int
    issued_at: float
    state: str = WAITING
    counter: int | None = None
    target_counter: int | None = None
    called_at: float | None = None
    finished_at: float | None = None
    recalls: int = 0
    transfers: int = 0
    close_reason: str | None = None
    # The official logged in at the counter when the ticket was last called.
    official: str | None = None
    # The first call (not a recall): the end of the citizen's wait, kept so
    # a month's report reads it from the ticket instead of grouping calls.
    first_called_at: float | None = None
    # Where its counted rating came from, "box" or "phone" (None: not rated).
    # Whichever comes first counts; the other is kept as an extra press.
    rated: str | None = None
    # The wait it was told at issue (seconds after issue): the forecast's
    # mean and p10-p90 range; None when no open counter served its field.
    est_wait_s: float | None = None
    est_low_s: float | None = None
    est_high_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Counter:
    number: int
    status: str = OPEN
    current: str | None = None
    priority_streak: int = 0
    official: str | None = None
    # The rating window: the ticket finished here last, when it was finished
    # (the window runs from then for [rating] window_s), and whether it has
    # its rating.  Stored with the counter, so a restart closes nothing.
    rating_ticket: str | None = None
    rating_opened: Stamp | None = None
    rating_done: bool = False
    last_press: Stamp | None = None       # the last rating press here

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QueueState:
    day: str | None = None
    day_closed: bool = False
    tickets: dict[str, Ticket] = field(default_factory=dict)
    counters: dict[int, Counter] = field(default_factory=dict)
    last_number: dict[str, int] = field(default_factory=dict)
    issue_seq: int = 0
    call_seq: int = 0
    service_times: dict[str, deque] = field(default_factory=dict)
    # Derived indexes, kept in step by ``events.apply`` so that a call costs
    # the same with 20 or 2,000 tickets waiting.  ``lines`` maps a line
    # (a field code, or a counter number for tickets transferred to it) and
    # a priority flag to the (seq, ticket id) pairs waiting there, in order.
    lines: dict[tuple[str | int, bool], list[tuple[int, str]]] = field(default_factory=dict)
    by_label: dict[str, str] = field(default_factory=dict)
    # Each box link's (and bridge's) clock offset (core monotonic minus its
    # time) and the core monotonic time it was last estimated at; see
    # ``clocks.map_press``.
    links: dict[str, tuple[float, float]] = field(default_factory=dict)
    # The public board's tally of the day (``board.public_board``), kept in
    # step like ``lines``: a snapshot goes out at every call, and walking the
    # day's tickets for it was a quarter of a call's time with 2,400 of them.
    # ``served``: the day's finished tickets; ``first_waits``: each called
    # ticket's wait to its first call, sorted, so any wait target is a bisect.
    served: int = 0
    first_waits: list[float] = field(default_factory=list)

    def reindex(self) -> None:
        self.lines.clear()
        self.by_label.clear()
        self.served = 0
        self.first_waits.clear()
        for t in sorted(self.tickets.values(), key=lambda t: t.seq):
            self.by_label[t.label] = t.id
            if t.state in CALLABLE:
                self.enqueue(t)
            self.tally(t, +1)

    def tally(self, t: Ticket, sign: int) -> None:
        """Count ``t`` into the board's tally (+1) or out of it (-1): a
        handler that changes a ticket's state or call times takes it out
        before and puts it back after."""
        if t.day != self.day:
            return
        if t.state == FINISHED:
            self.served += sign
        first = t.first_called_at if t.first_called_at is not None else t.called_at
        if first is None:
            return
        wait = first - t.issued_at
        if sign > 0:
            bisect.insort(self.first_waits, wait)
        else:
            i = bisect.bisect_left(self.first_waits, wait)
            if i < len(self.first_waits) and self.first_waits[i] == wait:
                del self.first_waits[i]

    @staticmethod
    def line_of(t: Ticket) -> tuple[str | int, bool]:
        return (t.target_counter if t.target_counter is not None else t.field, bool(t.priority))

    def enqueue(self, t: Ticket) -> None:
        bisect.insort(self.lines.setdefault(self.line_of(t), []), (t.seq, t.id))

    def dequeue(self, t: Ticket) -> None:
        line = self.lines.get(self.line_of(t), [])
        i = bisect.bisect_left(line, (t.seq, t.id))
        if i < len(line) and line[i] == (t.seq, t.id):
            del line[i]

    def line(self, key: str | int, priority: bool) -> list[tuple[int, str]]:
        return self.lines.get((key, priority), [])

    def comparable(self) -> dict[str, Any]:
        """A plain view of the whole state, for equality checks."""
        return {
            "day": self.day,
            "day_closed": self.day_closed,
            "tickets": {k: t.to_dict() for k, t in sorted(self.tickets.items())},
            "counters": {k: c.to_dict() for k, c in sorted(self.counters.items())},
            "links": {k: [round(x, 6) for x in v] for k, v in sorted(self.links.items())},
            "last_number": dict(sorted(self.last_number.items())),
            "issue_seq": self.issue_seq,
            "call_seq": self.call_seq,
            # a multiset: ties in finish time may order the window either way
            "service_times": {k: sorted(round(x, 6) for x in v)
                              for k, v in sorted(self.service_times.items()) if v},
        }
