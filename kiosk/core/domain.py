"""The queue domain: state, decisions and events, with no I/O at all.

Every operation checks the current state, then emits one or more events and
applies them to the state.  An event carries every value that was decided
(the number, the call id, the time), so applying the journal of events to an
empty state rebuilds exactly the same state; the store relies on that.

Ticket states::

    waiting ──call──▶ called ──finish──▶ finished
                        │ ├───no-show──▶ no_show ──call specific──▶ called
                        │ └──transfer──▶ transferred ──call──▶ called
                        └─recall (stays called, new call event)

``transferred`` means "handed on and waiting at the new field or counter";
the ticket keeps its number and its original place in line (``seq``).

Time: ``now`` is wall-clock epoch seconds from the caller's clock seam.  The
service day is the date of ``now`` in the site's time zone, but the day never
goes backwards: a clock that jumps back after a power cut cannot reopen a
closed day or restart its numbering.
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from kiosk.config import WEEKDAYS, SiteConfig

WAITING, CALLED, FINISHED, NO_SHOW, TRANSFERRED = (
    "waiting", "called", "finished", "no_show", "transferred")
TICKET_STATES = (WAITING, CALLED, FINISHED, NO_SHOW, TRANSFERRED)
CALLABLE = (WAITING, TRANSFERRED)
OPEN, PAUSED, CLOSED = "open", "paused", "closed"
COUNTER_STATES = (OPEN, PAUSED, CLOSED)

# How many recent service times per field feed the estimated wait.
SERVICE_WINDOW = 20

EVENT_KINDS = (
    "day_started", "day_closed", "ticket_issued", "ticket_called",
    "ticket_recalled", "ticket_finished", "ticket_no_show",
    "ticket_transferred", "counter_paused", "counter_resumed",
    "official_login", "official_logout", "rating_pressed",
)
# Event keys on the core's own monotonic clock (press times, clock offsets):
# journaled, so a restart rebuilds the same state, but meaningless to anyone
# else, so never published or sent up to the province.
LOCAL_KEYS = frozenset({"mono", "pressed", "opened", "clocks"})


def public_event(e: dict) -> dict:
    """An event as the bus carries it: without the core's local clock readings."""
    return {k: v for k, v in e.items() if k not in LOCAL_KEYS}


# Why a press was kept but not counted (see docs/reports.md), in the order
# reports show them; kiosk/reports/figures.py takes this very tuple.
ANOMALIES = ("no_window", "after_window", "extra_press", "too_fast", "bad_level")


