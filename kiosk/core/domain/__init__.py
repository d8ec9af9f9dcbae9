"""The queue domain: state, decisions and events, with no I/O at all.

Every operation checks the current state, then emits one or more events and
applies them to the state.  An event carries every value that was decided
(the number, the call id, the time), so applying the journal of events to an
empty state rebuilds exactly the same state; the store relies on that.

The domain never reads a clock: ``now`` (wall time: days, hours, records) and
``mono`` (the core's monotonic clock: rating windows, box clocks) come from
the engine's clock seam.

One concept with one public surface: the engine, store, service, views, web,
CLI, reports and province import these names from ``kiosk.core.domain``;
the modules behind it are rooms for whoever changes one behaviour:

- ``state``: tickets, counters and the ordered lines tickets wait in;
- ``events``: what each event does to the state (the journal replays
  through it), and what of an event leaves the core;
- ``queue``: the operations (``Queue``), each checking then emitting;
- ``selection``: whom Next calls at a counter, the one rule;
- ``days``: the service day, opening hours, numbering;
- ``ratings``: rating windows and the judge of each press;
- ``cases``: the follow-up case a "not satisfied" rating opens: due time, changes;
- ``errors``: ``DomainError``, the refusal every rule raises;
- ``clocks``: press times, each box's clock mapped onto the core's;
- ``waits``: people ahead, the estimated wait, the queue summary;
- ``forecast``: each waiting ticket's call time and range, the queue played
  forward (issue 20; not yet what citizens are told);
- ``board``: each field's next numbers and the public board (công khai).
"""
from kiosk.core.domain.board import next_labels, public_board
from kiosk.core.domain.clocks import Stamp, elapsed, map_press
from kiosk.core.domain.events import LOCAL_KEYS, public_event
from kiosk.core.domain.queue import DomainError, Queue
from kiosk.core.domain.ratings import ANOMALIES
from kiosk.core.domain.state import (CALLABLE, CALLED, CLOSED, COUNTER_STATES, FINISHED, NO_SHOW,
                                     OPEN, PAUSED, SERVICE_WINDOW, TICKET_STATES, TRANSFERRED,
                                     WAITING, Counter, QueueState, Ticket)

__all__ = [
    "ANOMALIES", "CALLABLE", "CALLED", "CLOSED", "COUNTER_STATES", "FINISHED", "LOCAL_KEYS",
    "NO_SHOW", "OPEN", "PAUSED", "SERVICE_WINDOW", "TICKET_STATES", "TRANSFERRED", "WAITING",
    "Counter", "DomainError", "Queue", "QueueState", "Stamp", "Ticket", "elapsed", "map_press",
    "next_labels", "public_board", "public_event",
]
