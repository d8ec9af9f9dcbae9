"""Many centres into one provincial database: events per second and lag.

Starts its own provincial Mosquitto (kiosk.province.central) and PostgreSQL
(kiosk.province.devdb), runs ``phucvu aggregate`` as a process, and
publisher processes simulating SITES centres, each with its own login,
``phucvu/<site>/`` prefix and event ids, publishing a busy day (TICKETS
tickets per centre: issued, called, finished, rated = 4 events each) at a
steady total RATE.  Each payload's ``at`` is its publish time; the lag of an
event is the row's ``stored_at`` (clock_timestamp() inside the batch's
transaction, which commits right after) minus ``at``.

    .venv/bin/python bench/aggregate.py [--sites 200] [--tickets 300] [--rate 3000]

Prints aggregate_events_per_s (events stored / time from the first publish
to the last store), aggregate_lag_p50_ms, aggregate_lag_p99_ms,
aggregate_events_total.  Exits non-zero if it could not measure (an event
missing or doubled, the aggregator dead, nothing stored).
Targets (docs/multi-site.md): >= 2,000 events/s; lag p99 <= 1 s.
BENCH_AGG_LOG=DEBUG makes the aggregator log each batch (size, write time,
backlog) in the working folder the script names on stderr, and keeps that
folder; otherwise a successful run removes it.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, emit

from kiosk.province.central import CentralBroker
from kiosk.province.devdb import TempPostgres, wait_for

PUBLISHERS = 4


def site_name(i: int) -> str:
    return f"xa-{i:03d}"


def day_of(site: str, tickets: int) -> list[tuple[str, dict]]:
    """One centre's busy day as (topic leaf, payload without 'at')."""
    out: list[tuple[str, dict]] = []
    eid = 0

    def add(leaf: str, **body) -> None:
        nonlocal eid
        eid += 1
        out.append((leaf, {"site": site, "event_id": eid, **body}))
    for n in range(1, tickets + 1):
        tid = f"20261127-A{n:03d}"
        add("event/ticket", kind="ticket_issued", ticket_id=tid, day="2026-11-27", field="tu-phap",
            number=n, label=f"A{n:03d}", priority=None, seq=n)
        add("event/ticket", kind="ticket_called", ticket_id=tid, counter=1 + n % 4, call_seq=n,
            call_id=f"2026-11-27-{n}", specific=False)
        add("event/ticket", kind="ticket_finished", ticket_id=tid, counter=1 + n % 4, window_until=0.0)
        add("event/rating", kind="rating_pressed", rating_id=f"box:{n}", counter=1 + n % 4,
            level_index=1 + n % 3, level=("rat-hai-long", "hai-long", "khong-hai-long")[n % 3],
            ticket_id=tid, counted=True, reason=None, official="nv01", field="tu-phap",
            wait_s=300.0, service_s=420.0, source="box", device_time_ms=n, received_at=None)
    return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _varint(len(body)) + body