class DomainError(Exception):
    """An operation the rules refuse; ``code`` is stable, for machines."""

    def __init__(self, code: str, message: str, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        # Events committed before the refusal (a day rollover), set by the engine.
        self.events: list[dict] = []


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Stamp:
    """When something happened at a counter, as the core judges it.

    ``mono`` is the core's monotonic clock.  A box's key or button press
    also carries ``link`` (the box and its boot) and ``box_ms`` (the box's
    own monotonic milliseconds): two stamps of the same link are compared on
    the box's clock, exactly, however late either arrived; other pairs on
    ``mono``, where a box's press is mapped through ``map_press``.
    """

    mono: float
    link: str | None = None
    box_ms: int | None = None

    def to_list(self) -> list:
        return [self.mono, self.link, self.box_ms]

    @classmethod
    def of(cls, value: list | None) -> "Stamp | None":
        return None if value is None else cls(*value)


def elapsed(a: Stamp, b: Stamp) -> float:
    """Seconds from ``a`` to ``b``."""
    if a.link is not None and a.link == b.link and a.box_ms is not None and b.box_ms is not None:
        return (b.box_ms - a.box_ms) / 1000.0
    return b.mono - a.mono


def _estimate(clocks: dict[str, tuple[float, float]], name: str, observed: float,
              arrival: float, drift_ppm: float) -> float:
    """The minimum filter: the smallest observation wins, an old one may grow by the drift."""
    prev = clocks.get(name)
    if prev is None:
        return observed
    old, at = prev
    return min(observed, old + max(0.0, arrival - at) * drift_ppm * 1e-6)


def map_press(links: dict[str, tuple[float, float]], press: tuple, arrival: float,
              drift_ppm: float) -> tuple[Stamp, dict[str, float]]:
    """A box's press on the core's monotonic clock, and the clock offsets it taught.

    ``press`` is ``(link, box_ms)`` or ``(link, box_ms, relay, rx_ms, tx_ms)``.
    An offset is core time minus a device's time.  Every message gives one
    observation of it that is too large by the message's delay, never too
    small, so the smallest observation is the best estimate (NTP's minimum
    filter), allowed to grow by the drift bound for a slow crystal.

    With a relay (the bridge that read the box), the bridge's clock is
    learnt the same way from when it published (``tx_ms``), and when it
    says the event was pressed (``rx_ms``: when it read it, or earlier by
    the box's own clock; mapped) bounds the press from above as the arrival
    does: a box just rebooted, whose clock the core has never seen, is then
    placed when the bridge saw it pressed, not when the core came back.
    The press is never placed after either bound.
    """
    link, box_ms = press[0], press[1]
    taught: dict[str, float] = {}
    bound = arrival
    if len(press) == 5:
        relay, rx_ms, tx_ms = press[2], press[3], press[4]
        taught[relay] = _estimate(links, relay, arrival - tx_ms / 1000.0, arrival, drift_ppm)
        bound = min(arrival, rx_ms / 1000.0 + taught[relay])
    taught[link] = _estimate(links, link, bound - box_ms / 1000.0, arrival, drift_ppm)
    return Stamp(box_ms / 1000.0 + taught[link], link, box_ms), taught


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
    # Derived indexes, kept in step by ``Queue.apply`` so that a call costs
    # the same with 20 or 2,000 tickets waiting.  ``lines`` maps a line
    # (a field code, or a counter number for tickets transferred to it) and
    # a priority flag to the (seq, ticket id) pairs waiting there, in order.
    lines: dict[tuple[str | int, bool], list[tuple[int, str]]] = field(default_factory=dict)
    by_label: dict[str, str] = field(default_factory=dict)
    # Each box link's (and bridge's) clock offset (core monotonic minus its
    # time) and the core monotonic time it was last estimated at; see
    # ``map_press``.
    links: dict[str, tuple[float, float]] = field(default_factory=dict)

    def reindex(self) -> None:
        self.lines.clear()
        self.by_label.clear()
        for t in sorted(self.tickets.values(), key=lambda t: t.seq):
            self.by_label[t.label] = t.id
            if t.state in CALLABLE:
                self.enqueue(t)

    @staticmethod
    def line_of(t: "Ticket") -> tuple[str | int, bool]:
        return (t.target_counter if t.target_counter is not None else t.field, bool(t.priority))

    def enqueue(self, t: "Ticket") -> None:
        bisect.insort(self.lines.setdefault(self.line_of(t), []), (t.seq, t.id))

    def dequeue(self, t: "Ticket") -> None:
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


def _operation(method):
    """Public operations return the events they emitted (and applied)."""
    def run(self: "Queue", *args: Any, **kwargs: Any) -> list[dict]:
        method(self, *args, **kwargs)
        return self.take_pending()
    run.__name__, run.__doc__ = method.__name__, method.__doc__
    return run


def label_for(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


class Queue:
    """Decisions over a ``QueueState``; emits and applies events."""

    def __init__(self, config: SiteConfig, state: QueueState | None = None):
        self.config = config
        self.state = state or QueueState()
        self._pending: list[dict] = []
        self.state.reindex()
        for c in config.counters:
            self.state.counters.setdefault(c.number, Counter(c.number))

    # ---------------------------------------------------------------- time
    def service_day(self, now: float) -> str:
        today = self.config.local_time(now).date().isoformat()
        # Never go back to an earlier day (stale clock after a power cut).
        if self.state.day is not None and today < self.state.day:
            return self.state.day
        return today

    def is_open(self, field_code: str, now: float) -> bool:
        local = self.config.local_time(now)
        wd = WEEKDAYS[local.weekday()]
        minute = local.hour * 60 + local.minute
        return any(wd in s.days and s.open_minute() <= minute < s.close_minute()
                   for s in self.config.field_hours(field_code))

    def next_opening(self, field_code: str, now: float) -> float | None:
        """Epoch of the next session start after ``now`` (within 8 days)."""
        local = self.config.local_time(now)
        best: dt.datetime | None = None
        for add in range(0, 8):
            d = (local + dt.timedelta(days=add)).date()
            wd = WEEKDAYS[d.weekday()]
            for s in self.config.field_hours(field_code):
                if wd not in s.days:
                    continue
                start = dt.datetime.combine(d, dt.time(0), tzinfo=self.config.tz) + \
                    dt.timedelta(minutes=s.open_minute())
                if start > local and (best is None or start < best):
                    best = start
            if best is not None:
                break
        return best.timestamp() if best else None

    # ------------------------------------------------------------ emitting
    def _emit(self, kind: str, now: float, **data: Any) -> None:
        event = {"kind": kind, "at": now, **data}
        self.apply(event)
        self._pending.append(event)

    def take_pending(self) -> list[dict]:
        """Events applied since the last take, to be committed by the store.

        An operation that is refused may still have rolled the day over
        before it was refused; those events are here too.
        """
        events, self._pending = self._pending, []
        return events

    def _begin(self, now: float) -> None:
        """Roll over to a new service day when the date has moved on."""
        day = self.service_day(now)
        if self.state.day != day:
            if self.state.day is not None and not self.state.day_closed:
                self._emit("day_closed", now, day=self.state.day)
            self._emit("day_started", now, day=day)

    def _counter(self, number: int) -> Counter:
        try:
            self.config.counter(number)
        except KeyError:
            known = [c.number for c in self.config.counters]
            raise DomainError("unknown_counter", f"no counter {number} (counters are {known})") from None
        return self.state.counters[number]

    def _current(self, counter: Counter) -> Ticket:
        if counter.current is None:
            raise DomainError("no_current", f"counter {counter.number} is not serving a ticket")
        return self.state.tickets[counter.current]

    # ---------------------------------------------------------- operations
    @_operation
    def issue(self, field_code: str, priority: str | None, now: float) -> list[dict]:
        try:
            f = self.config.field(field_code)
        except KeyError:
            known = [x.code for x in self.config.fields]
            raise DomainError("unknown_field", f"no field {field_code!r} (fields are {known})") from None
        if priority is not None:
            try:
                self.config.priority_class(priority)
            except KeyError:
                known = [p.code for p in self.config.priority.classes]
                raise DomainError("unknown_priority",
                                  f"no priority class {priority!r} (classes are {known})") from None
        self._begin(now)
        if self.state.day_closed:
            raise DomainError("day_closed", f"service day {self.state.day} is closed",
                              next_open=self.next_opening(field_code, now))
        if not self.is_open(field_code, now):
            raise DomainError("closed", f"field {field_code!r} is closed now",
                              next_open=self.next_opening(field_code, now))
        issued = self.state.last_number.get(field_code, 0)
        if issued >= f.daily_quota:
            raise DomainError("quota", f"field {field_code!r} reached its daily quota of {f.daily_quota}",
                              next_open=self._next_day_opening(field_code, now))
        number = issued + 1
        label = label_for(f.prefix, number)
        self._emit("ticket_issued", now,
                   ticket_id=f"{self.state.day.replace('-', '')}-{label}",
                   day=self.state.day, field=field_code, number=number, label=label,
                   priority=priority, seq=self.state.issue_seq + 1)

    def _next_day_opening(self, field_code: str, now: float) -> float | None:
        local = self.config.local_time(now)
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0),
                                       tzinfo=self.config.tz)
        return self.next_opening(field_code, midnight.timestamp() - 1)

    @_operation
    def call_next(self, counter_no: int, now: float, mono: float = 0.0,
                  press: tuple | None = None) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        self._require_open(counter)
        chosen = self.select_next(counter_no)
        if chosen is None:
            raise DomainError("empty", f"no ticket waits for counter {counter_no}")
        stamped = self._stamp(mono, press)
        self._finish_current(counter, now, mono, stamped)
        self._call(counter, chosen, now, specific=False, mono=mono, stamped=stamped if press else None)

    @_operation
    def call_specific(self, counter_no: int, label: str, now: float, mono: float = 0.0,
                      press: tuple | None = None) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        self._require_open(counter)
        label = label.strip().upper()
        ticket_id = self.state.by_label.get(label)
        ticket = self.state.tickets[ticket_id] if ticket_id else None
        if ticket is None:
            raise DomainError("unknown_ticket", f"no ticket {label} today")
        if ticket.state == CALLED and ticket.counter == counter_no:
            raise DomainError("already_called", f"{label} is already called at this counter; use recall")
        if ticket.state not in (*CALLABLE, NO_SHOW):
            raise DomainError("not_waiting", f"{label} is {ticket.state}, it cannot be called")
        stamped = self._stamp(mono, press)
        self._finish_current(counter, now, mono, stamped)
        self._call(counter, ticket, now, specific=True, mono=mono, stamped=stamped if press else None)

    @_operation
    def recall(self, counter_no: int, now: float) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        ticket = self._current(counter)
        self._emit("ticket_recalled", now, ticket_id=ticket.id, counter=counter_no,
                   call_seq=self.state.call_seq + 1,
                   call_id=f"{self.state.day}-{self.state.call_seq + 1}")

    @_operation
    def finish(self, counter_no: int, now: float, mono: float = 0.0,
               press: tuple | None = None) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        self._current(counter)
        self._finish_current(counter, now, mono, self._stamp(mono, press))

    @_operation
    def no_show(self, counter_no: int, now: float) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        ticket = self._current(counter)
        self._emit("ticket_no_show", now, ticket_id=ticket.id, counter=counter_no)

    @_operation
    def transfer(self, counter_no: int, now: float, to_field: str | None = None,
                 to_counter: int | None = None) -> list[dict]:
        counter = self._counter(counter_no)
        if (to_field is None) == (to_counter is None):
            raise DomainError("bad_transfer", "transfer needs exactly one of: a field or a counter")
        if to_field is not None:
            try:
                self.config.field(to_field)
            except KeyError:
                raise DomainError("unknown_field", f"no field {to_field!r}") from None
        if to_counter is not None:
            self._counter(to_counter)
            if to_counter == counter_no:
                raise DomainError("bad_transfer", "a ticket cannot be transferred to its own counter")
        self._begin(now)
        ticket = self._current(counter)
        self._emit("ticket_transferred", now, ticket_id=ticket.id, counter=counter_no,
                   to_field=to_field, to_counter=to_counter)

    @_operation
    def pause(self, counter_no: int, now: float) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        if counter.status != OPEN:
            raise DomainError("not_open", f"counter {counter_no} is {counter.status}")
        self._emit("counter_paused", now, counter=counter_no)

    @_operation
    def resume(self, counter_no: int, now: float) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        if counter.status == OPEN:
            raise DomainError("already_open", f"counter {counter_no} is already open")
        if self.state.day_closed:
            raise DomainError("day_closed", f"service day {self.state.day} is closed")
        self._emit("counter_resumed", now, counter=counter_no)

    @_operation
    def close_day(self, now: float) -> list[dict]:
        self._begin(now)
        if self.state.day_closed:
            raise DomainError("day_closed", f"service day {self.state.day} is already closed")
        self._emit("day_closed", now, day=self.state.day)

    @_operation
    def login(self, counter_no: int, official: str, now: float) -> list[dict]:
        """``official`` (a roster code the caller has checked) serves at the counter."""
        counter = self._counter(counter_no)
        self._begin(now)
        for other in self.state.counters.values():
            if other.official == official and other.number != counter_no:
                # One person, one counter: logging in elsewhere logs out here.
                self._emit("official_logout", now, counter=other.number, official=official)
        if counter.official is not None and counter.official != official:
            self._emit("official_logout", now, counter=counter_no, official=counter.official)
        self._emit("official_login", now, counter=counter_no, official=official)

    @_operation
    def logout(self, counter_no: int, now: float) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        if counter.official is None:
            raise DomainError("no_official", f"nobody is logged in at counter {counter_no}")
        self._emit("official_logout", now, counter=counter_no, official=counter.official)

    @_operation
    def rate(self, counter_no: int, level: int, now: float, mono: float = 0.0, *,
             rating_id: str, source: str = "box", press: tuple | None = None,
             device_time_ms: int | None = None, received_at: float | None = None) -> list[dict]:
        """One press of a satisfaction button at a counter: counted or kept as an anomaly.

        The first press made inside the window that finishing a ticket there
        opened is that ticket's rating.  Every other press is kept with its
        reason and never counted: a button the site has no level for
        (``bad_level``), a press faster than a person after the previous one
        at this counter (``too_fast``), a press with no window or made before
        it opened (``no_window``), after it (``after_window``), or a second
        press for a ticket already rated (``extra_press``).

        Presses are judged on when they were made, not when they arrived:
        ``press`` is the box's link and clock, mapped by ``map_press``; a
        press without it is judged on ``mono``, its arrival.
        """
        counter = self._counter(counter_no)
        rules = self.config.rating
        levels = rules.levels
        self._begin(now)
        pressed, taught = self._stamp(mono, press)
        opened = counter.rating_opened
        ticket = self.state.tickets.get(counter.rating_ticket) if counter.rating_ticket else None
        since = elapsed(opened, pressed) if opened is not None and ticket is not None else None
        # A mapped press against a window another source opened may be off
        # by the mapping's error; the doubt goes to the citizen.
        slack = rules.clock_tolerance_s if (
            opened is not None and pressed.link is not None and pressed.link != opened.link) else 0.0
        reason: str | None
        if not 1 <= level <= len(levels):
            reason = "bad_level"
        elif counter.last_press is not None and \
                0 <= elapsed(counter.last_press, pressed) < rules.min_press_interval_s:
            reason = "too_fast"
        elif since is None or since < -slack:
            reason, ticket = "no_window", None
        elif since > rules.window_s + slack:
            reason = "after_window"
        elif counter.rating_done:
            reason = "extra_press"
        else:
            reason = None
        wait_s = service_s = None
        if ticket is not None and ticket.called_at is not None:
            wait_s = max(0.0, ticket.called_at - ticket.issued_at)
            if ticket.finished_at is not None:
                service_s = max(0.0, ticket.finished_at - ticket.called_at)
        # A rating belongs to whoever served the ticket (nobody, if nobody
        # was logged in); a press with no ticket to whoever sits at the
        # counter now (nobody at an unattended counter).
        official = ticket.official if ticket is not None else counter.official
        late = mono - pressed.mono
        self._emit("rating_pressed", now, rating_id=rating_id, counter=counter_no,
                   level_index=level,
                   level=levels[level - 1].code if 1 <= level <= len(levels) else f"level-{level}",
                   ticket_id=ticket.id if ticket else None, counted=reason is None, reason=reason,
                   official=official, field=ticket.field if ticket else None,
                   wait_s=wait_s, service_s=service_s, source=source,
                   device_time_ms=device_time_ms, received_at=received_at,
                   pressed_at=round(now - late, 3), delivered_late=late > rules.late_after_s,
                   mono=mono, pressed=pressed.to_list(), clocks=taught)

    def _stamp(self, mono: float, press: tuple | None) -> tuple[Stamp, dict[str, float]]:
        if press is None:
            return Stamp(mono), {}
        return map_press(self.state.links, press, mono, self.config.rating.max_drift_ppm)

    def rating_window(self, counter_no: int, mono: float) -> dict[str, Any] | None:
        """The open window at a counter: ticket and seconds left, or None."""
        c = self.state.counters[counter_no]
        if c.rating_ticket is None or c.rating_done or c.rating_opened is None:
            return None
        left = c.rating_opened.mono + self.config.rating.window_s - mono
        if left < 0:
            return None
        return {"ticket_id": c.rating_ticket, "left_s": left}

    # -------------------------------------------------------------- helpers
    def _require_open(self, counter: Counter) -> None:
        if counter.status != OPEN:
            raise DomainError("not_open", f"counter {counter.number} is {counter.status}")

    def _finish_current(self, counter: Counter, now: float, mono: float,
                        stamped: tuple[Stamp, dict[str, float]]) -> None:
        # Pressing "next" while serving means the citizen was served.
        if counter.current is not None:
            # The window opens when the key was pressed, not when it arrived.
            opened, taught = stamped
            self._emit("ticket_finished", now, ticket_id=counter.current,
                       counter=counter.number,
                       window_until=round(now - (mono - opened.mono) + self.config.rating.window_s, 3),
                       mono=mono, opened=opened.to_list(), clocks=taught)

    def _call(self, counter: Counter, ticket: Ticket, now: float, specific: bool,
              mono: float = 0.0, stamped: tuple[Stamp, dict[str, float]] | None = None) -> None:
        seq = self.state.call_seq + 1
        clock: dict[str, Any] = {}
        if stamped is not None:
            # Every key from a box teaches the core its clock, so a later
            # press that arrives late is still placed when it was made.
            pressed, taught = stamped
            clock = {"mono": mono, "pressed": pressed.to_list(), "clocks": taught}
        self._emit("ticket_called", now, ticket_id=ticket.id, counter=counter.number,
                   call_seq=seq, call_id=f"{self.state.day}-{seq}", specific=specific, **clock)

    def _lines_for(self, counter_no: int, priority: bool) -> list[list[tuple[int, str]]]:
        """The lines counter ``counter_no`` takes from, best first."""
        s = self.state
        return [s.line(counter_no, priority)] + \
            [s.line(f, priority) for f in self.config.counter(counter_no).fields]

    def waiting_for(self, counter_no: int) -> int:
        return sum(len(line) for prio in (True, False) for line in self._lines_for(counter_no, prio))

    def _head(self, counter_no: int, priority: bool) -> Ticket | None:
        # Lines are ranked (own transfers first, then fields in the counter's
        # order); FIFO by seq inside a line.
        for line in self._lines_for(counter_no, priority):
            if line:
                return self.state.tickets[line[0][1]]
        return None

    def select_next(self, counter_no: int) -> Ticket | None:
        """The ticket ``call_next`` would take, without taking it."""
        prio = self._head(counter_no, True)
        normal = self._head(counter_no, False)
        streak = self.state.counters[counter_no].priority_streak
        if prio is not None and (normal is None or streak < self.config.priority.interleave):
            return prio
        return normal

    def call_order(self, counter_no: int, limit: int = 200) -> list[Ticket]:
        """The tickets ``call_next`` at this counter would call, in that order.

        The same rule as ``select_next`` played forward (ranked lines, FIFO
        inside a line, the priority interleave from the counter's current
        streak), so a list shown to staff starts with the citizen Next calls.
        Later entries assume no other counter calls in between.
        """
        def chain(priority: bool):
            for line in self._lines_for(counter_no, priority):
                for _, ticket_id in line:
                    yield self.state.tickets[ticket_id]

        prio, normal = chain(True), chain(False)
        p, n = next(prio, None), next(normal, None)
        streak = self.state.counters[counter_no].priority_streak
        out: list[Ticket] = []
        while (p is not None or n is not None) and len(out) < limit:
            if p is not None and (n is None or streak < self.config.priority.interleave):
                out.append(p)
                p, streak = next(prio, None), streak + 1
            else:
                out.append(n)
                n, streak = next(normal, None), 0
        return out

    # ---------------------------------------------------------- read model
    def average_service_s(self, field_code: str) -> float:
        window = self.state.service_times.get(field_code)
        if window:
            return sum(window) / len(window)
        return self.config.field(field_code).minutes_per_citizen * 60

    def serving_counters(self, field_code: str) -> list[int]:
        return [c.number for c in self.config.counters
                if field_code in c.fields and self.state.counters[c.number].status == OPEN]

    def ahead_of(self, ticket: Ticket) -> int:
        """People who will be called before ``ticket`` in its line."""
        s = self.state
        key, is_prio = s.line_of(ticket)
        prio_ahead = bisect.bisect_left(s.line(key, True), (ticket.seq, ticket.id))
        if is_prio:
            return prio_ahead
        return len(s.line(key, True)) + bisect.bisect_left(s.line(key, False), (ticket.seq, ticket.id))

    def estimate_wait_s(self, field_code: str, ahead: int) -> float:
        servers = max(1, len(self.serving_counters(field_code)))
        return ahead * self.average_service_s(field_code) / servers

    def summary(self, now: float) -> dict[str, Any]:
        fields = []
        for f in self.config.fields:
            prio_waiting = len(self.state.line(f.code, True))
            waiting_n = prio_waiting + len(self.state.line(f.code, False))
            issued = self.state.last_number.get(f.code, 0) if self.state.day == self.service_day(now) else 0
            fields.append({
                "field": f.code,
                "name_vi": f.name_vi,
                "name_en": f.name_en,
                "prefix": f.prefix,
                "waiting": waiting_n,
                "priority_waiting": prio_waiting,
                "issued": issued,
                "quota_left": max(0, f.daily_quota - issued),
                "open": self.is_open(f.code, now) and not (
                    self.state.day_closed and self.state.day == self.service_day(now)),
                "estimated_wait_min": round(self.estimate_wait_s(f.code, waiting_n) / 60, 1),
                "counters": self.serving_counters(f.code),
            })
        return {"day": self.state.day, "day_closed": self.state.day_closed, "fields": fields}

    # -------------------------------------------------------------- apply
    def apply(self, e: dict) -> None:
        """Apply one event.  Deterministic: the journal replays through here."""
        s = self.state
        kind, at = e["kind"], e["at"]
        if kind == "day_started":
            s.day, s.day_closed = e["day"], False
            s.tickets.clear()
            s.last_number.clear()
            s.lines.clear()
            s.by_label.clear()
            for c in s.counters.values():
                c.status, c.current, c.priority_streak = OPEN, None, 0
        elif kind == "day_closed":
            s.day_closed = True
            for t in s.tickets.values():
                if t.state in (WAITING, CALLED, TRANSFERRED):
                    t.state, t.close_reason = NO_SHOW, "day_closed"
            s.lines.clear()
            for c in s.counters.values():
                c.status, c.current = CLOSED, None
                c.rating_ticket, c.rating_opened, c.rating_done = None, None, False
        elif kind == "ticket_issued":
            t = Ticket(id=e["ticket_id"], day=e["day"], field=e["field"], origin_field=e["field"],
                       number=e["number"], label=e["label"], priority=e["priority"],
                       seq=e["seq"], issued_at=at)
            s.tickets[t.id] = t
            s.by_label[t.label] = t.id
            s.enqueue(t)
            s.last_number[t.field] = t.number
            s.issue_seq = t.seq
        elif kind in ("ticket_called", "ticket_recalled"):
            t = s.tickets[e["ticket_id"]]
            c = s.counters[e["counter"]]
            s.call_seq = e["call_seq"]
            self._learn_link(e)
            if kind == "ticket_recalled":
                t.recalls += 1
                return
            if t.state in CALLABLE:
                s.dequeue(t)
            t.state, t.counter, t.called_at = CALLED, c.number, at
            if t.first_called_at is None:
                t.first_called_at = at
            t.official = c.official
            t.finished_at, t.close_reason = None, None
            t.target_counter = None
            c.current = t.id
            if not e["specific"]:
                c.priority_streak = c.priority_streak + 1 if t.priority else 0
            elif not t.priority:
                c.priority_streak = 0
        elif kind in ("ticket_finished", "ticket_no_show", "ticket_transferred"):
            t = s.tickets[e["ticket_id"]]
            c = s.counters[e["counter"]]
            c.current = None
            if kind == "ticket_finished":
                t.state, t.finished_at = FINISHED, at
                c.rating_ticket, c.rating_done = t.id, False
                if "opened" in e:
                    c.rating_opened = Stamp.of(e["opened"])
                else:  # journals before press-time judging: a monotonic deadline
                    c.rating_opened = Stamp(e["window_until"] - self.config.rating.window_s)
                self._learn_link(e)
                if t.called_at is not None:
                    window = s.service_times.setdefault(t.field, deque(maxlen=SERVICE_WINDOW))
                    window.append(max(0.0, at - t.called_at))
            elif kind == "ticket_no_show":
                t.state, t.finished_at = NO_SHOW, at
            else:
                t.state = TRANSFERRED
                t.transfers += 1
                if e["to_field"] is not None:
                    t.field = e["to_field"]
                t.target_counter = e["to_counter"]
                s.enqueue(t)
        elif kind == "official_login":
            s.counters[e["counter"]].official = e["official"]
        elif kind == "official_logout":
            s.counters[e["counter"]].official = None
        elif kind == "rating_pressed":
            c = s.counters[e["counter"]]
            if e.get("reason") != "bad_level":
                c.last_press = Stamp.of(e["pressed"]) if "pressed" in e else Stamp(e["mono"])
            if e["counted"]:
                c.rating_done = True
            self._learn_link(e)
        elif kind == "counter_paused":
            s.counters[e["counter"]].status = PAUSED
        elif kind == "counter_resumed":
            s.counters[e["counter"]].status = OPEN
        else:
            raise ValueError(f"unknown event kind {kind!r}")

    def _learn_link(self, e: dict) -> None:
        for name, offset in (e.get("clocks") or {}).items():
            self.state.links[name] = (offset, e["mono"])

    @classmethod
    def replay(cls, config: SiteConfig, events: Iterable[dict]) -> "Queue":
        q = cls(config)
        for e in events:
            q.apply(e)
        return q
