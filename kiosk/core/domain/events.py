"""What each event does to the state, and what of an event leaves the core.

Every operation emits events and applies them through ``apply``; an event
carries every value that was decided (the number, the call id, the time), so
applying the journal of events to an empty state rebuilds exactly the same
state.  The store relies on that, so ``apply`` decides nothing: it reads the
event and nothing else.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

from kiosk.core.domain import clocks, ratings
from kiosk.core.domain.state import (CALLABLE, CALLED, CLOSED, FINISHED, NO_SHOW, OPEN, PAUSED,
                                     SERVICE_WINDOW, TRANSFERRED, WAITING, QueueState, Ticket)

# Event keys on the core's own monotonic clock (press times, clock offsets):
# journaled, so a restart rebuilds the same state, but meaningless to anyone
# else, so never published or sent up to the province.
LOCAL_KEYS = frozenset({"mono", "pressed", "opened", "clocks"})
# A phone rating's free-text comment (a citizen may write anything, a name
# too) and the hash of the phone's address stay in the centre's database:
# the bus carries events to every reader and up to the province.
PRIVATE_KEYS = frozenset({"comment", "client"})


def public_event(e: dict) -> dict:
    """An event as the bus carries it: without the core's local clock
    readings and without what a citizen typed or where from."""
    return {k: v for k, v in e.items() if k not in LOCAL_KEYS and k not in PRIVATE_KEYS}


def apply(s: QueueState, e: dict, window_s: float) -> None:
    """Apply one event.  Deterministic: the journal replays through here.

    ``window_s`` is the site's rating window, which only journals written
    before windows were stored with their opening need.
    """
    handler = _HANDLERS.get(e["kind"])
    if handler is None:
        raise ValueError(f"unknown event kind {e['kind']!r}")
    handler(s, e, window_s)


def _day_started(s: QueueState, e: dict, window_s: float) -> None:
    s.day, s.day_closed = e["day"], False
    s.tickets.clear()
    s.last_number.clear()
    s.lines.clear()
    s.by_label.clear()
    s.served = 0
    s.first_waits.clear()
    for c in s.counters.values():
        c.status, c.current, c.priority_streak = OPEN, None, 0


def still_open(s: QueueState) -> list[str]:
    """The tickets a close of the day now would expire, in issue order: what
    ``day_closed`` lists in ``expired`` (the province counts them, with their
    wait until the close, against the wait target, as the pack does)."""
    return [t.id for t in sorted(s.tickets.values(), key=lambda t: t.seq)
            if t.state in (WAITING, CALLED, TRANSFERRED)]


def _day_closed(s: QueueState, e: dict, window_s: float) -> None:
    s.day_closed = True
    # Journals written before the event listed its tickets: every one still
    # open, which is what the list would have said.
    expired = e["expired"] if "expired" in e else still_open(s)
    for ticket_id in expired:
        t = s.tickets[ticket_id]
        s.tally(t, -1)
        t.state, t.close_reason = NO_SHOW, "day_closed"
        s.tally(t, +1)
    s.lines.clear()
    for c in s.counters.values():
        c.status, c.current = CLOSED, None
        ratings.close_window(c)


def _ticket_issued(s: QueueState, e: dict, window_s: float) -> None:
    t = Ticket(id=e["ticket_id"], day=e["day"], field=e["field"], origin_field=e["field"],
               number=e["number"], label=e["label"], priority=e["priority"],
               seq=e["seq"], issued_at=e["at"], est_wait_s=e.get("est_wait_s"),
               est_low_s=e.get("est_low_s"), est_high_s=e.get("est_high_s"))
    s.tickets[t.id] = t
    s.by_label[t.label] = t.id
    s.enqueue(t)
    s.tally(t, +1)
    s.last_number[t.field] = t.number
    s.issue_seq = t.seq


def _ticket_called(s: QueueState, e: dict, window_s: float) -> None:
    t = s.tickets[e["ticket_id"]]
    c = s.counters[e["counter"]]
    s.call_seq = e["call_seq"]
    clocks.learn(s.links, e)
    if t.state in CALLABLE:
        s.dequeue(t)
    s.tally(t, -1)
    t.state, t.counter, t.called_at = CALLED, c.number, e["at"]
    if t.first_called_at is None:
        t.first_called_at = e["at"]
    s.tally(t, +1)
    t.official = c.official
    t.finished_at, t.close_reason = None, None
    t.target_counter = None
    c.current = t.id
    # The streak the priority interleave counts: Next's own calls only; a
    # normal ticket called by number ends it too.
    if not e["specific"]:
        c.priority_streak = c.priority_streak + 1 if t.priority else 0
    elif not t.priority:
        c.priority_streak = 0


def _ticket_recalled(s: QueueState, e: dict, window_s: float) -> None:
    s.tickets[e["ticket_id"]].recalls += 1
    s.call_seq = e["call_seq"]
    clocks.learn(s.links, e)


def _ticket_finished(s: QueueState, e: dict, window_s: float) -> None:
    t = s.tickets[e["ticket_id"]]
    c = s.counters[e["counter"]]
    c.current = None
    s.tally(t, -1)
    t.state, t.finished_at = FINISHED, e["at"]
    s.tally(t, +1)
    ratings.open_window(c, t.id, e, window_s)
    clocks.learn(s.links, e)
    if t.called_at is not None:
        window = s.service_times.setdefault(t.field, deque(maxlen=SERVICE_WINDOW))
        window.append(max(0.0, e["at"] - t.called_at))


def _ticket_no_show(s: QueueState, e: dict, window_s: float) -> None:
    t = s.tickets[e["ticket_id"]]
    s.counters[e["counter"]].current = None
    s.tally(t, -1)
    t.state, t.finished_at = NO_SHOW, e["at"]
    s.tally(t, +1)


def _ticket_transferred(s: QueueState, e: dict, window_s: float) -> None:
    t = s.tickets[e["ticket_id"]]
    s.counters[e["counter"]].current = None
    s.tally(t, -1)
    t.state = TRANSFERRED
    s.tally(t, +1)
    t.transfers += 1
    if e["to_field"] is not None:
        t.field = e["to_field"]
    t.target_counter = e["to_counter"]
    s.enqueue(t)


def _official_login(s: QueueState, e: dict, window_s: float) -> None:
    s.counters[e["counter"]].official = e["official"]


def _official_logout(s: QueueState, e: dict, window_s: float) -> None:
    s.counters[e["counter"]].official = None


def _rating_pressed(s: QueueState, e: dict, window_s: float) -> None:
    if e.get("source") == ratings.PHONE:
        # No button was pressed at the counter: its last press and the box
        # clocks stay as they were; a counted one only ends the box's window.
        ratings.record_phone(s, e)
    else:
        ratings.record_press(s.counters[e["counter"]], e)
        clocks.learn(s.links, e)
    t = s.tickets.get(e["ticket_id"]) if e["counted"] else None
    if t is not None:
        t.rated = ratings.PHONE if e.get("source") == ratings.PHONE else ratings.BOX


def _case_updated(s: QueueState, e: dict, window_s: float) -> None:
    """A follow-up case lives in the database only (domain/cases.py): the
    queue state has nothing to change."""


def _counter_paused(s: QueueState, e: dict, window_s: float) -> None:
    s.counters[e["counter"]].status = PAUSED


def _counter_resumed(s: QueueState, e: dict, window_s: float) -> None:
    s.counters[e["counter"]].status = OPEN


# Every event kind there is, and what it does.
_HANDLERS: dict[str, Callable[[QueueState, dict, float], None]] = {
    "day_started": _day_started,
    "day_closed": _day_closed,
    "ticket_issued": _ticket_issued,
    "ticket_called": _ticket_called,
    "ticket_recalled": _ticket_recalled,
    "ticket_finished": _ticket_finished,
    "ticket_no_show": _ticket_no_show,
    "ticket_transferred": _ticket_transferred,
    "counter_paused": _counter_paused,
    "counter_resumed": _counter_resumed,
    "official_login": _official_login,
    "official_logout": _official_logout,
    "rating_pressed": _rating_pressed,
    "case_updated": _case_updated,
}
