"""When something happened at a counter: the core's clock, and each box's clock mapped onto it.

A box's key or rating press carries the box's own monotonic milliseconds.
The core learns each box's (and each bridge's) clock offset from the
messages themselves, so a press that arrives late is still placed when it
was made.  The offsets live in ``QueueState.links`` and are taught by the
events that observed them (``learn``), so replaying the journal teaches them
again.
"""
from __future__ import annotations

from dataclasses import dataclass


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


def learn(links: dict[str, tuple[float, float]], e: dict) -> None:
    """Keep the clock offsets an event taught, with the core time it taught them."""
    for name, offset in (e.get("clocks") or {}).items():
        links[name] = (offset, e["mono"])
