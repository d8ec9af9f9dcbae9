"""How a wait estimate is said to a citizen, in one place (docs/wait.md).

The core sends the forecast's expected wait and its p10-p90 range in
minutes (``estimated_wait_min``, ``wait_low_min``, ``wait_high_min``; all
None when no open counter serves the field).  The kiosk, the printed
ticket and the wall display say it with these functions; the phone page
and the staff console say it the same way in JavaScript (phone.js,
console.js; tests/test_waitwords.py holds the cases both must agree on).

It is an estimate and is worded as one: "khoảng" (about), rounded to whole
minutes below ten and to five above, never "0 phút".  The range is said
only when it is wide (``WIDE_MIN`` or more between its ends): a range of
three minutes says nothing a citizen can use, one of fifteen tells them
they may step out.  Its ends are rounded to five minutes.

Ground floor: the display imports it, so nothing but the standard library.
"""
from __future__ import annotations

import math

# The keys the core tells a wait by (queue/summary, display/snapshot, the
# ticket in its reply; queue/tickets says ``wait_min`` for the first).
WAIT_KEYS = ("estimated_wait_min", "wait_low_min", "wait_high_min")

# A range this wide (minutes, p90 - p10) or wider is said.
WIDE_MIN = 10.0

_WORDS = {
    "vi": {"about": "khoảng", "min": "phút", "hour": "giờ", "under1": "dưới\u00a01\u00a0phút",
           "upto": "có thể đến", "none": "chờ quầy mở lại"},
    "en": {"about": "about", "min": "min", "hour": "h", "under1": "under\u00a01\u00a0min",
           "upto": "up to", "none": "when a counter reopens"},
}
NBSP = "\u00a0"


def plain(text: str) -> str:
    """For a terminal: no-break spaces as spaces (they keep a screen's or a
    ticket's line from breaking a number from its unit; a terminal line is
    not wrapped, and a copied line should hold plain spaces)."""
    return text.replace(NBSP, " ")


def checked(wait: object, low: object, high: object, names: tuple[str, str, str] = WAIT_KEYS
            ) -> tuple[float | None, float | None, float | None, list[str]]:
    """The core's told wait and its p10-p90 range as floats, by the one rule
    the kiosk, the ticket, the wall and the phone page check them by.

    A figure is None (unsaid; a None wait means no open counter serves the
    field) or a finite number >= 0, not a bool or a string.  A figure that
    is neither comes back None and is named in the list of problems, for
    the caller to log: no wait said rather than a wrong one.  A range is
    kept only with its wait and both ends good, low <= high.  So a wait that
    comes back None was paused if ``wait`` was None, and malformed if not.
    """
    problems: list[str] = []

    def one(name: str, v: object) -> float | None:
        if v is None:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
            return float(v)
        problems.append(f"{name} = {v!r} is not minutes >= 0")
        return None
    minutes, lo, hi = one(names[0], wait), one(names[1], low), one(names[2], high)
    if lo is not None and hi is not None and lo > hi:
        problems.append(f"wait range {lo}-{hi} has its ends reversed")
    if minutes is None or lo is None or hi is None or lo > hi:
        lo = hi = None
    return minutes, lo, hi, problems


def first_time(seen: set, key: tuple, limit: int | None = 100) -> bool:
    """Whether ``key`` (where, problem) is new to ``seen``, which then keeps
    it: each reader logs a malformed wait once per place and value, not at
    every message.  ``limit`` bounds the keys kept (None: no bound)."""
    if key in seen or (limit is not None and len(seen) >= limit):
        return False
    seen.add(key)
    return True


def rounded(minutes: float) -> int:
    """Whole minutes below ten, fives above (an estimate, not a promise)."""
    if minutes < 10:
        return max(1, int(minutes + 0.5))
    return int(minutes / 5 + 0.5) * 5


def is_wide(low: float | None, high: float | None) -> bool:
    return low is not None and high is not None and high - low >= WIDE_MIN


def duration(minutes: int, lang: str = "vi") -> str:
    """``25 phút``, ``1 giờ 10 phút`` (no-break spaces: a duration is never
    split across lines)."""
    w = _WORDS[lang]
    if minutes < 60:
        return f"{minutes}{NBSP}{w['min']}"
    h, m = divmod(minutes, 60)
    return f"{h}{NBSP}{w['hour']}" + (f"{NBSP}{m}{NBSP}{w['min']}" if m else "")


def span(low: float, high: float, lang: str = "vi") -> str:
    """A range's ends rounded to five minutes: ``15–30 phút``, ``có thể
    đến 20 phút`` when it starts under two and a half."""
    w = _WORDS[lang]
    lo = int(low / 5 + 0.5) * 5
    hi = max(lo + 5, int(high / 5 + 0.5) * 5)
    if lo <= 0:
        return f"{w['upto']} {duration(hi, lang)}"
    if hi < 60:
        return f"{lo}–{hi}{NBSP}{w['min']}"
    return f"{duration(lo, lang)} – {duration(hi, lang)}"


def phrase(minutes: float | None, low: float | None = None, high: float | None = None,
           lang: str = "vi") -> str:
    """The full sentence's object: ``khoảng 20 phút (15–30 phút)``,
    ``khoảng 6 phút``, ``dưới 1 phút``, ``chờ quầy mở lại``."""
    w = _WORDS[lang]
    if minutes is None:
        return w["none"]
    if minutes < 1 and not is_wide(low, high):
        return w["under1"]
    text = f"{w['about']} {duration(rounded(minutes), lang)}"
    if is_wide(low, high):
        text += f" ({span(low, high, lang)})"
    return text


def short(minutes: float | None, low: float | None = None, high: float | None = None,
          lang: str = "vi") -> str:
    """Short enough to sit beside a field's name on a tile or the wall:
    ``≈ 20 phút``, or the range alone when wide (``15–30 phút``)."""
    w = _WORDS[lang]
    if minutes is None:
        return w["none"]
    if is_wide(low, high):
        return span(low, high, lang)
    if minutes < 1:
        return f"<{NBSP}1{NBSP}{w['min']}"
    return f"≈{NBSP}{duration(rounded(minutes), lang)}"
