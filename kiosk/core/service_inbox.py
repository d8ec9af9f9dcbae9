"""The typed items of the core service's inbox (kiosk/core/service.py), besides
the printer thread's ``Printed`` and ``PrinterReport`` (kiosk/core/printq.py).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Inbound:
    """A message from the broker, with what acknowledging it takes.

    ``connection`` numbers the connection that brought it: a message is
    acknowledged on that connection only, never on a later one where its
    packet id may name another message (the broker redelivers it instead).
    """
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


@dataclass(frozen=True)
class Connected:
    """The broker took the core (again): subscriptions are made, retained state is due."""


@dataclass(frozen=True)
class Stop:
    """``stop()``: the service loop returns."""


@dataclass(frozen=True)
class Reread:
    """SIGHUP: the site file read again and applied through the same checks."""
