"""Messages the core cannot take: kept, and answered where an answer can go.

Nothing is dropped unseen.  A payload that breaks the contract, a topic that
names no counter, a message a fault kept the core from handling: each is
kept in the ``rejected`` table with why (``keep``), and its sender hears why
on the reply topic its own topic implies (``reply_route``) with
``bad_payload``, ``bad_topic`` or ``internal`` (docs/mqtt.md, "Errors"), so
that it does not send it again for ever.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from kiosk.contract import Topics
from kiosk.core.store import Store

log = logging.getLogger("phucvu.core")

CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def error(code: str, message: str, **details: Any) -> dict[str, Any]:
    """A refusal as every reply carries it."""
    return {"ok": False, "error": {"code": code, "message": message, **details}}


def peek(payload: bytes, key: str) -> Any:
    """A correlation id from a payload that failed validation, if any."""
    try:
        value = json.loads(payload).get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, (str, int)) else None


def keep(store: Store, at: float, topic: str, payload: bytes, reason: str) -> None:
    try:
        store.reject(at, topic, payload, reason)
    except Exception:
        log.exception("could not keep the rejected message from %s", topic)


def reply_route(t: Topics, topic: str) -> tuple[str, str] | None:
    """Where the answer to a message on ``topic`` goes, and the key of its id.

    A counter topic is answered on its own counter segment, even one
    that names no counter (``counter/01`` -> ``counter/01/reply``), so
    its sender hears why; None when there is nobody to answer.
    """
    for leaf, key in (("command", "command_id"), ("rating", "rating_id")):
        segment = t.segment(topic, "counter", leaf)
        if segment:
            return t.counter_reply(segment), key
    if topic == t.core_command:
        return t.core_reply, "command_id"
    if topic == t.phone_rating:
        return t.phone_reply, "rating_id"
    if topic.startswith(t.ticket_request("")):
        client = topic.removeprefix(t.ticket_request(""))
        if CLIENT_ID.match(client):
            return t.ticket_reply(client), "request_id"
    return None


def bad_topic(t: Topics, topic: str, payload: bytes,
              counters: list[int]) -> tuple[str, dict[str, Any]] | None:
    """The answer to a message on a topic that names no counter
    (``counter/01``, ``counter/abc``): reply topic and body, or None."""
    route = reply_route(t, topic)
    if route is None:
        log.warning("message on unexpected topic %s kept in the rejected table", topic)
        return None
    log.warning("message on %s refused: it names no counter", topic)
    reply_to, key = route
    return reply_to, {key: peek(payload, key), **error(
        "bad_topic", f"{topic!r} names no counter: counters are written as plain numbers, "
                     f"one of {counters}")}


def internal(t: Topics, topic: str, payload: bytes,
             exc: Exception) -> tuple[str, dict[str, Any]] | None:
    """The answer to a message a fault kept the core from handling, or None."""
    route = reply_route(t, topic)
    if route is None:
        return None
    reply_to, key = route
    return reply_to, {key: peek(payload, key), **error(
        "internal", f"the core could not handle this message ({type(exc).__name__}); "
                    "it is kept for a person to look at")}
