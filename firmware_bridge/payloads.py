"""A box's EVENT as the core reads it: a counter command (a key) or a rating press.

The box's clock travels with every press: the core judges a press on when
it was made (boot + device_time_ms, mapped; docs/reports.md, "Judged on the
press"), not on when it arrived.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel, ValidationError

from kiosk import contract

from firmware_bridge.clocks import RELAY_BOOT, BoxClocks, monotonic_ms
from firmware_bridge.protocol import messages as M

log = logging.getLogger("phucvu.bridge")


def stamp_departure(body: dict[str, Any]) -> None:
    """Say when this copy leaves: the core learns this bridge's clock from the
    copies that were not held up on the way."""
    if "relay_tx_ms" in body:
        body["relay_tx_ms"] = max(monotonic_ms(), body["relay_rx_ms"])


class Payloads:
    """Topic and body of each event of one counter's box."""

    def __init__(self, topics: contract.Topics, counter: int, user: str, n_levels: int, clocks: BoxClocks):
        self.topics = topics
        self.counter = counter
        self.user = user
        self.n_levels = n_levels
        self.clocks = clocks
        self.relay = f"{user}:{RELAY_BOOT:08x}"
        self.bugs = 0

    def build(self, ev: M.Event, device: str, eid: str, paused: bool) -> tuple[str, dict[str, Any]]:
        """Topic and body of one event.  Never raises: a bug here must not leave
        the event un-ackable (a box whose ring fills refuses every press)."""
        model: type[BaseModel]
        try:
            topic, body, model = self._body(ev, device, eid, paused)
        except Exception:
            self.bugs += 1
            log.exception("counter %d: bug building the payload of event %s (source %d, code %d); "
                          "sending its bare fields for the core to store or refuse as bad_payload",
                          self.counter, eid, ev.source, ev.code)
            topic, body, model = self._bare_body(ev, device, eid)
        try:
            model.model_validate(body)
        except ValidationError as e:
            # The core judges the contract; it answers bad_payload, which settles the event.
            log.error("counter %d: event %s does not fit the contract (%s); sent anyway",
                      self.counter, eid, str(e).replace("\n", "; "))
        return topic, body

    def _pressed(self, ev: M.Event, device: str) -> dict[str, Any]:
        # relay_rx_ms: when it was pressed, on this bridge's clock, as well as
        # the bridge can tell: when it read it, or earlier by the box's own
        # clock (its HEARTBEATs say what time it is on the box), for an event
        # the box held while the bridge was away.
        now = monotonic_ms()
        pressed = self.clocks.learn((device, ev.boot), ev.time_ms, now)
        return {"device": device, "boot": int(ev.boot), "device_time_ms": int(ev.time_ms),
                "relay": self.relay, "relay_rx_ms": pressed, "relay_tx_ms": now}

    def _body(self, ev: M.Event, device: str, eid: str,
              paused: bool) -> tuple[str, dict[str, Any], type[BaseModel]]:
        if ev.source == M.SRC_KEY:
            action = M.KEY_NAMES[ev.code]
            if action == "pause" and paused:
                action = "resume"
            body = {"command_id": eid, "action": action, "source": device, **self._pressed(ev, device)}
            return self.topics.counter_command(self.counter), body, contract.CounterCommand
        if not 1 <= ev.code <= self.n_levels:
            log.warning("counter %d: box %s sent button %d but the site has levels 1..%d; sent as is, "
                        "the core keeps it as anomaly bad_level (not counted)",
                        self.counter, device, ev.code, self.n_levels)
        body = {"rating_id": eid, "level": int(ev.code), **self._pressed(ev, device),
                "received_at": round(time.time(), 3), "source": f"bridge:{self.user}"}
        return self.topics.counter_rating(self.counter), body, contract.RatingPress

    def _bare_body(self, ev: M.Event, device: str, eid: str) -> tuple[str, dict[str, Any], type[BaseModel]]:
        pressed = {"device": device, "boot": int(ev.boot), "device_time_ms": int(ev.time_ms)}
        if ev.source == M.SRC_KEY:
            body = {"command_id": eid, "action": M.KEY_NAMES.get(ev.code, f"key-{ev.code}"),
                    "source": device, **pressed}
            return self.topics.counter_command(self.counter), body, contract.CounterCommand
        body = {"rating_id": eid, "level": int(ev.code), **pressed, "source": f"bridge:{self.user}"}
        return self.topics.counter_rating(self.counter), body, contract.RatingPress
