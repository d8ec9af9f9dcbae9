"""Payload bodies built from the queue state (pure; shared by the core and the CLI).

What the core publishes and replies is built here and nowhere else, from the
config and the in-memory queue; docs/mqtt.md shows each body with an example.
"""
from __future__ import annotations

from typing import Any

from kiosk.config import SiteConfig
from kiosk.core.domain import Queue, Ticket, next_labels, public_board
from kiosk.core.domain import cases, waits
from kiosk.core.domain.state import CALLED, FINISHED, TRANSFERRED, WAITING


def ticket_brief(t: Ticket | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"ticket_id": t.id, "label": t.label, "field": t.field, "priority": t.priority,
            "called_at": t.called_at}


def ticket_full(config: SiteConfig, q: Queue, t: Ticket) -> dict[str, Any]:
    field = config.field(t.field)
    ahead = q.ahead_of(t)
    return {"ticket_id": t.id, "label": t.label, "field": t.field,
            "field_name_vi": field.name_vi, "field_name_en": field.name_en,
            "priority": t.priority,
            "priority_name_vi": config.priority_class(t.priority).name_vi if t.priority else None,
            "issued_at": t.issued_at, "ahead": ahead,
            # The wait told at issue, as journaled (what the day's error is measured on).
            **waits.minutes(t.est_wait_s, t.est_low_s, t.est_high_s),
            "counters": [c.number for c in config.counters if t.field in c.fields]}


def counter_reply_ticket(q: Queue, n: int) -> dict[str, Any] | None:
    current = q.state.counters[n].current
    return ticket_brief(q.state.tickets.get(current) if current else None)


def call_body(config: SiteConfig, q: Queue, e: dict) -> dict[str, Any]:
    """``event/call`` (and an entry of the snapshot's ``last_calls``) for a call or recall event."""
    t = q.state.tickets[e["ticket_id"]]
    counter = config.counter(e["counter"])
    return {"call_id": e["call_id"], "call_seq": e["call_seq"], "ticket_id": t.id,
            "label": t.label, "counter": counter.number, "counter_name": counter.name,
            "field": t.field, "field_name_vi": config.field(t.field).name_vi,
            "recall": e["kind"] == "ticket_recalled", "at": e["at"]}


# How many of each field's next numbers the snapshot carries: the display
# shows three, and every display decodes the snapshot many times a minute.
NEXT_UP = 3


def snapshot(config: SiteConfig, q: Queue, now: float, summary: dict,
             last_calls: list[dict], counted_levels: dict[str, int] | None = None) -> dict[str, Any]:
    """``display/snapshot``: everything a wall display shows, from ``q.summary(now)``.

    ``counted_levels``: today's counted ratings per level code (from the
    store), for the public board's satisfaction rate; None leaves it unknown.
    """
    s = q.state
    counters = []
    for c in config.counters:
        k = s.counters[c.number]
        t = s.tickets.get(k.current) if k.current else None
        counters.append({
            "number": c.number, "name": c.name, "status": k.status,
            "current": t.label if t else None, "field": t.field if t else None,
            "field_name_vi": config.field(t.field).name_vi if t else None,
            "official": k.official})
    waiting = [{"field": f["field"], "name_vi": f["name_vi"], "name_en": f["name_en"],
                "prefix": f["prefix"], "waiting": f["waiting"],
                "estimated_wait_min": f["estimated_wait_min"],
                "wait_low_min": f["wait_low_min"], "wait_high_min": f["wait_high_min"],
                "next": next_labels(config, s, f["field"], NEXT_UP)}
               for f in summary["fields"]]
    return {"site": config.site.id, "commune": config.site.commune,
            "centre": config.site.centre, "day": s.day, "day_closed": s.day_closed,
            "call_seq": s.call_seq, "updated_at": now, "counters": counters,
            "last_calls": last_calls, "waiting": waiting,
            "board": public_board(config, s, counted_levels)}


def rating_window(q: Queue, n: int, now: float, mono: float) -> dict[str, Any] | None:
    """Counter n's open rating window: its ticket and when it closes, in wall time."""
    w = q.rating_window(n, mono)
    # Boxes time their LEDs on wall time; the window itself is monotonic.
    return None if w is None else {"ticket_id": w["ticket_id"], "until": now + w["left_s"]}


def counter_state(config: SiteConfig, q: Queue, n: int, now: float, mono: float) -> dict[str, Any]:
    """``counter/<n>/state``: what the box and the console at counter n show."""
    c = config.counter(n)
    k = q.state.counters[n]
    return {"counter": n, "name": c.name, "status": k.status, "fields": list(c.fields),
            "current": counter_reply_ticket(q, n), "official": k.official,
            "waiting": q.waiting_for(n),
            "rating_window": rating_window(q, n, now, mono),
            "updated_at": now}


