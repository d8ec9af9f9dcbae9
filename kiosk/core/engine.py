"""The engine: the pure queue domain, committed through the store.

Every operation is decided in memory, committed in one transaction, and only
then reported as done.  If the commit fails, memory is reloaded from the
database, so memory never runs ahead of what is on disk.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable

from kiosk.config import SiteConfig
from kiosk.core.domain import DomainError, Queue, cases, forecast
from kiosk.core.read.queries import boot_id
from kiosk.core.store import Store

OPERATIONS = ("issue", "call_next", "call_specific", "recall", "finish", "no_show",
              "transfer", "pause", "resume", "close_day", "login", "logout", "rate",
              "rate_phone")
# Operations that open or judge rating windows, which run on the monotonic clock.
_MONOTONIC = {"call_next", "call_specific", "finish", "rate"}


class Engine:
    def __init__(self, config: SiteConfig, store: Store,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 boot: Callable[[], str] | None = None):
        self.config = config
        self.store = store
        # The clock seam: wall time for days, hours and records; monotonic
        # time for windows and time-outs.  Tests drive both.
        self.clock = clock
        self.monotonic = monotonic
        # Rating windows and box clocks are stored on the monotonic clock;
        # the store needs how it relates to wall time to carry them across
        # a reboot of this machine (a new monotonic clock).
        machine_boot = (boot or boot_id)()
        store.clock_ref = lambda: (machine_boot, self.clock() - self.monotonic())
        self._learned: tuple[str | None, forecast.Figures | None] = ("", None)
        self.queue = Queue(config, store.load_state([c.number for c in config.counters]))
        self.learn(self.clock())

    def reload(self) -> None:
        self.queue = Queue(self.config, self.store.load_state([c.number for c in self.config.counters]))
        self.learn(self.clock())

    def learn(self, now: float) -> None:
        """The wait forecast's figures from the latest ``forecast.LEARN_DAYS``
        service days before the one ``now`` is in, learned again when the
        day moves on (a read of a few thousand rows, once a day), before the
        operation that rolls it over: its first ticket is told by them."""
        day = self.queue.service_day(now)
        if self._learned[0] != day:
            offset = dt.datetime.fromtimestamp(now, self.config.tz).utcoffset()
            rows = self.store.recent_tickets(day, forecast.LEARN_DAYS)
            self._learned = (day, forecast.learn_from_tickets(
                rows, offset.total_seconds() if offset else 0.0) if rows else None)
        self.queue.figures = self._learned[1]

    def run(self, op: str, *args: Any, **kwargs: Any) -> list[dict]:
        """Run one domain operation and commit it; returns the events.

        A refusal raises ``DomainError`` with the events committed all the
        same in ``error.events`` (a refused operation may still have rolled
        the day over; the caller publishes what was committed).
        """
        events, error, _ = self._apply(op, args, kwargs)
        if error is not None:
            error.events = events
            raise error
        return events

    def command(self, op: str, *args: Any, key: str,
                reply: Callable[[list[dict] | DomainError], dict],
                print_issued: bool = False, **kwargs: Any) -> tuple[list[dict], dict]:
        """Run one operation for the command ``key``; returns the committed
        events and the command's reply.

        ``reply(outcome)`` builds the reply from the events, or from the
        refusal (a ``DomainError``), on the state the operation left; it is
        stored with the events in one transaction, so a redelivered command
        finds its reply exactly when its effect is committed.  A refusal is
        a reply like any other: nothing is raised.  With ``print_issued``,
        a ticket it issues gets its pending print job in that transaction
        too (``Store.commit_events``).
        """
        events, _, body = self._apply(op, args, kwargs, key, reply, print_issued)
        return events, body

    def _apply(self, op: str, args: tuple, kwargs: dict[str, Any], key: str | None = None,
               reply: Callable[[list[dict] | DomainError], dict] | None = None,
               print_issued: bool = False) -> tuple[list[dict], DomainError | None, dict | None]:
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}")
        now = self.clock()
        self.learn(now)
        if op in _MONOTONIC:
            kwargs["mono"] = self.monotonic()
        error: DomainError | None = None
        try:
            if op == "login":
                # Inside the try: a refusal is a reply like any other (an
                # unknown official used to get an empty one).
                self._check_official(args[1])
            events = getattr(self.queue, op)(*args, now=now, **kwargs)
        except DomainError as e:
            error = e
            events = self.queue.take_pending()
        body = None if reply is None else reply(events if error is None else error)
        prints = [(e["ticket_id"], now) for e in events
                  if print_issued and error is None and e["kind"] == "ticket_issued"]
        if events or body is not None:
            try:
                self.store.commit_events(events, self.queue.state,
                                         [] if body is None else [(key, now, body)], prints)
            except BaseException:
                self.reload()
                raise
        return events, error, body

    def case_update(self, case_id: int, status: str, note: str | None, by: str | None, *,
                    key: str, reply: Callable[[dict | DomainError], dict]) -> tuple[list[dict], dict]:
        """A change the head made to a follow-up case: the ``case_updated``
        event (the case's row and its log line, kiosk/core/projection.py)
        and the command's reply in one transaction, or the refusal's reply
        alone.  ``reply`` gets the case as it is after the change, or the
        ``DomainError``.  Returns the committed events and the reply."""
        now = self.clock()
        case = self.store.case(case_id)
        try:
            event = {"kind": "case_updated", "at": now,
                     **cases.update(case, case_id, status, note, by, now)}
        except DomainError as e:
            body = reply(e)
            self.store.commit_events([], self.queue.state, [(key, now, body)])
            return [], body
        body = reply(cases.updated(case, event))
        self.store.commit_events([event], self.queue.state, [(key, now, body)])
        return [event], body

    def _check_official(self, code: str) -> None:
        row = self.store.official(code)
        if row is None or not row["active"]:
            raise DomainError("unknown_official", f"no active official {code!r} in the roster")

    def ticket(self, ticket_id: str):
        return self.queue.state.tickets.get(ticket_id)

    def summary(self) -> dict[str, Any]:
        return self.queue.summary(self.clock())
