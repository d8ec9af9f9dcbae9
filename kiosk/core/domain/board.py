"""What the wall display tells the hall beyond the calls: who is next in each
field, and the public board (công khai) of the day's service.

Pure: reads the state and the config, decides nothing, emits nothing.
"""
from __future__ import annotations

import bisect
from itertools import islice
from typing import Any, Iterator, Mapping

from kiosk.config import SiteConfig
from kiosk.core.domain.selection import interleaved
from kiosk.core.domain.state import QueueState, Ticket


def field_order(config: SiteConfig, state: QueueState, field_code: str) -> Iterator[Ticket]:
    """The field's waiting tickets in the order its counters call them.

    The selection rule (``selection.order``) for a counter that serves only
    this field and starts with no priority streak: priority tickets first,
    after ``[priority] interleave`` of them in a row one normal ticket.  A
    counter serving several fields, or a ticket transferred to one counter,
    can put another ticket in between; the display shows it as "next", not
    as a promise.
    """
    def chain(priority: bool) -> Iterator[Ticket]:
        for _, ticket_id in state.line(field_code, priority):
            yield state.tickets[ticket_id]

    yield from interleaved(chain(True), chain(False), 0, config.priority.interleave)


def next_labels(config: SiteConfig, state: QueueState, field_code: str, n: int = 3) -> list[str]:
    """The labels of the field's next ``n`` calls (fewer when fewer wait)."""
    return [t.label for t in islice(field_order(config, state, field_code), n)]


def public_board(config: SiteConfig, state: QueueState,
                 counted_levels: Mapping[str, int] | None) -> dict[str, Any]:
    """The day's public figures.

    - ``served``: tickets of the day finished at a counter;
    - ``satisfied_pct``: of the day's counted ratings, the share at a level
      with ``satisfied = true`` (``[[rating.levels]]``), in whole percent;
      None while there is none.  ``counted_levels`` maps a level's code to
      how many counted ratings it had today (the store has them; the state
      does not).  A code the site no longer has (the admin removed the
      level during the day) is rated and not satisfied, as in the reports;
    - ``on_time_pct``: of the day's tickets called at least once, the share
      first called within ``[display] wait_target_min`` minutes of being
      issued; None while nobody was called.
    """
    # The state keeps the day's tally in step with every event (``QueueState.tally``).
    served, called = state.served, len(state.first_waits)
    on_time = bisect.bisect_right(state.first_waits, config.display.wait_target_min * 60)
    happy = {lv.code: lv.satisfied for lv in config.rating.levels}
    rated = satisfied = 0
    for code, count in (counted_levels or {}).items():
        rated += count
        satisfied += count if happy.get(code, False) else 0
    return {"served": served, "rated": rated,
            "satisfied_pct": round(100 * satisfied / rated) if rated else None,
            "called": called,
            "on_time_pct": round(100 * on_time / called) if called else None,
            "wait_target_min": config.display.wait_target_min}
