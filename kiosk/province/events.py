"""What arrives at the provincial broker, parsed and checked (pure: no I/O).

A message is one of:
- an event (``phucvu/<site>/event/ticket`` or ``event/rating``) with a
  ``site`` that matches its topic, an integer ``event_id``, a ``kind`` and
  an ``at``; on ``event/ticket`` the day's close (``day_closed``) too, with
  its ``day`` and the ticket ids it ``expired``;
- a follow-up case's change (``event/case``, docs/mqtt.md): keyed by its
  text ``event_id`` (``case-<id>-<change>``); a ``site`` in it, if any, must
  match the topic;
- a site's ``site/info`` (``targets`` and ``grades`` optional: older
  sites do not send them);
- anything else: a ``Reject`` with a reason, kept so that nothing is lost.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from kiosk.config import GRADES
from kiosk.core.domain.cases import STATUSES

SITE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TICKET_KINDS = frozenset({"ticket_issued", "ticket_called", "ticket_recalled", "ticket_finished",
                          "ticket_no_show", "ticket_transferred", "day_closed"})
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RATING_KINDS = frozenset({"rating_pressed"})
# A case's statuses are the core's (kiosk/core/domain/cases.py).
CASE_STATUSES = frozenset(STATUSES)
# What the aggregator subscribes to (QoS 1).  event/call is left out: every
# call is also a ticket_called or ticket_recalled on event/ticket.
SUBSCRIPTIONS = ("phucvu/+/event/ticket", "phucvu/+/event/rating", "phucvu/+/event/case",
                 "phucvu/+/site/info")
CASE_EVENT_ID = re.compile(r"^case-([1-9][0-9]{0,11})-(opened|looked_into|closed)$")


@dataclass(frozen=True)
class Event:
    site: str
    event_id: int
    kind: str
    at: float
    ticket_id: str | None
    payload: str            # the JSON text as received (stored as jsonb)


@dataclass(frozen=True)
class CaseEvent:
    site: str
    event_id: str           # case-<id>-<change>
    case: int
    change: str
    at: float
    payload: str


@dataclass(frozen=True)
class SiteInfo:
    site: str
    commune: str
    centre: str
    province: str
    timezone: str
    updated_at: float
    payload: str


@dataclass(frozen=True)
class Reject:
    topic: str
    payload: bytes
    reason: str


def parse(topic: str, payload: bytes) -> Event | CaseEvent | SiteInfo | Reject:
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "phucvu" or not SITE.match(parts[1]):
        return Reject(topic, payload, "topic is not phucvu/<site>/...")
    site, leaf = parts[1], "/".join(parts[2:])
    if leaf not in ("event/ticket", "event/rating", "event/case", "site/info"):
        return Reject(topic, payload, f"unexpected topic leaf {leaf!r}")
    try:
        text = payload.decode("utf-8")
        body = json.loads(text)
    except UnicodeDecodeError as e:
        return Reject(topic, payload, f"payload is not UTF-8 (byte {e.start})")
    except ValueError as e:
        return Reject(topic, payload, f"payload is not JSON: {e}")
    except RecursionError:
        return Reject(topic, payload, "payload is not JSON this parser can read: nested too deeply")
    if not isinstance(body, dict):
        return Reject(topic, payload, f"payload must be a JSON object, got {type(body).__name__}")
    # A case event may leave the site out (the topic and the broker's ACL
    # say whose it is); every other message names it.
    if body.get("site") != site and not (leaf == "event/case" and "site" not in body):
        return Reject(topic, payload, f"payload site {body.get('site')!r} does not match the topic's {site!r}")
    if leaf == "event/case":
        return _case(topic, payload, text, body, site)
    if leaf == "site/info":
        return _info(topic, payload, text, body, site)
    return _event(topic, payload, text, body, site, leaf)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _event(topic: str, payload: bytes, text: str, body: dict, site: str, leaf: str) -> Event | Reject:
    event_id, kind, at = body.get("event_id"), body.get("kind"), body.get("at")
    if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 1:
        return Reject(topic, payload, f"event_id must be a positive integer, got {event_id!r}")
    kinds = TICKET_KINDS if leaf == "event/ticket" else RATING_KINDS
    if kind not in kinds:
        return Reject(topic, payload, f"kind {kind!r} is not one of {sorted(kinds)} on {leaf}")
    if not _number(at):
        return Reject(topic, payload, f"at must be epoch seconds, got {at!r}")
    ticket_id = body.get("ticket_id")
    if ticket_id is not None and not isinstance(ticket_id, str):
        return Reject(topic, payload, f"ticket_id must be text, got {ticket_id!r}")
    if kind == "day_closed":
        # The day's close: the tickets it expired (never called ones count
        # against the wait target, rates.in_wait_target_base), no ticket_id.
        why = _day_closed(body)
        if why is not None:
            return Reject(topic, payload, why)
    elif leaf == "event/ticket":
        if ticket_id is None:
            return Reject(topic, payload, "a ticket event needs ticket_id")
        if kind == "ticket_issued" and not (isinstance(body.get("day"), str) and body.get("field")):
            return Reject(topic, payload, "ticket_issued needs day and field")
    else:
        if not isinstance(body.get("rating_id"), str) or not isinstance(body.get("level"), str) \
                or not isinstance(body.get("counted"), bool):
            return Reject(topic, payload, "rating_pressed needs rating_id, level (text) and counted (bool)")
        for key in ("wait_s", "service_s"):
            if body.get(key) is not None and not _number(body[key]):
                return Reject(topic, payload, f"{key} must be seconds or null, got {body[key]!r}")
        # Kept in the ratings table: a phone rating's reasons are what its
        # case is about.
        if body.get("source") is not None and not isinstance(body["source"], str):
            return Reject(topic, payload, f"source must be text or null, got {body['source']!r}")
        reasons = body.get("reasons")
        if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
            return Reject(topic, payload, f"reasons must be a list of codes or null, got {reasons!r}")
    counter = body.get("counter")
    if counter is not None and (not isinstance(counter, int) or isinstance(counter, bool)
                                or not 0 <= counter < 2**31):
        return Reject(topic, payload, f"counter must be a number, got {counter!r}")
    # PostgreSQL's jsonb refuses NUL characters in text.
    if "\\u0000" in text:
        return Reject(topic, payload, "payload holds a NUL character")
    return Event(site, event_id, kind, float(at), ticket_id, text)


def _day_closed(body: dict) -> str | None:
    """Why a ``day_closed`` is malformed, or None."""
    if body.get("ticket_id") is not None:
        return f"day_closed names no ticket_id, got {body['ticket_id']!r}"
    day = body.get("day")
    if not isinstance(day, str) or not DAY.match(day):
        return f"day_closed needs day (YYYY-MM-DD), got {day!r}"
    expired = body.get("expired")
    if not isinstance(expired, list):
        return f"day_closed needs expired, the list of ticket ids it expired, got {expired!r}"
    bad = [t for t in expired if not isinstance(t, str) or not t]
    if bad:
        return f"day_closed expired must hold ticket ids (text), got {bad[0]!r}"
    if len(set(expired)) != len(expired):
        return "day_closed expired names a ticket twice"
    return None


def _info(topic: str, payload: bytes, text: str, body: dict, site: str) -> SiteInfo | Reject:
    missing = [k for k in ("commune", "centre", "timezone", "fields", "levels")
               if k not in body]
    if missing:
        return Reject(topic, payload, f"site/info lacks {', '.join(missing)}")
    if not _number(body.get("updated_at")):
        return Reject(topic, payload, "site/info needs updated_at (epoch seconds)")
    levels = body["levels"]
    if not isinstance(levels, list) or not all(
            isinstance(lv, dict) and isinstance(lv.get("code"), str) and isinstance(lv.get("satisfied"), bool)
            for lv in levels):
        return Reject(topic, payload, "site/info levels must be a list of {code, satisfied}")
    fields = body["fields"]
    if not isinstance(fields, list) or not all(
            isinstance(f, dict) and isinstance(f.get("code"), str) and _number(f.get("minutes_per_citizen"))
            for f in fields):
        return Reject(topic, payload, "site/info fields must be a list of {code, minutes_per_citizen}")
    why = _targets(body)
    if why is not None:
        return Reject(topic, payload, why)
    if "\\u0000" in text:
        return Reject(topic, payload, "payload holds a NUL character")
    return SiteInfo(site, str(body["commune"]), str(body["centre"]), str(body.get("province") or ""),
                    str(body["timezone"]), float(body["updated_at"]), text)


def _case(topic: str, payload: bytes, text: str, body: dict, site: str) -> CaseEvent | Reject:
    event_id, case, change, at = body.get("event_id"), body.get("case"), body.get("change"), body.get("at")
    m = CASE_EVENT_ID.match(event_id) if isinstance(event_id, str) else None
    if m is None:
        return Reject(topic, payload, f"a case event's event_id must be case-<id>-<change>, got {event_id!r}")
    if not isinstance(case, int) or isinstance(case, bool) or str(case) != m.group(1):
        return Reject(topic, payload, f"case {case!r} does not match event_id {event_id!r}")
    if change != m.group(2):
        return Reject(topic, payload, f"change {change!r} does not match event_id {event_id!r}")
    if not _number(at):
        return Reject(topic, payload, f"at must be epoch seconds, got {at!r}")
    for key in ("opened_at", "due_at"):
        if not _number(body.get(key)):
            return Reject(topic, payload, f"a case event needs {key} (epoch seconds), got {body.get(key)!r}")
    if body.get("closed_at") is not None and not _number(body["closed_at"]):
        return Reject(topic, payload, f"closed_at must be epoch seconds or null, got {body['closed_at']!r}")
    if body.get("status") not in CASE_STATUSES:
        return Reject(topic, payload, f"status {body.get('status')!r} is not one of {sorted(CASE_STATUSES)}")
    if change == "closed" and not _number(body.get("closed_at")):
        return Reject(topic, payload, "a closed case needs closed_at")
    for key in ("ticket_id", "field", "official", "level", "source"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return Reject(topic, payload, f"{key} must be text or null, got {body[key]!r}")
    day = body.get("day")
    if not isinstance(day, str) or not DAY.match(day):
        return Reject(topic, payload, f"a case event needs day (YYYY-MM-DD), got {day!r}")
    counter = body.get("counter")
    if counter is not None and (not isinstance(counter, int) or isinstance(counter, bool)
                                or not 0 <= counter < 2**31):
        return Reject(topic, payload, f"counter must be a number, got {counter!r}")
    reasons = body.get("reasons")
    if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
        return Reject(topic, payload, f"reasons must be a list of codes or null, got {reasons!r}")
    if "\\u0000" in text:
        return Reject(topic, payload, "payload holds a NUL character")
    return CaseEvent(site, event_id, case, change, float(at), text)


def _targets(body: dict) -> str | None:
    """Why ``targets`` / ``grades`` of a site/info are malformed, or None.
    Both may be absent (a site from before issue 19)."""
    targets = body.get("targets")
    if targets is not None:
        if not isinstance(targets, dict) or not all(
                isinstance(t, dict) and all(_number(t.get(k)) and t[k] > 0 for k in ("wait_min", "service_min"))
                for t in targets.values()):
            return "site/info targets must map each field code to {wait_min, service_min} (minutes > 0)"
    grades = body.get("grades")
    if grades is not None:
        if not isinstance(grades, dict) or not all(g in GRADES for g in grades.values()):
            return f"site/info grades must map each level code to one of {', '.join(GRADES)}"
    return None
