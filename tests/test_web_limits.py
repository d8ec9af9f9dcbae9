"""The PIN lockout on its own, driven through its clock seam."""
from __future__ import annotations

from kiosk.lockout import Lockout


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_lockout_after_n_failures_per_code_or_client():
    clock = Clock()
    lim = Lockout(attempts=3, lockout_s=60, clock=clock)
    for _ in range(2):
        lim.fail("code:nv01", "client:a")
    assert lim.locked("code:nv01", "client:b") == 0
    lim.fail("code:nv01", "client:a")
    # The code is locked from any client, and client a for any code.
    assert lim.locked("code:nv01", "client:b") == 60
    assert lim.locked("code:ld01", "client:a") == 60
    assert lim.locked("code:ld01", "client:b") == 0
    clock.t += 59
    assert 0 < lim.locked("code:nv01", "client:b") <= 1
    clock.t += 2
    assert lim.locked("code:nv01", "client:a") == 0


def test_old_failures_expire_and_success_clears():
    clock = Clock()
    lim = Lockout(attempts=3, lockout_s=60, clock=clock)
    lim.fail("code:x")
    lim.fail("code:x")
    clock.t += 61
    lim.fail("code:x")
    assert lim.locked("code:x") == 0
    lim.fail("code:x")
    lim.succeed("code:x")
    lim.fail("code:x")
    assert lim.locked("code:x") == 0
