"""A citizen's rating from the phone page (``phone/rating``), through the
command pipeline's steps (kiosk/core/commands.py): decode, dedupe, run,
reply on ``phone/reply``.

The page's server checked the ticket's token already; the core checks it
again with the same site secret, because a rating judges an official and
the page is the one part on the public Wi-Fi's side.  What the rating is
worth is the pure domain's judgement (``RatingJudge.phone``); this module
only wires it and says it to the citizen in Vietnamese.
"""
from __future__ import annotations

import logging
from typing import Any

from kiosk.contract import PhoneRating
from kiosk.core import refusals
from kiosk.core.domain import DomainError
from kiosk.phone import token

log = logging.getLogger("phucvu.core")

# What the citizen reads, by code (docs/mqtt.md, ``phone/reply``).
MESSAGES = {
    "bad_token": "Mã phiếu không hợp lệ.",
    "unknown_ticket": "Không tìm thấy phiếu này trong ngày hôm nay.",
    "not_finished": "Lượt của bạn chưa phục vụ xong nên chưa đánh giá được.",
    "already_rated": "Lượt phục vụ này đã được đánh giá. Xin cảm ơn!",
    "window_closed": "Đã hết thời gian đánh giá cho phiếu này.",
    "bad_level": "Mức đánh giá không hợp lệ.",
    "bad_reason": "Lý do hoặc góp ý không hợp lệ.",
}
# A kept rating that does not count -> the code the page hears.
KEPT = {"extra_press": "already_rated", "after_window": "window_closed", "bad_level": "bad_level"}


def reply_body(rating_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """The reply for a kept rating, from its event or its stored row."""
    if outcome["counted"]:
        return {"rating_id": rating_id, "ok": True, "counted": True,
                "ticket_id": outcome["ticket_id"], "level": outcome["level"]}
    code = KEPT.get(outcome["reason"], "already_rated")
    return {"rating_id": rating_id, **refusals.error(code, MESSAGES[code])}


def handle(cmds: Any, r: PhoneRating, payload: bytes) -> tuple[dict[str, Any], list[dict] | None]:
    """One decoded ``phone/rating`` on ``cmds`` (the ``Commands`` pipeline),
    judged and committed: the reply for ``phone/reply`` and the committed
    events.  The caller makes the Outcome, so this room does not import the
    pipeline that imports it."""
    topic = cmds.topics.phone_rating
    store = cmds.engine.store
    stored = store.phone_outcome(r.rating_id)
    if stored is not None:
        # The page sent it again (no reply in time, or QoS 1): same answer.
        log.info("phone rating %s seen before", r.rating_id)
        return reply_body(r.rating_id, stored), None

    def refuse(code: str, detail: str, events: list[dict] | None = None):
        # Not a rating: kept in ``rejected`` for a person to look at.
        log.warning("phone rating %s for %s refused (%s): %s [client %s]",
                    r.rating_id, r.ticket_id, code, detail, r.client or "?")
        cmds._keep(topic, payload, f"{code}: {detail}")
        return {"rating_id": r.rating_id, **refusals.error(code, MESSAGES[code])}, events

    if cmds.phone_secret is None:
        return refuse("bad_token", "this centre has no phone page ([phone] is not configured)")
    if not token.check(cmds.phone_secret, r.ticket_id, r.token):
        return refuse("bad_token", "the token is not this ticket's")
    try:
        events = cmds.engine.run("rate_phone", r.ticket_id, r.level, rating_id=r.rating_id,
                                 reasons=list(r.reasons), comment=r.comment, client=r.client)
    except DomainError as e:
        return refuse(e.code, e.message, e.events)
    e = next(x for x in events if x["kind"] == "rating_pressed")
    if e["counted"]:
        log.info("phone rating %s for %s (counter %s, official %s)", e["level"], e["ticket_id"],
                 e["counter"], e["official"])
    else:
        log.warning("phone rating for %s kept as anomaly %s (not counted)", e["ticket_id"],
                    e["reason"])
    return reply_body(r.rating_id, e), events
