"""The centre's side of the uplink: republish journaled events (``phucvu replay-events``).

The bridge's queue on the centre's broker is the normal path.  When it lost
something (a power cut during an outage loses what Mosquitto queued since
its last autosave; a queue that overflowed ``max_queued_messages``), the
SQLite journal still holds every event.  This reads a range of it
read-only and publishes each ticket and rating event and each day's close again, byte for byte
the content the core published (same ``event_id``), and each follow-up case
change (``event/case``, rebuilt from the cases table and the case log with
``views.case_event``, as the core builds it), on the same topics, as
the ``cli`` login (never the core's: the broker takes the login as client
id, so the core's own would knock the running core off the bus).  The bridge carries them up and the aggregator's
``(site, event_id)`` key makes everything already stored a no-op.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.core.domain import public_event
from kiosk.core.views import case_event
from kiosk.core.read import ReadError, Reader


class ReplayError(Exception):
    pass


def journal_events(config: SiteConfig, db_path: str | Path, since: dt.date | None = None,
                   from_id: int = 1) -> list[tuple[str, dict]]:
    """(topic, payload) for every ticket and rating event and day's close
    from ``from_id`` / local day ``since``."""
    topics = contract.Topics(config.topic_prefix)
    after = 0.0
    if since is not None:
        after = dt.datetime.combine(since, dt.time(0), tzinfo=config.tz).timestamp()
    try:
        with Reader(db_path) as reader:
            rows = reader.ticket_and_rating_events(from_id, after)
            for _, kind, e in rows:
                # A close journaled before it listed its tickets was never
                # published: it goes up with the list the tickets table keeps.
                if kind == "day_closed" and "expired" not in e:
                    e["expired"] = reader.expired_tickets(e["day"])
    except ReadError as e:
        raise ReplayError(str(e)) from None
    out = []
    for event_id, kind, e in rows:
        # What CoreService._after published: the site id, the event with its
        # journal id, without the core's local clock readings.
        body = {"site": config.site.id, **public_event(e), "event_id": event_id}
        if kind == "rating_pressed":
            out.append((topics.rating_event, body))
        else:
            out.append((topics.ticket_event, body))
    return out


def journal_cases(config: SiteConfig, db_path: str | Path,
                  since: dt.date | None = None) -> list[tuple[str, dict]]:
    """(topic, payload) for every change of every follow-up case of the
    service days from ``since`` (all without it): opened at its rating's
    time, then each change in its log.  Cases have no journal id of their
    own: ``--from-id`` alone replays them all, which the province's
    ``(site, event_id)`` key makes harmless (a few a day per centre)."""
    topic = contract.Topics(config.topic_prefix).case_event
    try:
        with Reader(db_path) as reader:
            # A file from before schema 9 has no cases: nothing to replay.
            if not reader.has_cases():
                return []
            cases = reader.cases(day_from=since.isoformat() if since else None)
            logs = {c.id: reader.case_log(c.id) for c in cases}
    except ReadError as e:
        raise ReplayError(str(e)) from None
    out = []
    for c in sorted(cases, key=lambda c: c.id):
        case = c.public()
        out.append((topic, case_event(case, "opened", case["opened_at"])))
        out += [(topic, case_event(case, entry["status"], entry["at"])) for entry in logs[c.id]]
    return out


def replay(config: SiteConfig, db_path: str | Path, *, host: str, port: int, username: str,
           password: str, since: dt.date | None = None, from_id: int = 1,
           timeout: float = 60.0) -> tuple[int, int]:
    """Publish the range (QoS 1) and wait for the broker to take all of it;
    returns (ticket and rating events, case changes)."""
    events = journal_events(config, db_path, since, from_id)
    cases = journal_cases(config, db_path, since)
    client = contract.mqtt_client(f"phucvu-{config.site.id}-replay-{os.getpid()}", username=username,
                                  password=password, prefix=config.topic_prefix)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: connected.set() if not rc.is_failure else None
    client.connect_async(host, port, 30)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise ReplayError(f"cannot connect to the broker at {host}:{port} as {username}")
        infos = [client.publish(topic, contract.encode(body), qos=1) for topic, body in events + cases]
        for info in infos:
            try:
                info.wait_for_publish(timeout)
                published = info.is_published()
            except (RuntimeError, ValueError):
                published = False       # the connection went while publishing
            if not published:
                raise ReplayError(f"the broker did not take event {info.mid} within {timeout} s")
    finally:
        client.loop_stop()
        client.disconnect()
    return len(events), len(cases)
