"""Payload bodies built from the queue state (pure; shared by the service and the CLI)."""
from __future__ import annotations

from typing import Any

from kiosk.config import SiteConfig
from kiosk.core.domain import Queue, Ticket


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
            "estimated_wait_min": round(q.estimate_wait_s(t.field, ahead) / 60, 1),
            "counters": [c.number for c in config.counters if t.field in c.fields]}


def counter_reply_ticket(q: Queue, n: int) -> dict[str, Any] | None:
    current = q.state.counters[n].current
    return ticket_brief(q.state.tickets.get(current) if current else None)