def site_info(config: Any, at: float) -> dict[str, Any]:
    """The retained ``site/info`` body: the facts a provincial aggregator
    needs to judge this site's events (names, typical minutes per field,
    which rating levels count as satisfied, each field's wait and service
    targets, each level's grade among Circular 01/2018's three).  The
    targets are resolved here, with the site's fallbacks applied, so the
    province judges a ticket by the promise the centre itself works to.
    ``config`` is a SiteConfig."""
    return {"site": config.site.id, "commune": config.site.commune, "centre": config.site.centre,
            "province": config.site.province, "timezone": config.site.timezone,
            "fields": [{"code": f.code, "name_vi": f.name_vi, "name_en": f.name_en,
                        "minutes_per_citizen": f.minutes_per_citizen} for f in config.fields],
            "levels": [{"code": lv.code, "name_vi": lv.name_vi, "name_en": lv.name_en,
                        "satisfied": lv.satisfied} for lv in config.rating.levels],
            "targets": {f.code: {"wait_min": float(config.wait_target_min(f.code)),
                                 "service_min": float(config.service_target_min(f.code))}
                        for f in config.fields},
            "grades": config.rating.grades(),
            "updated_at": at}


def phone_tickets(config: SiteConfig, q: Queue, now: float,
                  forecasts: dict | None = None) -> dict[str, Any]:
    """``queue/tickets``: today's tickets as a citizen's phone shows them.

    No names (the page has ``config/site``), no official, nothing personal.
    A closed day has none: its page has nothing left to show or to rate.
    ``ahead`` comes from one pass over the lines (``waits.ahead_all``) and
    ``wait_min`` (with its range) from the forecast of the whole queue the
    snapshot uses too (``forecasts``, the service's paced play; None: played
    now, ``Queue.wait_forecast``), so a day of 2,000 tickets costs one walk
    and at most one play, not one per ticket.
    """
    s = q.state
    tickets: dict[str, dict[str, Any]] = {}
    if not s.day_closed:
        ahead = waits.ahead_all(s)
        if forecasts is None:
            forecasts = q.wait_forecast(now)
        for t in sorted(s.tickets.values(), key=lambda t: t.seq):
            # Transferred is waiting again, in its new field (origin_field says where from).
            state = WAITING if t.state == TRANSFERRED else t.state
            # The label is the id's tail (20261202-A001); keys with nothing to
            # say are left out: the day's every ticket goes out every second
            # in a busy hour.
            entry: dict[str, Any] = {"field": t.field, "state": state}
            if t.origin_field != t.field:
                entry["origin_field"] = t.origin_field
            if state in (CALLED, FINISHED) and t.counter is not None:
                entry["counter"] = t.counter
            n = ahead.get(t.id) if state == WAITING else None
            if n is not None:
                entry["ahead"] = n
                m = waits.ticket_minutes(forecasts, t, now)
                if m["estimated_wait_min"] is not None:     # else no open counter: no promise
                    entry["wait_min"] = m["estimated_wait_min"]
                    entry["wait_low_min"] = m["wait_low_min"]
                    entry["wait_high_min"] = m["wait_high_min"]
            if t.rated:
                entry["rated"] = t.rated
            if state == CALLED and t.recalls:
                # A recall (the citizen did not come) alerts the phone again.
                entry["recalls"] = t.recalls
            tickets[t.id] = entry
    return {"day": s.day, "day_closed": s.day_closed, "updated_at": now, "tickets": tickets}


# What of a follow-up case ``event/case`` carries: never the head's note nor
# the citizen's comment (the province and every dashboard read it).
_CASE_FACTS = ("ticket_id", "day", "field", "counter", "official", "level", "source", "reasons",
               "opened_at", "due_at")


def case_event(case: dict[str, Any], change: str, at: float) -> dict[str, Any]:
    """The ``event/case`` body of one change of a case (opened, looked_into,
    closed) made at ``at``: the case's facts, which never change, and what
    this change made of it, whatever later changes did."""
    closed = change == "closed"     # nothing leaves closed: its time is the case's for good
    return {"event_id": f"case-{case['id']}-{change}", "case": case["id"], "change": change,
            "at": at, **{k: case[k] for k in _CASE_FACTS},
            "status": "open" if change == "opened" else change,
            "closed_at": case["closed_at"] if closed else None,
            "on_time": cases.on_time(case) if closed else None}
