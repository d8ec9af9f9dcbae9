"""The provincial PostgreSQL schema: numbered migrations, applied in order.

``schema_version`` holds the number of the last migration applied.  Never
edit a released migration: add one.

- ``events``: every event of every site as it arrived, keyed by
  ``(site, event_id)`` (the site's journal row id), so a redelivery or a
  replay inserts nothing;
- ``tickets`` and ``ratings``: projections recomputed from ``events``, so
  they do not depend on the order events arrive in;
- ``sites``: each site's latest ``site/info``;
- ``case_events`` and ``cases`` (migration 2): every follow-up case change
  as it arrived, keyed by ``(site, event_id)`` (``case-12-closed``), and
  each case's latest state, keyed by ``(site, case_id)``;
- ``rejects``: what could not be stored as an event, with why (nothing lost).
"""
from __future__ import annotations

from typing import Any

MIGRATIONS: list[str] = [
    # 1: events, projections, sites, rejects
    """
    CREATE TABLE events (
        site text NOT NULL,
        event_id bigint NOT NULL,
        kind text NOT NULL,
        at double precision NOT NULL,
        ticket_id text,
        payload jsonb NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (site, event_id)
    );
    CREATE INDEX events_ticket ON events (site, ticket_id) WHERE ticket_id IS NOT NULL;
    CREATE TABLE tickets (
        site text NOT NULL,
        ticket_id text NOT NULL,
        day date,
        origin_field text,
        field text,
        priority text,
        state text NOT NULL,
        issued_at double precision,
        first_called_at double precision,
        last_called_at double precision,
        finished_at double precision,
        transfers integer NOT NULL DEFAULT 0,
        last_event_id bigint NOT NULL,
        PRIMARY KEY (site, ticket_id)
    );
    CREATE INDEX tickets_day ON tickets (day, site);
    CREATE TABLE ratings (
        site text NOT NULL,
        event_id bigint NOT NULL,
        rating_id text NOT NULL,
        ticket_id text,
        counter integer,
        level text NOT NULL,
        counted boolean NOT NULL,
        reason text,
        field text,
        wait_s double precision,
        service_s double precision,
        at double precision NOT NULL,
        PRIMARY KEY (site, event_id)
    );
    CREATE INDEX ratings_ticket ON ratings (site, ticket_id);
    CREATE INDEX ratings_at ON ratings (at);
    CREATE TABLE sites (
        site text PRIMARY KEY,
        commune text NOT NULL,
        centre text NOT NULL,
        province text NOT NULL DEFAULT '',
        timezone text NOT NULL,
        info jsonb NOT NULL,
        updated_at double precision NOT NULL
    );
    CREATE TABLE rejects (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        payload bytea NOT NULL,
        reason text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    """,
    # 2: a rating's source and reasons (issue 19: a phone rating's reasons
    # are what its follow-up case is about); follow-up cases.  Ratings
    # stored before keep theirs: the raw events hold them.
    """
    ALTER TABLE ratings ADD COLUMN source text, ADD COLUMN reasons jsonb;
    UPDATE ratings r SET source = e.payload->>'source',
           reasons = CASE WHEN jsonb_typeof(e.payload->'reasons') = 'array' THEN e.payload->'reasons' END
    FROM events e WHERE e.site = r.site AND e.event_id = r.event_id;
    CREATE TABLE case_events (
        site text NOT NULL,
        event_id text NOT NULL,
        case_id bigint NOT NULL,
        change text NOT NULL,
        at double precision NOT NULL,
        payload jsonb NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (site, event_id)
    );
    CREATE TABLE cases (
        site text NOT NULL,
        case_id bigint NOT NULL,
        ticket_id text,
        day date NOT NULL,
        field text,
        counter integer,
        official text,
        level text,
        source text,
        reasons jsonb,
        opened_at double precision NOT NULL,
        due_at double precision NOT NULL,
        status text NOT NULL,
        closed_at double precision,
        on_time boolean,
        last_event_id text NOT NULL,
        PRIMARY KEY (site, case_id)
    );
    CREATE INDEX cases_day ON cases (day, site);
    CREATE INDEX cases_ticket ON cases (site, ticket_id);
    """,
]


class SchemaError(Exception):
    pass


def migrate(conn: Any) -> int:
    """Bring the database up to date; returns the schema version.

    ``conn`` is a psycopg connection.  A lock keeps two aggregators that
    start together from applying the same migration twice.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7410)")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version VALUES (0)")
            version = 0
        else:
            version = row[0]
        if version > len(MIGRATIONS):
            raise SchemaError(f"the database has schema {version}, newer than this program "
                              f"({len(MIGRATIONS)}); upgrade phucvu")
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(sql)
            conn.execute("UPDATE schema_version SET version = %s", (number,))
            version = number
    return version
