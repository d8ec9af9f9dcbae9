"""What one phone may ask of the page's server, and the count of what was refused.

Pure bookkeeping with the clock passed in (no I/O), so the tests drive it
and the server answers a flood from memory: a token bucket of
``requests_per_min`` per client address, a cap of ``streams_per_client``
open live streams per address, and the counters ``phone/stats`` publishes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

REFUSALS = ("bad_token", "rate_limited", "streams", "bad_request", "core_refused")
# Addresses not seen for this long are forgotten (their bucket is full again
# by then anyway), so a day of passing phones does not grow the tables.
FORGET_AFTER_S = 600.0


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Stats:
    """The figures of ``phone/stats`` (docs/mqtt.md)."""

    since: float
    pages: int = 0
    ratings_sent: int = 0
    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REFUSALS, 0))

    def refuse(self, why: str) -> None:
        self.refused[why] += 1

    def body(self, clients: int, now: float) -> dict:
        return {"since": self.since, "pages": self.pages, "ratings_sent": self.ratings_sent,
                "refused": dict(self.refused), "clients": clients, "updated_at": now}


class Limits:
    """Per-address request budget and stream cap."""

    def __init__(self, requests_per_min: int, streams_per_client: int):
        self.capacity = float(requests_per_min)
        # A full bucket lets a page load at once (page, state, stream); it
        # refills at requests_per_min spread over the minute.
        self.refill_per_s = requests_per_min / 60.0
        self.streams_per_client = streams_per_client
        self._buckets: dict[str, _Bucket] = {}
        self._streams: dict[str, int] = {}
        self._swept = 0.0

    def allow(self, client: str, now: float) -> bool:
        """Take one request from ``client``'s bucket; False when it is empty."""
        self._sweep(now)
        b = self._buckets.get(client)
        if b is None:
            b = self._buckets[client] = _Bucket(self.capacity, now)
        else:
            b.tokens = min(self.capacity, b.tokens + (now - b.at) * self.refill_per_s)
            b.at = now
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True

    def open_stream(self, client: str) -> bool:
        """Count one more open stream of ``client``; False (nothing counted) past the cap."""
        n = self._streams.get(client, 0)
        if n >= self.streams_per_client:
            return False
        self._streams[client] = n + 1
        return True

    def close_stream(self, client: str) -> None:
        n = self._streams.get(client, 0) - 1
        if n > 0:
            self._streams[client] = n
        else:
            self._streams.pop(client, None)

    def clients(self) -> int:
        """Addresses seen in the last FORGET_AFTER_S, or holding a stream now."""
        return len(set(self._buckets) | set(self._streams))

    def _sweep(self, now: float) -> None:
        if now - self._swept < 60:
            return
        self._swept = now
        for client in [c for c, b in self._buckets.items() if now - b.at > FORGET_AFTER_S]:
            del self._buckets[client]
