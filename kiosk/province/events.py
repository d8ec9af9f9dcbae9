"""What arrives at the provincial broker, parsed and checked (pure: no I/O).

A message is one of:
- an event (``phucvu/<site>/event/ticket`` or ``event/rating``) with a
  ``site`` that matches its topic, an integer ``event_id``, a ``kind`` and
  an ``at``;
- a site's ``site/info``;
- anything else: a ``Reject`` with a reason, kept so that nothing is lost.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

SITE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TICKET_KINDS = frozenset({"ticket_issued", "ticket_called", "ticket_recalled", "ticket_finished",
                          "ticket_no_show", "ticket_transferred"})
RATING_KINDS = frozenset({"rating_pressed"})
# What the aggregator subscribes to (QoS 1).  event/call is left out: every
# call is also a ticket_called or ticket_recalled on event/ticket.
SUBSCRIPTIONS = ("phucvu/+/event/ticket", "phucvu/+/event/rating", "phucvu/+/site/info")


@dataclass(frozen=True)
class Event:
    site: str
    event_id: int
    kind: str
    at: float
    ticket_id: str | None
    payload: str            # the JSON text as received (stored as jsonb)


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


def parse(topic: str, payload: bytes) -> Event | SiteInfo | Reject:
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "phucvu" or not SITE.match(parts[1]):
        return Reject(topic, payload, "topic is not phucvu/<site>/...")
    site, leaf = parts[1], "/".join(parts[2:])
    if leaf not in ("event/ticket", "event/rating", "site/info"):
        return Reject(topic, payload, f"unexpected topic leaf {leaf!r}")
    try:
        text = payload.decode("utf-8")
        body = json.loads(text)
    except UnicodeDecodeError as e:
        return Reject(topic, payload, f"payload is not UTF-8 (byte {e.start})")
    except ValueError as e:
        return Reject(topic, payload, f"payload is not JSON: {e}")
    if not isinstance(body, dict):
        return Reject(topic, payload, f"payload must be a JSON object, got {type(body).__name__}")
    if body.get("site") != site:
        return Reject(topic, payload, f"payload site {body.get('site')!r} does not match the topic's {site!r}")
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
    if leaf == "event/ticket":
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
    counter = body.get("counter")
    if counter is not None and (not isinstance(counter, int) or isinstance(counter, bool)
                                or not 0 <= counter < 2**31):
        return Reject(topic, payload, f"counter must be a number, got {counter!r}")
    # PostgreSQL's jsonb refuses NUL characters in text.
    if "\\u0000" in text:
        return Reject(topic, payload, "payload holds a NUL character")
    return Event(site, event_id, kind, float(at), ticket_id, text)


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
    if "\\u0000" in text:
        return Reject(topic, payload, "payload holds a NUL character")
    return SiteInfo(site, str(body["commune"]), str(body["centre"]), str(body.get("province") or ""),
                    str(body["timezone"]), float(body["updated_at"]), text)
