"""``phucvu aggregate``: every site's events from the provincial broker into PostgreSQL.

Threads, and why:
- paho's network thread parses what arrives (pure) and queues it (``inbox``);
- the service thread (``run``) takes a batch (up to ``batch_size``
  messages, or what arrived within ``batch_wait_s`` of the first), writes it
  in ONE PostgreSQL transaction, and only after the commit acknowledges
  each message to the broker (paho ``manual_ack``).

So a crash between receiving and committing loses nothing: the broker holds
every unacknowledged message in this client's persistent session (fixed
client id, clean session off) and sends it again on reconnect, where the
``(site, event_id)`` key turns it into a no-op.  Messages that arrive while
the aggregator is down wait in that session too.
"""
from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kiosk.province import cases as case_sink
from kiosk.province import events as ev
from kiosk.province.config import ProvinceConfig
from kiosk.province.schema import migrate

log = logging.getLogger("phucvu.aggregate")

_STATE_OF = """CASE (array_agg(kind ORDER BY event_id DESC) FILTER (WHERE kind <> 'ticket_recalled'))[1]
        WHEN 'ticket_issued' THEN 'waiting' WHEN 'ticket_called' THEN 'called'
        WHEN 'ticket_finished' THEN 'finished' WHEN 'ticket_no_show' THEN 'no_show'
        WHEN 'ticket_transferred' THEN 'transferred' END"""

# The tickets each day's close of the batch expired.  Should two closes
# name one ticket, the first (lowest event id) stands, whatever the order
# they arrive in.
_PROJECT_EXPIRIES = """
INSERT INTO expiries (site, ticket_id, event_id, at)
SELECT DISTINCT ON (e.site, x.ticket_id) e.site, x.ticket_id, e.event_id, e.at
FROM events e JOIN (SELECT DISTINCT site, event_id FROM batch WHERE kind = 'day_closed') b
     USING (site, event_id)
     CROSS JOIN LATERAL jsonb_array_elements_text(e.payload->'expired') AS x(ticket_id)
WHERE e.kind = 'day_closed'
ORDER BY e.site, x.ticket_id, e.event_id
ON CONFLICT (site, ticket_id) DO UPDATE SET event_id = EXCLUDED.event_id, at = EXCLUDED.at
WHERE expiries.event_id > EXCLUDED.event_id
"""

# A ticket's row is a fold of ALL its stored events in event-id order, not
# an update by the newest arrival: events that arrive late or twice give
# the same row.  A ticket its day's close expired is no_show then, as in
# the centre's own tickets table, whichever came first, its events or the
# close.
_EXPIRED = "(SELECT x.at FROM expiries x WHERE x.site = events.site AND x.ticket_id = events.ticket_id)"
_PROJECT_TICKETS = f"""
INSERT INTO tickets (site, ticket_id, day, origin_field, field, priority, state, issued_at,
                     first_called_at, last_called_at, finished_at, transfers, last_event_id,
                     expired_at)
SELECT site, ticket_id,
       (max(payload->>'day') FILTER (WHERE kind = 'ticket_issued'))::date,
       max(payload->>'field') FILTER (WHERE kind = 'ticket_issued'),
       COALESCE((array_agg(payload->>'to_field' ORDER BY event_id DESC)
                 FILTER (WHERE kind = 'ticket_transferred' AND payload->>'to_field' IS NOT NULL))[1],
                max(payload->>'field') FILTER (WHERE kind = 'ticket_issued')),
       max(payload->>'priority') FILTER (WHERE kind = 'ticket_issued'),
       CASE WHEN {_EXPIRED} IS NOT NULL THEN 'no_show' ELSE {_STATE_OF} END,
       min(at) FILTER (WHERE kind = 'ticket_issued'),
       min(at) FILTER (WHERE kind = 'ticket_called'),
       (array_agg(at ORDER BY event_id DESC) FILTER (WHERE kind = 'ticket_called'))[1],
       (array_agg(at ORDER BY event_id DESC) FILTER (WHERE kind IN ('ticket_finished', 'ticket_no_show')))[1],
       count(*) FILTER (WHERE kind = 'ticket_transferred'),
       max(event_id),
       {_EXPIRED}
FROM events
WHERE (site, ticket_id) IN (SELECT site, ticket_id FROM batch WHERE kind LIKE 'ticket%'
                            UNION SELECT x.site, x.ticket_id FROM expiries x JOIN batch b
                                  ON b.site = x.site AND b.event_id = x.event_id
                            WHERE b.kind = 'day_closed')
  AND kind LIKE 'ticket%'
GROUP BY site, ticket_id
ON CONFLICT (site, ticket_id) DO UPDATE SET
    day = EXCLUDED.day, origin_field = EXCLUDED.origin_field, field = EXCLUDED.field,
    priority = EXCLUDED.priority, state = EXCLUDED.state, issued_at = EXCLUDED.issued_at,
    first_called_at = EXCLUDED.first_called_at, last_called_at = EXCLUDED.last_called_at,
    finished_at = EXCLUDED.finished_at, transfers = EXCLUDED.transfers,
    last_event_id = EXCLUDED.last_event_id, expired_at = EXCLUDED.expired_at
"""

