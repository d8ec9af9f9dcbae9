"""Follow-up cases at the province: ``event/case`` into ``case_events`` and ``cases``.

Called by the aggregator's ``Sink.write`` inside the batch's transaction,
so a case change is acknowledged to the broker only once it is committed,
like every other event.

A case event is keyed by ``(site, event_id)`` where the event id is
``case-<id>-<change>`` (docs/mqtt.md, ``event/case``): a redelivery or a
replay inserts nothing; the same key with other content (a centre whose
database was replaced) goes to ``rejects`` with why, as for ticket events.

A case's row is a fold of all its stored changes, not an update by the
newest arrival: its state is that of its furthest change (opened, then
looked into, then closed; nothing leaves closed), so changes that arrive
late or out of order give the same row.
"""
from __future__ import annotations

from typing import Any

from kiosk.province.events import CaseEvent

_INSERT = ("INSERT INTO case_events (site, event_id, case_id, change, at, payload) "
           "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING RETURNING 1")

# One row per touched case: its furthest change (then the latest, then the
# greatest id, so two changes of one kind cannot make the fold ambiguous).
_PROJECT = """
INSERT INTO cases (site, case_id, ticket_id, day, field, counter, official, level, source, reasons,
                   opened_at, due_at, status, closed_at, on_time, last_event_id)
SELECT DISTINCT ON (site, case_id)
       site, case_id, payload->>'ticket_id', (payload->>'day')::date, payload->>'field',
       (payload->>'counter')::int, payload->>'official', payload->>'level', payload->>'source',
       CASE WHEN jsonb_typeof(payload->'reasons') = 'array' THEN payload->'reasons' END,
       (payload->>'opened_at')::float8, (payload->>'due_at')::float8, payload->>'status',
       (payload->>'closed_at')::float8,
       -- On time is decided only when it is closed: by its due time, as
       -- the centre's pack decides it (the payload's own on_time is the
       -- same rule; recomputing keeps one definition in the database).
       CASE WHEN payload->>'status' = 'closed'
            THEN (payload->>'closed_at')::float8 <= (payload->>'due_at')::float8 END,
       event_id
FROM case_events
WHERE (site, case_id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))
ORDER BY site, case_id,
         CASE change WHEN 'opened' THEN 0 WHEN 'looked_into' THEN 1 ELSE 2 END DESC, at DESC, event_id DESC
ON CONFLICT (site, case_id) DO UPDATE SET
    ticket_id = EXCLUDED.ticket_id, day = EXCLUDED.day, field = EXCLUDED.field,
    counter = EXCLUDED.counter, official = EXCLUDED.official, level = EXCLUDED.level,
    source = EXCLUDED.source, reasons = EXCLUDED.reasons, opened_at = EXCLUDED.opened_at,
    due_at = EXCLUDED.due_at, status = EXCLUDED.status, closed_at = EXCLUDED.closed_at,
    on_time = EXCLUDED.on_time, last_event_id = EXCLUDED.last_event_id
"""


def write(cur: Any, items: list[tuple[str, CaseEvent]]) -> tuple[int, int, list[tuple[str, bytes, str]]]:
    """Store case events and refold their cases, in the caller's transaction.

    Returns (stored, duplicates, conflicts as (topic, raw, reason) for the
    rejects table).  A few case changes a day per centre: one statement
    per event is plenty.
    """
    stored = duplicates = 0
    conflicts: list[tuple[str, bytes, str]] = []
    for topic, e in items:
        cur.execute(_INSERT, (e.site, e.event_id, e.case, e.change, e.at, e.payload))
        if cur.fetchone() is not None:
            stored += 1
            continue
        same = cur.execute("SELECT payload = %s::jsonb FROM case_events WHERE site = %s AND event_id = %s",
                           (e.payload, e.site, e.event_id)).fetchone()
        if same is not None and same[0]:
            duplicates += 1
        else:
            conflicts.append((topic, e.payload.encode(),
                              f"event_id {e.event_id} of site {e.site} is already stored with different content"))
    touched = sorted({(e.site, e.case) for _, e in items})
    if touched:
        cur.execute(_PROJECT, ([s for s, _ in touched], [c for _, c in touched]))
    return stored, duplicates, conflicts
