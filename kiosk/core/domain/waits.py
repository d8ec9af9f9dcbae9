"""What citizens are told: people ahead, the estimated wait, and the queue summary.

The wait is the forecast's (``forecast.forecast``: the queue played
forward): its expected call time and p10-p90 range, in minutes from now,
or None when no open counter serves the field.  ``estimate_wait_s`` is
the estimate before it (people ahead × the field's average ÷ its open
counters), kept as the baseline bench/wait.py measures the forecast
against.
"""
from __future__ import annotations

import bisect
from typing import Any

from kiosk.config import SiteConfig
from kiosk.core.domain import days
from kiosk.core.domain.forecast import Forecast, probe_id
from kiosk.core.domain.state import OPEN, QueueState, Ticket


def average_service_s(config: SiteConfig, state: QueueState, field_code: str) -> float:
    window = state.service_times.get(field_code)
    if window:
        return sum(window) / len(window)
    return config.field(field_code).minutes_per_citizen * 60


def serving_counters(config: SiteConfig, state: QueueState, field_code: str) -> list[int]:
    return [c.number for c in config.counters
            if field_code in c.fields and state.counters[c.number].status == OPEN]


def ahead_of(state: QueueState, ticket: Ticket) -> int:
    """People who will be called before ``ticket`` in its line."""
    key, is_prio = state.line_of(ticket)
    prio_ahead = bisect.bisect_left(state.line(key, True), (ticket.seq, ticket.id))
    if is_prio:
        return prio_ahead
    return len(state.line(key, True)) + bisect.bisect_left(state.line(key, False),
                                                           (ticket.seq, ticket.id))


def ahead_all(state: QueueState) -> dict[str, int]:
    """``ahead_of`` of every waiting ticket, in one pass over the lines (a
    phone page's view of the whole day; a bisection per ticket is not needed
    when each line is walked in order anyway)."""
    out: dict[str, int] = {}
    for (key, is_prio), line in state.lines.items():
        before = 0 if is_prio else len(state.line(key, True))
        for i, (_, ticket_id) in enumerate(line):
            out[ticket_id] = before + i
    return out


def estimate_wait_s(config: SiteConfig, state: QueueState, field_code: str, ahead: int,
                    serving: list[int] | None = None, average_s: float | None = None) -> float:
    """``serving`` (the field's open counters) and ``average_s`` (its
    average service), when the caller has them already: a day's list of
    tickets asks for each field's once, not once per ticket."""
    if serving is None:
        serving = serving_counters(config, state, field_code)
    if average_s is None:
        average_s = average_service_s(config, state, field_code)
    return ahead * average_s / max(1, len(serving))


def told(fc: Forecast | None, now: float) -> dict[str, float | None]:
    """A ticket's wait as journaled at its issue: seconds after ``now``
    (never below 0: a play made a moment before may have a counter free
    "now" that was free then)."""
    if fc is None:
        return {"est_wait_s": None, "est_low_s": None, "est_high_s": None}
    return {"est_wait_s": round(max(0.0, fc.call_at - now), 1),
            "est_low_s": round(max(0.0, fc.low - now), 1),
            "est_high_s": round(max(0.0, fc.high - now), 1)}


def minutes(wait_s: float | None, low_s: float | None, high_s: float | None) -> dict[str, float | None]:
    """The payloads' three keys (docs/mqtt.md, docs/wait.md): the expected
    wait and its p10-p90 range, minutes to one decimal, all None or none."""
    if wait_s is None or low_s is None or high_s is None:
        return {"estimated_wait_min": None, "wait_low_min": None, "wait_high_min": None}
    return {"estimated_wait_min": round(max(0.0, wait_s) / 60, 1),
            "wait_low_min": round(max(0.0, low_s) / 60, 1),
            "wait_high_min": round(max(0.0, high_s) / 60, 1)}


def minutes_from(fc: Forecast | None, now: float) -> dict[str, float | None]:
    if fc is None:
        return minutes(None, None, None)
    return minutes(fc.call_at - now, fc.low - now, fc.high - now)


def ticket_minutes(forecasts: dict[str, Forecast], t: Ticket, now: float) -> dict[str, float | None]:
    """The wait of waiting ticket ``t`` by ``forecasts``, a play that may be
    older than ``t`` (the core plays in a quiet moment, up to a few seconds
    after a change).  A ticket the play does not have while it has its
    field's probe was issued after the play, with a counter open: it is told
    the wait it was told at issue, counted from then, until the next play;
    saying "no open counter" would be false.  Neither: no open counter
    served its field at the play, so no promise (all None)."""
    fc = forecasts.get(t.id)
    if fc is not None:
        return minutes_from(fc, now)
    told = (t.est_wait_s, t.est_low_s, t.est_high_s)
    if None in told or forecasts.get(probe_id(t.field, t.priority is not None)) is None:
        return minutes(None, None, None)
    return minutes(*(t.issued_at + s - now for s in told))


def summary(config: SiteConfig, state: QueueState, now: float,
            forecasts: dict[str, Forecast]) -> dict[str, Any]:
    """Per field: waiting, issued today, quota left, open now, the wait a
    citizen taking a ticket now would be told (``forecasts``' probe)."""
    today = days.service_day(config, state.day, now)
    fields = []
    for f in config.fields:
        prio_waiting = len(state.line(f.code, True))
        waiting_n = prio_waiting + len(state.line(f.code, False))
        issued = state.last_number.get(f.code, 0) if state.day == today else 0
        serving = serving_counters(config, state, f.code)
        fields.append({
            "field": f.code,
            "name_vi": f.name_vi,
            "name_en": f.name_en,
            "prefix": f.prefix,
            "waiting": waiting_n,
            "priority_waiting": prio_waiting,
            "issued": issued,
            "quota_left": max(0, f.daily_quota - issued),
            "open": days.is_open(config, f.code, now) and not (
                state.day_closed and state.day == today),
            **minutes_from(forecasts.get(probe_id(f.code)), now),
            "counters": serving,
        })
    return {"day": state.day, "day_closed": state.day_closed, "fields": fields}
