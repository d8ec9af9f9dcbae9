"""The selection rule: whom Next calls at a counter, and after them whom.

``order`` is the only place that decides it.  ``Queue.call_next`` calls the
first ticket of it; the staff console's waiting list (``Queue.call_order``)
shows it, so the list starts with the citizen Next calls.
"""
from __future__ import annotations

from typing import Iterator

from kiosk.config import SiteConfig
from kiosk.core.domain.state import QueueState, Ticket


def lines_for(config: SiteConfig, state: QueueState, counter_no: int,
              priority: bool) -> list[list[tuple[int, str]]]:
    """The lines a counter takes from, best first: tickets transferred to
    it, then its fields in the counter's order."""
    return [state.line(counter_no, priority)] + \
        [state.line(f, priority) for f in config.counter(counter_no).fields]


def order(config: SiteConfig, state: QueueState, counter_no: int) -> Iterator[Ticket]:
    """The tickets Next at this counter calls, one call after another.

    Priority tickets first, but after ``[priority] interleave`` priority
    calls in a row the next call takes a normal ticket if one waits, so
    normal tickets are not starved; the streak starts from the counter's
    own.  Inside a priority class the ranked lines are taken in turn, FIFO
    by issue order (``seq``) inside a line.  Lazy, so the first ticket costs
    only the heads of the lines; later ones assume no other counter calls
    in between.
    """
    def chain(priority: bool) -> Iterator[Ticket]:
        for line in lines_for(config, state, counter_no, priority):
            for _, ticket_id in line:
                yield state.tickets[ticket_id]

    yield from interleaved(chain(True), chain(False), state.counters[counter_no].priority_streak,
                           config.priority.interleave)


def interleaved(prio: Iterator[Ticket], normal: Iterator[Ticket], streak: int,
                interleave: int) -> Iterator[Ticket]:
    """Priority tickets first, a normal one after ``interleave`` priority
    calls in a row (``streak`` of them made already) when one waits."""
    p, n = next(prio, None), next(normal, None)
    while p is not None or n is not None:
        if p is not None and (n is None or streak < interleave):
            yield p
            p, streak = next(prio, None), streak + 1
        else:
            yield n
            n, streak = next(normal, None), 0


def waiting_for(config: SiteConfig, state: QueueState, counter_no: int) -> int:
    """How many tickets this counter could call now."""
    return sum(len(line) for prio in (True, False)
               for line in lines_for(config, state, counter_no, prio))