_PROJECT_RATINGS = """
INSERT INTO ratings (site, event_id, rating_id, ticket_id, counter, level, counted, reason, field,
                     wait_s, service_s, at, source, reasons)
SELECT e.site, e.event_id, e.payload->>'rating_id', e.ticket_id, (e.payload->>'counter')::int,
       e.payload->>'level', (e.payload->>'counted')::boolean, e.payload->>'reason',
       e.payload->>'field', (e.payload->>'wait_s')::float8, (e.payload->>'service_s')::float8, e.at,
       e.payload->>'source',
       CASE WHEN jsonb_typeof(e.payload->'reasons') = 'array' THEN e.payload->'reasons' END
FROM events e JOIN (SELECT DISTINCT site, event_id FROM batch WHERE kind = 'rating_pressed') b
     USING (site, event_id)
ON CONFLICT DO NOTHING
"""

# Run only when some rows of the batch were already stored (redeliveries,
# replays, reused ids).  LATERAL ... LIMIT 1 keeps it to one primary-key
# lookup per batch row: a plain join would hash the whole events table.
# Rows this transaction inserted carry its xid and need no comparison.
_CONFLICTS = """
INSERT INTO rejects (topic, payload, reason)
SELECT b.topic, convert_to(b.raw, 'UTF8'),
       'event_id ' || b.event_id || ' of site ' || b.site || ' is already stored with different content'
FROM batch b CROSS JOIN LATERAL (
    SELECT e.payload, e.xmin FROM events e
    WHERE e.site = b.site AND e.event_id = b.event_id LIMIT 1) AS e
WHERE e.xmin::text::bigint <> txid_current() % 4294967296 AND e.payload <> b.raw::jsonb
"""


