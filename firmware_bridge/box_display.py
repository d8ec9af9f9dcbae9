"""What a box shows: the core's retained counter state as one whole STATE frame.

Whole, never a delta: a box that missed a frame, rebooted or was replugged
is right again with the next one (the bridge resends it every
``state_refresh_s``).
"""
from __future__ import annotations

from typing import Any

from firmware_bridge.protocol import messages as M

STATUS_CODES = {"open": M.STATUS_OPEN, "paused": M.STATUS_PAUSED, "closed": M.STATUS_CLOSED}


def display_state(state: dict[str, Any] | None, version: int, n_levels: int, now: float) -> M.State:
    """The whole STATE frame for a box from the retained counter state (None: not heard yet)."""
    if not state:
        return M.State(version, "", M.STATUS_UNKNOWN, 0, 0)
    current = state.get("current") or {}
    label = str(current.get("label") or "")[-4:]
    if not label.isascii():
        label = ""
    status = STATUS_CODES.get(state.get("status", ""), M.STATUS_UNKNOWN)
    leds, leds_ms = 0, 0
    window = state.get("rating_window")
    if isinstance(window, dict) and isinstance(window.get("until"), (int, float)):
        left = window["until"] - now
        if left > 0:
            leds, leds_ms = (1 << n_levels) - 1, min(int(left * 1000), 0xFFFF)
    return M.State(version, label, status, leds, leds_ms)
