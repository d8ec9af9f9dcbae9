"""Wrong PINs lock a door for a while: the one rule for the kiosk's admin pad
and the staff console's login.

N failures within the lockout period, per key, lock that key for the period.
The console counts both the official's code and the client's address, so one
client cannot guess many codes and many clients cannot guess one code; the
kiosk has one key, its admin pad.  Pure: time comes from a monotonic clock seam.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

log = logging.getLogger("phucvu.lockout")


class Lockout:
    def __init__(self, attempts: int, lockout_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.attempts = attempts
        self.lockout_s = lockout_s
        self.clock = clock
        self.failures: dict[str, list[float]] = {}
        self.locked_until: dict[str, float] = {}

    def locked(self, *keys: str) -> float:
        """Seconds left on the longest lockout among keys (0: free)."""
        now = self.clock()
        return max([self.locked_until.get(k, 0) - now for k in keys] + [0])

    def fail(self, *keys: str) -> float:
        """Count one failure against each key; seconds locked now (0: not yet)."""
        now = self.clock()
        for k in keys:
            recent = [t for t in self.failures.get(k, []) if now - t < self.lockout_s] + [now]
            self.failures[k] = recent
            if len(recent) >= self.attempts:
                self.locked_until[k] = now + self.lockout_s
                self.failures[k] = []
                log.warning("%s locked for %.0f s after %d wrong PINs", k,
                            self.lockout_s, self.attempts)
        return self.locked(*keys)

    def succeed(self, *keys: str) -> None:
        for k in keys:
            self.failures.pop(k, None)
