"""Clocks on the bridge: its own (as the core learns it) and each box's, mapped onto it.

A press is judged on when it was made (docs/reports.md, "Judged on the
press"), so every event the bridge publishes says when the box made it on
the box's clock, when this bridge read it and when it sent it, both on this
process's monotonic clock.
"""
from __future__ import annotations

import os
import time

# This bridge process's clock, as the core learns it: a random id per start
# (monotonic time starts again with each boot of the machine) with the
# login.  Every event carries when this process first read it from the box
# and when it published it.
RELAY_BOOT = int.from_bytes(os.urandom(4), "big")


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)


class BoxClocks:
    """Each box boot's clock on this bridge's monotonic clock.

    Every frame that says the box's time (a HEARTBEAT, an EVENT) is one
    observation of (bridge time - box time), too large by the frame's delay,
    never too small: the smallest is kept (NTP's minimum filter), allowed to
    grow by DRIFT_PPM for a box whose crystal runs slow.
    """

    DRIFT_PPM = 200
    MAX_BOOTS = 64

    def __init__(self) -> None:
        self._offsets: dict[tuple[str, int], tuple[int, int]] = {}   # -> (offset ms, learnt at)

    def learn(self, boot: tuple[str, int], box_ms: int, now_ms: int) -> int:
        """Learn from one frame read now; returns the box time ``box_ms`` on the bridge's clock."""
        observed = now_ms - box_ms
        prev = self._offsets.get(boot)
        if prev is not None:
            grown = prev[0] + (now_ms - prev[1]) * self.DRIFT_PPM // 1_000_000
            observed = min(observed, grown)
        self._offsets.pop(boot, None)
        self._offsets[boot] = (observed, now_ms)
        while len(self._offsets) > self.MAX_BOOTS:
            del self._offsets[next(iter(self._offsets))]
        return max(0, min(now_ms, box_ms + observed))
