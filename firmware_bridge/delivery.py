"""A box's events to the core, each acknowledged to the box only once the core has it.

Delivery is acknowledged end to end (docs/serial-protocol.md, "An event's
life"): the box sends EVENT(boot, seq) -> the bridge publishes a command or
rating with a deterministic id, QoS 1 -> the core commits it and confirms on
``counter/<n>/reply`` -> only then does the bridge record (device, boot, seq)
in its ledger and ACK the box.  The broker's PUBACK acks nothing to the box:
Mosquitto keeps what it accepted only in memory until its next autosave, so
a broker killed with the core away would lose a press acked on PUBACK.  A
crash or loss anywhere in the chain ends in a retransmit by the box and a
republish under the same id, which the core recognises.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from firmware_bridge.ledger import Ledger
from firmware_bridge.payloads import Payloads, stamp_departure
from firmware_bridge.protocol import messages as M

log = logging.getLogger("phucvu.bridge")

# Events published and not yet confirmed, per box.  One box has at most its
# ring (32) unacknowledged, whatever boots they come from; the rest of the
# room is for a box swapped on the port.  When full the oldest is forgotten
# here, which costs nothing: the box retransmits it, it is published again
# under the same id and the core answers again.
MAX_UNCONFIRMED = 128


def event_id(device: str, boot: int, seq: int) -> str:
    """The command_id / rating_id of one press: the same on every redelivery."""
    return f"{device}:{boot:08x}:{seq}"


@dataclass
class Unconfirmed:
    """One published event the core has not confirmed yet."""
    key: tuple[str, int, int]       # (device, boot, seq)
    kind: str                       # "key" (a counter command) or "rating"
    topic: str
    body: dict[str, Any]            # republished under the same id (a fresh relay_tx_ms)
    published_at: float             # monotonic, of the last (re)publish


class Outstanding:
    """Event id -> Unconfirmed, bounded; the oldest publish goes first when full."""

    def __init__(self, cap: int = MAX_UNCONFIRMED):
        self.cap = cap
        self._items: dict[str, Unconfirmed] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, eid: object) -> bool:
        return eid in self._items

    def get(self, eid: str) -> Unconfirmed | None:
        return self._items.get(eid)

    def put(self, eid: str, item: Unconfirmed) -> list[str]:
        """Add or refresh (moves it to the newest end); returns the ids forgotten to make room."""
        self._items.pop(eid, None)
        self._items[eid] = item
        dropped = []
        while len(self._items) > self.cap:
            old = next(iter(self._items))
            del self._items[old]
            dropped.append(old)
        return dropped

    def pop(self, eid: str) -> Unconfirmed | None:
        return self._items.pop(eid, None)

    def has_device(self, device: str) -> bool:
        """Whether an event of that box is still waiting for the core."""
        return any(item.key[0] == device for item in self._items.values())


class Publisher(Protocol):
    """What delivery needs of the MQTT side (bus.CounterBus)."""
    up: bool

    def publish(self, eid: str, topic: str, body: dict[str, Any]) -> None: ...


class Delivery:
    """One counter's events between its box and the core.

    ``to_box(device, msg)`` sends a message to that box if it is the one on
    the port now, and says whether it is: ACK and BEEP go to it only.
    """

    def __init__(self, counter: int, ledger: Ledger, payloads: Payloads, bus: Publisher,
                 republish_s: float, to_box: Callable[[str, Any], bool]):
        self.counter = counter
        self.ledger = ledger
        self.payloads = payloads
        self.bus = bus
        self.republish_s = republish_s
        self.to_box = to_box
        self.unconfirmed = Outstanding()
        # Per box, events read but not yet published, in the order made.
        self.held: dict[str, dict[str, Unconfirmed]] = {}
        self.stats = {"published": 0, "republished": 0, "confirmed": 0, "acked": 0, "acked_from_ledger": 0,
                      "core_refused": 0, "bad_payload": 0, "held": 0}

    # ------------------------------------------------------------ from the box
    def event(self, device: str, ev: M.Event, paused: bool) -> None:
        """An EVENT read from the box ``device`` (its counter ``paused`` or not)."""
        key = (device, ev.boot, ev.seq)
        if self.ledger.seen(*key):
            # The core confirmed it before; the box missed our ACK.
            self.stats["acked_from_ledger"] += 1
            self.to_box(device, M.Ack(ev.boot, ev.seq))
            return
        eid = event_id(device, ev.boot, ev.seq)
        now = time.monotonic()
        waiting = self.unconfirmed.get(eid)
        if waiting is not None:
            if not (self.bus.up and now - waiting.published_at >= self.republish_s):
                return  # published; the core's confirmation is on its way
            # Waited too long: the broker may have lost it (killed before its
            # autosave), the core may have been away, or its confirmation
            # went to a bridge that was not connected.  Same id, same press.
            self._publish(eid, waiting.topic, waiting.body)
            waiting.published_at = now
            self.unconfirmed.put(eid, waiting)
            self.stats["republished"] += 1
            return
        held = self.held.setdefault(device, {})
        if eid in held:
            return  # waiting its turn (below); the box sent it again meanwhile
        kind = "key" if ev.source == M.SRC_KEY else "rating"
        topic, body = self.payloads.build(ev, device, eid, paused)
        item = Unconfirmed(key, kind, topic, body, now)
        if self.unconfirmed.has_device(device) or held:
            # One box's events reach the core in the order they were made:
            # a later press must not overtake an earlier one the broker lost
            # (the first press made in a window is the rating, and a Finish
            # must open the window before the citizen's press is judged).
            # Held here, published as soon as the ones before are confirmed.
            if len(held) < MAX_UNCONFIRMED:
                held[eid] = item
                self.stats["held"] += 1
            return
        self._publish_new(eid, item)

    def _publish_new(self, eid: str, item: Unconfirmed) -> None:
        self._publish(eid, item.topic, item.body)
        item.published_at = time.monotonic()
        for old in self.unconfirmed.put(eid, item):
            log.warning("counter %d: more than %d events unconfirmed; %s forgotten here "
                        "(the box still has it and will send it again)", self.counter,
                        self.unconfirmed.cap, old)
        self.stats["published"] += 1

    def _release(self, device: str) -> None:
        """The event before is confirmed: the next one of that box may go."""
        held = self.held.get(device)
        if held and not self.unconfirmed.has_device(device):
            eid = next(iter(held))
            self._publish_new(eid, held.pop(eid))

    def _publish(self, eid: str, topic: str, body: dict[str, Any]) -> None:
        stamp_departure(body)
        self.bus.publish(eid, topic, body)

    # ------------------------------------------------------------ from the core
    def confirmation(self, body: dict[str, Any]) -> None:
        """The core's answer to a command or rating: the event is committed (or can never be)."""
        if "rating_id" in body:
            eid, kind = body["rating_id"], "rating"
        else:
            eid, kind = body.get("command_id"), "key"
        if not isinstance(eid, str):
            return
        waiting = self.unconfirmed.get(eid)
        if waiting is None or waiting.kind != kind:
            return  # someone else's command (console, CLI), or settled already
        ok = body.get("ok")
        if not isinstance(ok, bool):
            log.warning("counter %d: reply to %s without ok; not taken as a confirmation", self.counter, eid)
            return
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        if not ok and error.get("code") == "bad_payload":
            # It will never succeed, however often it is sent: settle it, loudly.
            self.stats["bad_payload"] += 1
            log.error("counter %d: the core rejected event %s as malformed (%s); acknowledged to the "
                      "box and dropped", self.counter, eid, error.get("message", error))
        elif not ok:
            # A refusal (nobody waits, no current ticket) is a committed outcome.
            self.stats["core_refused"] += 1
            log.info("counter %d: core refused %s: %s", self.counter, eid, error.get("message", error))
        self._settle(eid, waiting)
        if not ok and kind == "key":
            self.to_box(waiting.key[0], M.Beep(M.BEEP_ERROR))

    def _settle(self, eid: str, waiting: Unconfirmed) -> None:
        """The core has the event: remember that, then let the box forget it."""
        self.unconfirmed.pop(eid)
        self.stats["confirmed"] += 1
        try:
            self.ledger.record(*waiting.key, eid)
        except sqlite3.Error as e:
            # The ledger only spares a republish; the core dedupes by id anyway.
            log.error("counter %d: ledger write for %s failed (%s); acking the box regardless",
                      self.counter, eid, e)
        device, boot, seq = waiting.key
        if self.to_box(device, M.Ack(boot, seq)):
            self.stats["acked"] += 1
        self._release(device)