def _str(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


class RawPublisher:
    """MQTT 3.1.1 QoS 1 PUBLISH packets written straight to the socket.

    The load generator must cost little CPU next to what it measures: paho
    spends a few hundred microseconds of Python per publish across its two
    threads; this spends a few, in ONE thread (a reader thread woken by
    every PUBACK cost as much again in switches).  The broker is the real
    one and answers every PUBLISH with a PUBACK, read while waiting for the
    next publish's time.
    """

    def __init__(self, port: int, client_id: str, username: str, password: str):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        flags = 0x80 | 0x40 | 0x02        # username, password, clean session
        body = (_str("MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + _str(client_id)
                + _str(username) + _str(password))
        self.sock.sendall(_packet(0x10, body))
        connack = self.sock.recv(4)
        if len(connack) != 4 or connack[0] != 0x20 or connack[3] != 0:
            raise RuntimeError(f"broker refused {username}: {connack!r}")
        self.sent = 0
        self.acked = 0
        self._partial = 0

    def read_acks(self, timeout: float = 0.0) -> None:
        """Count the PUBACKs that arrived, waiting up to ``timeout`` for some."""
        if timeout > 0:
            select.select([self.sock], [], [], timeout)
        while True:
            try:
                data = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            if not data:
                raise RuntimeError("the broker closed the connection")
            n = self._partial + len(data)   # PUBACK is always 4 bytes: 40 02 id id
            self.acked += n // 4
            self._partial = n % 4

    def publish(self, topic: bytes, payload: bytes) -> None:
        """``topic`` already length-prefixed (``_str``)."""
        self.sent += 1
        mid = (self.sent - 1) % 65535 + 1
        body = topic + mid.to_bytes(2, "big") + payload
        self.sock.sendall(b"\x32" + _varint(len(body)) + body)

    def close(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            self.read_acks(0.05)
        if self.acked < self.sent:
            raise RuntimeError(f"only {self.acked} of {self.sent} publishes acknowledged")
        self.sock.sendall(bytes([0xE0, 0]))
        self.sock.close()


def publisher(index: int, sites: list[str], central_dir: str, port: int, tickets: int, rate: float,
              start: mp.Event, ready: mp.Queue, slips: mp.Queue) -> None:
    """Publish the days of ``sites`` round-robin, paced to ``rate`` events/s.

    One connection per publisher process, as a relay login (a site login
    may write only its own prefix); each site keeps its own prefix and
    event ids.  Each payload is encoded beforehand up to its ``at``, which
    is the time of its write.  How late each write was against its planned
    time goes to ``slips``: a lag the aggregator never saw, and a sign that
    the machine could not offer the rate.
    """
    relay = f"relay-{index}"
    pw = (Path(central_dir) / "secrets" / f"{relay}.password").read_text().strip()
    client = RawPublisher(port, f"bench-{relay}", relay, pw)
    days = [[(_str(f"phucvu/{site}/{leaf}"), json.dumps(body)[:-1].encode() + b', "at": ')
             for leaf, body in day_of(site, tickets)] for site in sites]
    order = [days[ci][k] for k in range(len(days[0])) for ci in range(len(sites))]
    slip = [0.0] * len(order)
    ready.put(len(sites))
    start.wait()
    t0 = time.monotonic()
    for n, (topic, head) in enumerate(order):
        planned = t0 + n / rate
        if n % 256 == 0:
            client.read_acks()   # also when behind: keep the PUBACKs from piling up
        while (delay := planned - time.monotonic()) > 0.001:
            client.read_acks(delay)   # returns early when PUBACKs arrive
        slip[n] = time.monotonic() - planned
        client.publish(topic, head + repr(time.time()).encode() + b"}")
    client.close()
    slip.sort()
    slips.put((slip[len(slip) // 2], slip[len(slip) * 99 // 100], slip[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--tickets", type=int, default=300, help="tickets per centre (4 events each)")
    ap.add_argument("--rate", type=float, default=3000, help="events per second, all centres together")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="the aggregator's database.batch_size (default: its own default)")
    args = ap.parse_args()
    import psycopg
    sites = [site_name(i) for i in range(args.sites)]
    total = args.sites * args.tickets * 4
    tmp = Path(tempfile.mkdtemp(prefix="phucvu-bench-agg-"))
    print(f"working in {tmp}", file=sys.stderr)
    pg = TempPostgres().start()
    central = CentralBroker(tmp / "central", sites,
                            relays=[f"relay-{i}" for i in range(PUBLISHERS)]).start()
    agg_log = tmp / "aggregate.log"
    (tmp / "province.toml").write_text(
        f'[broker]\nhost = "127.0.0.1"\nport = {central.port}\n'
        f'password_file = "{central.password_file("aggregator")}"\nclient_id = "bench-aggregate"\n'
        f'[database]\nconninfo = "{pg.conninfo}"\n'
        + (f"batch_size = {args.batch_size}\n" if args.batch_size else ""))
    agg = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "aggregate", "--province-config",
                            str(tmp / "province.toml"), "--log-level", os.environ.get("BENCH_AGG_LOG", "WARNING")],
                           stdout=open(agg_log, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)
    procs: list[mp.Process] = []
    try:
        conn = psycopg.connect(pg.conninfo, autocommit=True)
        if not wait_for(lambda: conn.execute("SELECT to_regclass('public.events')").fetchone()[0]
                        is not None or agg.poll() is not None, 30) or agg.poll() is not None:
            print(f"aggregator did not start: {agg_log.read_text()[-2000:]}", file=sys.stderr)
            return 1
        time.sleep(1.0)  # its subscription is in place once the tables exist and it connected
        start, ready, slips = mp.Event(), mp.Queue(), mp.Queue()
        share = args.rate / PUBLISHERS
        for p in range(PUBLISHERS):
            mine = sites[p::PUBLISHERS]
            proc = mp.Process(target=publisher, args=(p, mine, str(central.dir), central.port,
                                                      args.tickets, share, start, ready, slips))
            proc.start()
            procs.append(proc)
        for _ in procs:
            ready.get(timeout=120)
        start.set()
        count = lambda: conn.execute("SELECT count(*) FROM events").fetchone()[0]  # noqa: E731
        # Counting the rows scans the growing table: twice a second it cost
        # PostgreSQL CPU the aggregator then lacked.  So only the
        # aggregator's life is watched until the publishers are done.
        slip = []
        while len(slip) < len(procs):
            try:
                slip.append(slips.get(timeout=0.5))
            except queue.Empty:
                if agg.poll() is not None or not any(p.is_alive() for p in procs):
                    print(f"aggregator or publishers died; log: {agg_log}", file=sys.stderr)
                    return 1
        last, last_change = -1, time.monotonic()
        while True:
            n = count()
            if n >= total:
                break
            if n != last:
                last, last_change = n, time.monotonic()
            if time.monotonic() - last_change > 30 or agg.poll() is not None:
                print(f"stalled at {n} of {total} events; log: {agg_log}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        for proc in procs:
            proc.join(60)
        time.sleep(1.0)
        n = count()
        distinct = conn.execute("SELECT count(DISTINCT (site, event_id)) FROM events").fetchone()[0]
        rejects = conn.execute("SELECT count(*) FROM rejects").fetchone()[0]
        if n != total or distinct != total or rejects:
            print(f"wrong: {n} rows, {distinct} distinct, {rejects} rejects, {total} published",
                  file=sys.stderr)
            return 1
        first_at, last_stored, p50, p99 = conn.execute(
            "SELECT min(at), extract(epoch FROM max(stored_at)), "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at) - at), "
            "percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at) - at) "
            "FROM events").fetchone()
        tickets = conn.execute("SELECT count(*) FROM tickets WHERE state = 'finished'").fetchone()[0]
        if tickets != args.sites * args.tickets:
            print(f"projection wrong: {tickets} finished tickets", file=sys.stderr)
            return 1
        conn.close()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        if agg.poll() is None:
            agg.terminate()
            agg.wait(20)
        central.stop()
        pg.stop()
    if "BENCH_AGG_LOG" not in os.environ:
        shutil.rmtree(tmp, ignore_errors=True)
    emit({"aggregate_sites": args.sites,
          "aggregate_events_total": total,
          "aggregate_events_per_s": total / (float(last_stored) - first_at),
          "aggregate_lag_p50_ms": float(p50) * 1000,
          "aggregate_lag_p99_ms": float(p99) * 1000,
          # The worst publisher's: behind its plan at the median, p99 and worst write.
          "publish_slip_p50_ms": max(x[0] for x in slip) * 1000,
          "publish_slip_p99_ms": max(x[1] for x in slip) * 1000,
          "publish_slip_max_ms": max(x[2] for x in slip) * 1000})
    return 0


if __name__ == "__main__":
    sys.exit(main())
