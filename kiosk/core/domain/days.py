"""The service day: which day it is, when a field takes tickets, how tickets are numbered.

``now`` is wall-clock epoch seconds from the caller's clock seam.  The
service day is the date of ``now`` in the site's time zone, but the day never
goes backwards: a clock that jumps back after a power cut cannot reopen a
closed day or restart its numbering.  Numbers restart at 1 per field each
day (``Queue.issue`` rolls the day over first).
"""
from __future__ import annotations

import datetime as dt

from kiosk.config import WEEKDAYS, SiteConfig


def service_day(config: SiteConfig, current: str | None, now: float) -> str:
    """The day ``now`` belongs to, given the ``current`` service day."""
    today = config.local_time(now).date().isoformat()
    # Never go back to an earlier day (stale clock after a power cut).
    if current is not None and today < current:
        return current
    return today


def rollover(current: str | None, closed: bool, day: str) -> list[tuple[str, dict]]:
    """The events (kind, data) that move the state from ``current`` to service day ``day``.

    A day left open is closed first, which expires its leftover tickets.
    """
    if current == day:
        return []
    events = [] if current is None or closed else [("day_closed", {"day": current})]
    return events + [("day_started", {"day": day})]


def is_open(config: SiteConfig, field_code: str, now: float) -> bool:
    local = config.local_time(now)
    wd = WEEKDAYS[local.weekday()]
    minute = local.hour * 60 + local.minute
    return any(wd in s.days and s.open_minute() <= minute < s.close_minute()
               for s in config.field_hours(field_code))


def next_opening(config: SiteConfig, field_code: str, now: float) -> float | None:
    """Epoch of the next session start after ``now`` (within 8 days)."""
    local = config.local_time(now)
    best: dt.datetime | None = None
    for add in range(0, 8):
        d = (local + dt.timedelta(days=add)).date()
        wd = WEEKDAYS[d.weekday()]
        for s in config.field_hours(field_code):
            if wd not in s.days:
                continue
            start = dt.datetime.combine(d, dt.time(0), tzinfo=config.tz) + \
                dt.timedelta(minutes=s.open_minute())
            if start > local and (best is None or start < best):
                best = start
        if best is not None:
            break
    return best.timestamp() if best else None


def next_day_opening(config: SiteConfig, field_code: str, now: float) -> float | None:
    """The first session of a later day: when a field that reached its quota takes tickets again."""
    local = config.local_time(now)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0),
                                   tzinfo=config.tz)
    return next_opening(config, field_code, midnight.timestamp() - 1)


def label_for(prefix: str, number: int) -> str:
    """What the ticket and the display show: the field's prefix and three digits."""
    return f"{prefix}{number:03d}"


def ticket_id(day: str, label: str) -> str:
    """Unique across days, so tickets of many days can share one table."""
    return f"{day.replace('-', '')}-{label}"
