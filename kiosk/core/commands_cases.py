"""The head's change to a follow-up case (``core/command`` action
``case_update``), through the command pipeline's steps (kiosk/core/commands.py),
and the ``event/case`` bodies of what committed events did to cases.

What a change may be is the pure domain's rule (kiosk/core/domain/cases.py);
the engine commits the change, its log line and the reply in one
transaction (``Engine.case_update``), so a redelivered command finds its
reply exactly when the change is on disk.
"""
from __future__ import annotations

import logging
from typing import Any

from kiosk.contract import CoreCommand
from kiosk.core import refusals, views
from kiosk.core.domain import DomainError

log = logging.getLogger("phucvu.core")


def handle(cmds: Any, cmd: CoreCommand, key: str) -> tuple[dict[str, Any], list[dict]]:
    """One decoded, not yet seen ``case_update`` on ``cmds`` (the ``Commands``
    pipeline): the reply for ``core/reply`` and the committed events.  The
    caller makes the Outcome, so this room does not import the pipeline."""
    base = {"command_id": cmd.command_id, "action": "case_update"}

    def reply(outcome: dict | DomainError) -> dict:
        if isinstance(outcome, DomainError):
            return {**base, **refusals.error(outcome.code, outcome.message)}
        return {**base, "ok": True, "case": outcome}

    events, body = cmds.engine.case_update(cmd.case, cmd.status, cmd.note, cmd.by,
                                           key=key, reply=reply)
    if body["ok"]:
        log.info("case #%s %s by %s", cmd.case, cmd.status, cmd.by)
    else:
        log.info("case #%s %s refused: %s", cmd.case, cmd.status, body["error"]["message"])
    return body, events


def case_events(store: Any, events: list[dict]) -> list[dict[str, Any]]:
    """The ``event/case`` bodies of committed events: a case opened with its
    rating, looked into, closed.  Read back after the commit; what a body
    says of the change is the change's own (views.case_event), so a case
    closed in the same batch as its rating is still announced opened first."""
    out = []
    for e in events:
        if e["kind"] == "rating_pressed" and e.get("case_due") is not None:
            case = store.case_of_rating(e["rating_id"])
            change = "opened"
        elif e["kind"] == "case_updated":
            case = store.case(e["case"])
            change = e["status"]
        else:
            continue
        if case is not None:
            out.append(views.case_event(case, change, e["at"]))
    return out
