"""The queue's operations: each checks the state, then emits events and applies them.

An operation refuses with a ``DomainError`` before it emits anything, except
for the day rollover every operation starts with (``days.rollover``): those
events stay applied and are committed with the refusal.

The rooms ``Queue`` hands decisions to: ``days`` (service day, opening
hours, numbering), ``selection`` (whom Next calls), ``ratings`` (windows and
presses), ``waits`` (what citizens are told), ``forecast`` (the queue played
forward: the wait told), ``events`` (what an event does to the state).
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Iterable

from kiosk.config import SiteConfig
from kiosk.core.domain import cases, days, events, forecast, ratings, selection, waits
from kiosk.core.domain.clocks import Stamp
from kiosk.core.domain.errors import DomainError
from kiosk.core.domain.ratings import RatingJudge
from kiosk.core.domain.state import CALLABLE, CALLED, NO_SHOW, OPEN, Counter, QueueState, Ticket


# The forecast of all waiting tickets is replayed at most this often while
# nothing happens (a busy counter's rest shrinks as its service goes on).
MEMO_S = 60.0


def _operation(method):
    """Public operations return the events they emitted (and applied)."""
    def run(self: "Queue", *args: Any, **kwargs: Any) -> list[dict]:
        method(self, *args, **kwargs)
        return self.take_pending()
    run.__name__, run.__doc__ = method.__name__, method.__doc__
    return run


class Queue:
    """Decisions over a ``QueueState``; emits and applies events."""

    def __init__(self, config: SiteConfig, state: QueueState | None = None):
        self.config = config
        self.state = state or QueueState()
        self.judge = RatingJudge(config.rating, self.state)
        self._pending: list[dict] = []
        # What the wait forecast plays with, learned from recent days by the
        # core (``forecast.learn``); None: the live window and the config.
        self.figures: forecast.Figures | None = None
        self._version = 0               # moves with every event applied
        self._memo: tuple[tuple, float, Any] | None = None
        self.state.reindex()
        for c in config.counters:
            self.state.counters.setdefault(c.number, Counter(c.number))

    @classmethod
    def replay(cls, config: SiteConfig, journal: Iterable[dict]) -> "Queue":
        q = cls(config)
        for e in journal:
            q.apply(e)
        return q

    def apply(self, e: dict) -> None:
        """Apply one event (``events.apply``); the journal replays through here."""
        events.apply(self.state, e, self.config.rating.window_s)
        self._version += 1

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
        taken, self._pending = self._pending, []
        return taken

    def _begin(self, now: float) -> None:
        """Roll over to a new service day when the date has moved on."""
        day = self.service_day(now)
        for kind, data in days.rollover(self.state.day, self.state.day_closed, day):
            if kind == "day_closed":
                data["expired"] = events.still_open(self.state)
            self._emit(kind, now, **data)

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

    def _require_open(self, counter: Counter) -> None:
        if counter.status != OPEN:
            raise DomainError("not_open", f"counter {counter.number} is {counter.status}")

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
        if f.closed:
            # Taken out of service by the admin: no next opening to promise.
            raise DomainError("field_closed", f"field {field_code!r} takes no new tickets")
        if self.state.day_closed:
            raise DomainError("day_closed", f"service day {self.state.day} is closed",
                              next_open=days.next_opening(self.config, field_code, now))
        if not days.is_open(self.config, field_code, now):
            raise DomainError("closed", f"field {field_code!r} is closed now",
                              next_open=days.next_opening(self.config, field_code, now))
        issued = self.state.last_number.get(field_code, 0)
        if issued >= f.daily_quota:
            raise DomainError("quota", f"field {field_code!r} reached its daily quota of {f.daily_quota}",
                              next_open=days.next_day_opening(self.config, field_code, now))
        number = issued + 1
        label = days.label_for(f.prefix, number)
        # The wait it is told, decided here and journaled with the ticket:
        # the printout, the reply and the day's measured error all read it.
        told = waits.told(self._told(field_code, priority is not None, now), now)
        self._emit("ticket_issued", now, ticket_id=days.ticket_id(self.state.day, label),
                   day=self.state.day, field=field_code, number=number, label=label,
                   priority=priority, seq=self.state.issue_seq + 1, **told)

    @_operation
    def call_next(self, counter_no: int, now: float, mono: float = 0.0,
                  press: tuple | None = None) -> list[dict]:
        counter = self._counter(counter_no)
        self._begin(now)
        self._require_open(counter)
        chosen = self.select_next(counter_no)
        if chosen is None:
            raise DomainError("empty", f"no ticket waits for counter {counter_no}")
        stamped = self.judge.stamp(mono, press)
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
        stamped = self.judge.stamp(mono, press)
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
        self._finish_current(counter, now, mono, self.judge.stamp(mono, press))

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
        self._require_open(counter)
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
        self._emit("day_closed", now, day=self.state.day, expired=events.still_open(self.state))

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

        ``RatingJudge.press`` says which; ``press`` is the box's link and
        clock, so the press is judged on when it was made.
        """
        counter = self._counter(counter_no)
        self._begin(now)
        rating = self.judge.press(counter, level, now, mono, press, rating_id=rating_id,
                                  source=source, device_time_ms=device_time_ms,
                                  received_at=received_at)
        # A counted "not satisfied" rating opens a follow-up case (domain/cases.py).
        self._emit("rating_pressed", now, **rating, **cases.opening(self.config, rating, now))

    @_operation
    def rate_phone(self, ticket_id: str, level: int, now: float, *, rating_id: str,
                   reasons: list[str], comment: str | None, client: str = "") -> list[dict]:
        """A citizen's rating from the phone page (the token checked by the caller).

        Refused (``DomainError``, nothing kept) when there is no such ticket
        today, it is not served yet, or its reasons break the contract; else
        kept, counted or not (``RatingJudge.phone``).
        """
        self._begin(now)
        ticket = self.state.tickets.get(ticket_id)
        comment = ratings.clean_comment(comment)
        refused = self.judge.phone_refusal(ticket, ticket_id, level, reasons, comment)
        if refused is not None:
            raise DomainError(*refused)
        phone = self.config.phone
        rating = self.judge.phone(
            ticket, level, now, window_min=phone.rating_window_min if phone else None,
            day_closed=self.state.day_closed, rating_id=rating_id, reasons=reasons,
            comment=comment, client=client)
        self._emit("rating_pressed", now, **rating, **cases.opening(self.config, rating, now))

    def _finish_current(self, counter: Counter, now: float, mono: float,
                        stamped: tuple[Stamp, dict[str, float]]) -> None:
        # Pressing "next" while serving means the citizen was served.
        if counter.current is not None:
            self._emit("ticket_finished", now, ticket_id=counter.current, counter=counter.number,
                       **self.judge.opening(now, mono, stamped))

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

    # ---------------------------------------------------------- read model
    def service_day(self, now: float) -> str:
        return days.service_day(self.config, self.state.day, now)

    def select_next(self, counter_no: int) -> Ticket | None:
        """The ticket ``call_next`` would take, without taking it."""
        return next(selection.order(self.config, self.state, counter_no), None)

    def call_order(self, counter_no: int, limit: int = 200) -> list[Ticket]:
        """The tickets ``call_next`` at this counter would call, in that order.

        The staff console's waiting list: it starts with the citizen Next
        calls; later entries assume no other counter calls in between.
        """
        return list(islice(selection.order(self.config, self.state, counter_no), limit))

    def waiting_for(self, counter_no: int) -> int:
        return selection.waiting_for(self.config, self.state, counter_no)

    def ahead_of(self, ticket: Ticket) -> int:
        """People who will be called before ``ticket`` in its line."""
        return waits.ahead_of(self.state, ticket)

    def wait_forecast(self, now: float, probes: list[tuple[str, bool]] | None = None,
                      tickets: bool = True) -> dict[str, forecast.Forecast]:
        """``forecast.forecast`` on the current state.  With the defaults
        (every waiting ticket, and a probe per field for an ordinary and a
        priority ticket) it is kept until the next event or ``MEMO_S`` of
        clock, so the snapshot, the waiting summary and the phone's list of
        one change share one play."""
        figures = forecast.with_live(self.config, self.state, self.figures)
        if probes is not None:
            return forecast.forecast(self.config, self.state, figures, now,
                                     probes=probes, tickets=tickets)
        if not self.forecast_current(now):
            self._memo = (self._memo_key(), now // MEMO_S, forecast.forecast(
                self.config, self.state, figures, now,
                probes=[(f.code, p) for f in self.config.fields for p in (False, True)]))
        return self._memo[2]

    def forecast_current(self, now: float) -> bool:
        """Whether ``wait_forecast(now)`` would return the kept play."""
        return self._memo is not None and self._memo[0] == self._memo_key() \
            and self._memo[1] == now // MEMO_S

    def last_forecast(self) -> dict[str, forecast.Forecast] | None:
        """The last full play, however old (None before the first): what a
        caller that must not wait for a play shows until the next one."""
        return None if self._memo is None else self._memo[2]

    def _memo_key(self) -> tuple:
        return (self._version, id(self.config), id(self.figures))

    def _told(self, field_code: str, priority: bool, now: float) -> forecast.Forecast | None:
        """The forecast of a ticket issued now: the last change's play when
        nothing happened since and it is of this minute (the snapshot after
        each change made it, so an issue costs no second play, and the
        ticket says what the kiosk's tile said; an older one may have a
        counter's service ending when it has already run long), else a play
        that stops at it."""
        probe = forecast.probe_id(field_code, priority)
        if self.forecast_current(now):
            return self._memo[2].get(probe)
        return self.wait_forecast(now, probes=[(field_code, priority)], tickets=False).get(probe)

    def summary(self, now: float,
                forecasts: dict[str, forecast.Forecast] | None = None) -> dict[str, Any]:
        """``forecasts``: a play to tell the waits by (the service's paced
        one); None plays now."""
        return waits.summary(self.config, self.state, now,
                             self.wait_forecast(now) if forecasts is None else forecasts)

    def rating_window(self, counter_no: int, mono: float) -> dict[str, Any] | None:
        """The open window at a counter: ticket and seconds left, or None."""
        return self.judge.window(self.state.counters[counter_no], mono)