@dataclass
class Written:
    stored: int = 0          # new events
    duplicates: int = 0      # redeliveries and replays: already stored, same content
    conflicts: int = 0       # same (site, event_id), different content: kept in rejects
    rejects: int = 0         # malformed: kept in rejects
    infos: int = 0

    def add(self, other: "Written") -> None:
        for k in ("stored", "duplicates", "conflicts", "rejects", "infos"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


class Sink:
    """The PostgreSQL side: one connection, one transaction per batch."""

    def __init__(self, conninfo: str):
        import psycopg
        self.conninfo = conninfo
        self.conn = psycopg.connect(conninfo, autocommit=False)
        self.conn.autocommit = True
        self.version = migrate(self.conn)
        self.conn.autocommit = False
        with self.conn.transaction():
            self.conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS batch (topic text, site text, event_id bigint, kind text, "
                "at double precision, ticket_id text, raw text) ON COMMIT DELETE ROWS")

    def close(self) -> None:
        self.conn.close()

    def write(self, items: list[ev.Event | ev.CaseEvent | ev.SiteInfo | ev.Reject],
              topics: list[str]) -> Written:
        """Store one batch in one transaction; raises if the database fails."""
        out = Written()
        events = [(t, i) for t, i in zip(topics, items) if isinstance(i, ev.Event)]
        cases = [(t, i) for t, i in zip(topics, items) if isinstance(i, ev.CaseEvent)]
        infos = [i for i in items if isinstance(i, ev.SiteInfo)]
        rejects = [i for i in items if isinstance(i, ev.Reject)]
        # When each step of the last batch ended, for the DEBUG log.
        self.marks = marks = [("", time.monotonic())]
        with self.conn.transaction():
            cur = self.conn.cursor()
            if events:
                with cur.copy("COPY batch (topic, site, event_id, kind, at, ticket_id, raw) FROM STDIN") as cp:
                    for topic, e in events:
                        cp.write_row((topic, e.site, e.event_id, e.kind, e.at, e.ticket_id, e.payload))
                marks.append(("copy", time.monotonic()))
                # DO NOTHING also skips a key repeated inside the batch.
                cur.execute("INSERT INTO events (site, event_id, kind, at, ticket_id, payload) "
                            "SELECT site, event_id, kind, at, ticket_id, raw::jsonb FROM batch "
                            "ON CONFLICT DO NOTHING")
                out.stored = cur.rowcount
                if out.stored < len(events):
                    cur.execute(_CONFLICTS)
                    out.conflicts = cur.rowcount
                out.duplicates = len(events) - out.stored - out.conflicts
                marks.append(("insert", time.monotonic()))
                cur.execute(_PROJECT_EXPIRIES)
                cur.execute(_PROJECT_TICKETS)
                marks.append(("tickets", time.monotonic()))
                cur.execute(_PROJECT_RATINGS)
                marks.append(("ratings", time.monotonic()))
            if cases:
                stored, duplicates, conflicts = case_sink.write(cur, cases)
                out.stored += stored
                out.duplicates += duplicates
                out.conflicts += len(conflicts)
                if conflicts:
                    cur.executemany("INSERT INTO rejects (topic, payload, reason) VALUES (%s, %s, %s)",
                                    conflicts)
            for info in infos:
                # A late, older site/info never overwrites a newer one.
                cur.execute(
                    "INSERT INTO sites (site, commune, centre, province, timezone, info, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s) ON CONFLICT (site) DO UPDATE SET "
                    "commune = EXCLUDED.commune, centre = EXCLUDED.centre, province = EXCLUDED.province, "
                    "timezone = EXCLUDED.timezone, info = EXCLUDED.info, updated_at = EXCLUDED.updated_at "
                    "WHERE sites.updated_at <= EXCLUDED.updated_at",
                    (info.site, info.commune, info.centre, info.province, info.timezone, info.payload,
                     info.updated_at))
            out.infos = len(infos)
            if rejects:
                cur.executemany("INSERT INTO rejects (topic, payload, reason) VALUES (%s, %s, %s)",
                                [(r.topic, r.payload, r.reason) for r in rejects])
                out.rejects = len(rejects)
        marks.append(("commit", time.monotonic()))
        return out


class _Stopped(Exception):
    pass


@dataclass
class Stats:
    received: int = 0
    written: Written = field(default_factory=Written)
    batches: int = 0


class Aggregator:
    """The bus side and the loop; ``run()`` returns after ``stop()``."""

    def __init__(self, config: ProvinceConfig, password: str,
                 sink_factory: Callable[[str], Sink] = Sink):
        import paho.mqtt.client as mqtt
        from kiosk.contract import no_delay
        from kiosk.province.link import BatchClient
        self.config = config
        self.sink_factory = sink_factory
        self.sink: Sink | None = None
        # Bounded (three batches: the next ready while one is written): when
        # PostgreSQL falls behind, paho's thread waits here, stops reading the
        # socket and the backlog stays on the broker (in the persistent
        # session), not in this process.  The broker's max_inflight_messages
        # alone did not bound it: 13,000 unacked were seen here under overload.
        self.inbox: queue.Queue = queue.Queue(maxsize=max(3 * config.database.batch_size, 10_000))
        self.stats = Stats()
        self.connected = threading.Event()
        self._stop = threading.Event()
        # Called at least once a second, also while retrying a database that
        # is away: the service is alive then, and its watchdog must say so.
        self._idle: Callable[[], None] = lambda: None
        b = config.broker
        self.client = BatchClient(mqtt.CallbackAPIVersion.VERSION2, client_id=b.client_id,
                                  protocol=mqtt.MQTTv311, clean_session=False, manual_ack=True)
        self.client.username_pw_set(b.username, password)
        if b.cafile:
            self.client.tls_set(ca_certs=b.cafile, certfile=b.certfile or None,
                                keyfile=b.keyfile or None, cert_reqs=ssl.CERT_REQUIRED)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_socket_open = no_delay
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish_raw = self._on_publish_raw

    # ---------------------------------------------------------------- paho
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any = None) -> None:
        if reason_code.is_failure:
            log.error("provincial broker refused the aggregator: %s", reason_code)
            return
        client.subscribe([(t, 1) for t in ev.SUBSCRIPTIONS])
        log.info("connected to %s:%s as %s (session %s)", self.config.broker.host,
                 self.config.broker.port, self.config.broker.client_id,
                 "resumed" if flags.session_present else "new")
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any = None) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from the provincial broker (%s); reconnecting", reason_code)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._on_publish_raw(msg.topic, msg.payload, msg.mid, msg.qos)

    def _on_publish_raw(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        # Parsed here, overlapping the service thread's wait on PostgreSQL
        # (15-20 ms per 1,000 events in series with each write at 12,000/s).
        # Bad input is a Reject; nothing raised may stop paho's thread.
        try:
            item = ev.parse(topic, payload)
        except Exception as e:
            item = ev.Reject(topic, payload, f"could not be parsed: {e!r}")
        self.inbox.put((topic, item, mid, qos))

    # ------------------------------------------------------------ lifecycle
    def open_sink(self) -> None:
        """Connect to PostgreSQL (and migrate), retrying until it answers or stop()."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.sink = self.sink_factory(self.config.database.conninfo)
                log.info("PostgreSQL schema version %s", self.sink.version)
                return
            except Exception as e:
                # psycopg.OperationalError and friends: the database is not up yet.
                log.error("cannot use PostgreSQL (%s); retrying in %.1f s", str(e).strip(), delay)
                self._pause(delay)
                delay = min(delay * 2, 10)

    def start(self) -> None:
        self.open_sink()
        b = self.config.broker
        self.client.connect_async(b.host, b.port, b.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        if self.sink is not None:
            self.sink.close()

    def run(self, on_idle: Callable[[], None] = lambda: None) -> None:
        """Take batches, commit them, then ack them; ``on_idle`` runs at least once a second."""
        cfg = self.config.database
        self._idle = on_idle
        last_log = time.monotonic()
        while not self._stop.is_set():
            on_idle()
            try:
                first = self.inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + cfg.batch_wait_s
            while len(batch) < cfg.batch_size:
                try:
                    batch.append(self.inbox.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except _Stopped:
                return
            if time.monotonic() - last_log >= 60:
                w = self.stats.written
                log.info("%d received: %d events stored, %d duplicates, %d conflicts, %d rejects",
                         self.stats.received, w.stored, w.duplicates, w.conflicts, w.rejects)
                last_log = time.monotonic()

    def _commit(self, batch: list[tuple[str, Any, int, int]]) -> None:
        items = [item for _, item, _, _ in batch]
        topics = [topic for topic, _, _, _ in batch]
        for item in items:
            if isinstance(item, ev.Reject):
                log.warning("rejected message on %s: %s (kept in rejects)", item.topic, item.reason)
        started = time.monotonic()
        written = self._write(items, topics)
        if log.isEnabledFor(logging.DEBUG):
            marks = getattr(self.sink, "marks", [])
            log.debug("batch of %d written in %.1f ms (%s) (%d waiting)", len(batch),
                      (time.monotonic() - started) * 1000, ", ".join(
                          f"{k} {(t - t0) * 1000:.1f}" for (_, t0), (k, t) in zip(marks, marks[1:])),
                      self.inbox.qsize())
        # Only now, with the batch committed, may the broker forget it.
        self.client.ack_many(mid for _, _, mid, qos in batch if qos > 0)
        s = self.stats
        s.received += len(batch)
        s.batches += 1
        s.written.add(written)
        if written.conflicts:
            log.warning("%d events reuse a stored (site, event_id) with other content "
                        "(a site database restored or replaced?); kept in rejects", written.conflicts)

    def _write(self, items: list, topics: list[str]) -> Written:
        """Write a batch; on a database failure reconnect and try again, never drop it."""
        import psycopg
        delay = 0.5
        while True:
            if self.sink is None:
                # stop() while the database was away: leave the batch
                # unacknowledged on the broker for the next start.
                raise _Stopped()
            try:
                return self.sink.write(items, topics)
            except psycopg.OperationalError as e:
                log.error("PostgreSQL failed (%s); retrying the batch in %.1f s", str(e).strip(), delay)
            except psycopg.Error as e:
                # Data the checks in events.py let through but the database
                # refuses: store the batch one message at a time, so only the
                # bad message becomes a reject.
                log.error("PostgreSQL refused a batch of %d (%s); storing one by one",
                          len(items), str(e).strip())
                return self._write_singly(items, topics)
            self._pause(delay)
            delay = min(delay * 2, 10)
            try:
                if self.sink is not None:
                    self.sink.close()
            except Exception:
                pass
            self.sink = None
            self.open_sink()

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._idle()
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def _write_singly(self, items: list, topics: list[str]) -> Written:
        import psycopg
        total = Written()
        for item, topic in zip(items, topics):
            try:
                assert self.sink is not None
                w = self.sink.write([item], [topic])
            except psycopg.OperationalError:
                raise
            except psycopg.Error as e:
                raw = item.payload.encode() if isinstance(item.payload, str) else item.payload
                w = self.sink.write([ev.Reject(topic, raw, f"database refused it: {str(e).strip()}")],
                                    [topic])
                log.warning("rejected message on %s: database refused it (%s)", topic, str(e).strip())
            total.add(w)
        return total


def main(config: ProvinceConfig, password: str) -> None:
    """What ``phucvu aggregate`` runs: until SIGTERM/SIGINT."""
    import signal
    from kiosk.sdnotify import Notifier
    notifier = Notifier()
    agg = Aggregator(config, password)
    signal.signal(signal.SIGTERM, lambda *_: agg.stop())
    signal.signal(signal.SIGINT, lambda *_: agg.stop())
    agg.start()
    ready = False

    def idle() -> None:
        nonlocal ready
        if not ready and agg.connected.is_set():
            ready = True
            log.info("aggregator ready")
            notifier.ready("storing events")
        notifier.watchdog()

    try:
        agg.run(on_idle=idle)
    finally:
        notifier.stopping()
        agg.close()
        notifier.close()
