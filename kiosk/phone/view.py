"""What one ticket's page shows, from the core's retained ``queue/tickets``
and the site's names (pure: no I/O, so the tests and every stream share it).

The core publishes states and numbers only; fields, counters, levels and
reasons are named here from the site config (``config/site``), so a renamed
counter reads right on every open page at once.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from kiosk import waitwords
from kiosk.config import SiteConfig

# 20261202-B001: the service day and the label (kiosk/core/domain/days.ticket_id).
TICKET_ID = re.compile(r"(\d{4})(\d{2})(\d{2})-([A-Z]\d{1,4})")
STATES = ("waiting", "called", "finished", "no_show")
# queue/tickets' names for waitwords.WAIT_KEYS (docs/mqtt.md).
WAIT_KEYS = ("wait_min", "wait_low_min", "wait_high_min")
log = logging.getLogger("phucvu.phone")


def ticket_day(ticket_id: str) -> str | None:
    m = TICKET_ID.fullmatch(ticket_id)
    return f"{m[1]}-{m[2]}-{m[3]}" if m else None


def _field(config: SiteConfig, code: Any) -> dict[str, Any] | None:
    if not isinstance(code, str):
        return None
    try:
        f = config.field(code)
    except KeyError:
        # A field removed from the config since: its code is all there is.
        return {"code": code, "name_vi": code, "name_en": code}
    return {"code": f.code, "name_vi": f.name_vi, "name_en": f.name_en}


def _counter(config: SiteConfig, number: Any) -> dict[str, Any] | None:
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    try:
        return {"number": number, "name": config.counter(number).name}
    except KeyError:
        return {"number": number, "name": f"Quầy {number}"}


_bad_logged: set[tuple[str, str]] = set()


def wait_minutes(mine: dict[str, Any], ticket_id: str = "?") -> dict[str, float | None]:
    """The forecast's wait and its p10-p90 range as the core sent them
    (minutes), checked by ``waitwords.checked``: the page words them
    (static/waitwords.js, the rules of kiosk/waitwords.py), so nothing is
    rounded here.  A waiting ticket without them had no open counter
    serving it at the core's last play (one issued since carries the wait
    it was told at issue, ``waits.ticket_minutes``): all three None, and
    the page says "chờ quầy mở lại".  A
    malformed wait is logged (once per ticket and value) and left out, all
    three keys absent: the page then says no wait at all, not "paused"."""
    raw = tuple(mine.get(k) for k in WAIT_KEYS)
    m, low, high, problems = waitwords.checked(*raw, names=WAIT_KEYS)
    for problem in problems:
        if waitwords.first_time(_bad_logged, (ticket_id, problem)):
            log.warning("queue/tickets: ticket %s: %s; not shown", ticket_id, problem)
    if m is None and raw[0] is not None:
        return {}
    return dict(zip(WAIT_KEYS, (m, low, high)))


def choices(config: SiteConfig) -> dict[str, Any]:
    """The rating buttons and the reasons, as the page offers them."""
    return {
        "levels": [{"level": i, "code": lv.code, "name_vi": lv.name_vi, "name_en": lv.name_en,
                    "satisfied": lv.satisfied} for i, lv in enumerate(config.rating.levels, 1)],
        "reasons": [{"code": r.code, "name_vi": r.name_vi, "name_en": r.name_en}
                    for r in config.rating.reasons],
    }


def ticket_view(config: SiteConfig, tickets: dict[str, Any] | None, ticket_id: str) -> dict[str, Any]:
    """The page's state of ``ticket_id``.

    ``status`` is the ticket's state, or ``loading`` (the core's list has
    not arrived yet), ``closed`` (its day is over) or ``unknown`` (not in
    today's list: issued a moment ago, before the core's next publish).
    """
    label = ticket_id.partition("-")[2]
    out: dict[str, Any] = {
        "ticket_id": ticket_id, "label": label, "status": "loading",
        "centre": config.site.centre, "commune": config.site.commune,
        "field": None, "origin_field": None, "counter": None, "ahead": None,
        "wait_min": None, "wait_low_min": None, "wait_high_min": None,
        "rated": None, "recalls": 0, "can_rate": False, **choices(config),
    }
    if not isinstance(tickets, dict):
        return out
    mine = (tickets.get("tickets") or {}).get(ticket_id)
    day, own_day = tickets.get("day"), ticket_day(ticket_id)
    if not isinstance(mine, dict):
        over = bool(tickets.get("day_closed")) or (isinstance(day, str) and own_day is not None
                                                   and own_day < day)
        out["status"] = "closed" if over else "unknown"
        return out
    state = mine.get("state")
    out["status"] = state if state in STATES else "unknown"
    out["label"] = mine.get("label") if isinstance(mine.get("label"), str) else label
    out["field"] = _field(config, mine.get("field"))
    if mine.get("origin_field") not in (None, mine.get("field")):
        out["origin_field"] = _field(config, mine.get("origin_field"))
    if state in ("called", "finished"):
        out["counter"] = _counter(config, mine.get("counter"))
    if state == "called" and isinstance(mine.get("recalls"), int):
        out["recalls"] = mine["recalls"]
    if state == "waiting":
        out["ahead"] = mine.get("ahead") if isinstance(mine.get("ahead"), int) else None
        told = wait_minutes(mine, ticket_id)
        if not told:                        # malformed: said nowhere, not even as paused
            for key in WAIT_KEYS:
                del out[key]
        out.update(told)
    rated = mine.get("rated")
    out["rated"] = rated if rated in ("box", "phone") else None
    out["can_rate"] = state == "finished" and out["rated"] is None and not tickets.get("day_closed")
    return out
