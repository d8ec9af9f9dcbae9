"""Many centres: two site brokers bridged to a provincial Mosquitto, the
aggregator storing into a real PostgreSQL.

Everything is real: Debian's mosquitto (three of them), ``phucvu core`` at
each site on its own SQLite file, ``phucvu aggregate`` as a process, and a
PostgreSQL cluster started for the module.  The truth to compare with is
each site's journal: every ticket and rating event it committed must be in
PostgreSQL exactly once, after the uplink was cut and after the aggregator
was killed mid-stream.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import tomllib
import uuid
from pathlib import Path

import pytest
import tomli_w

from kiosk import config as site_config
from kiosk.broker import Broker, bridge_lines
from kiosk.province import config as province_config
from kiosk.province import events as ev
from kiosk.province.central import CentralBroker
from kiosk.province.devdb import TempPostgres, wait_for
from tests.conftest import DEMO_SITE, ROOT, Bus, stop_process

psycopg = pytest.importorskip("psycopg")

SITES = ("xa-an-binh", "xa-phu-my")


# ------------------------------------------------------------------ the rig
def site_toml(tmp: Path, site: str, central: CentralBroker) -> Path:
    data = tomllib.loads(DEMO_SITE.read_text())
    data["site"].update(id=site, commune=f"Xã {site}", centre=f"Trung tâm {site}")
    # Every press in these tests is a person, however fast the test presses.
    data.setdefault("rating", {})["min_press_interval_s"] = 0
    # Targets to find again in the site/info the province stores.
    data["targets"] = {"wait_min": 20, "fields": {"dat-dai": {"wait_min": 25, "service_min": 18}}}
    data["uplink"] = {"host": central.host, "port": central.port,
                      "password_file": str(central.password_file(site))}
    path = tmp / f"{site}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


class Site:
    def __init__(self, tmp: Path, name: str, central: CentralBroker):
        self.name = name
        self.config_path = site_toml(tmp, name, central)
        self.config = site_config.load(self.config_path)
        # tester-1: the test's own login (test-only superuser); the broker
        # takes the login as client id, so the core's login would cut the core off.
        self.broker = Broker(tmp / f"{name}-broker", self.config, superusers=["tester-1"]).start()
        self.db = tmp / f"{name}.db"
        self.log = tmp / f"{name}.core.log"
        try:
            self.core = self._start_core()
        except BaseException:
            self.broker.stop()
            raise
        self.bus = Bus(self.broker, "tester-1", self.config.topic_prefix)
        self.bus.subscribe("core/reply", "counter/+/reply")

    def _start_core(self) -> subprocess.Popen:
        logf = open(self.log, "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "core", "--config", str(self.config_path),
             "--db", str(self.db), "--mqtt-port", str(self.broker.port),
             "--mqtt-password-file", str(self.broker.password_file("core")), "--printer", "none"],
            stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT)
        logf.close()
        assert wait_for(lambda: b"core ready" in self.log.read_bytes() or proc.poll() is not None, 15)
        assert proc.poll() is None, self.log.read_text()
        return proc

    def request(self, rel: str, body: dict) -> dict:
        body = {"command_id": f"t-{uuid.uuid4().hex[:10]}", **body}
        self.bus.publish(rel, body)
        return self.bus.wait_for(lambda t, b: isinstance(b, dict) and b.get("command_id") == body["command_id"],
                                 timeout=10)

    def serve(self, tickets: int, counter: int = 1) -> None:
        """Issue tickets, call and finish each, rate each once (level 1 or 3)."""
        for _ in range(tickets):
            assert self.request("core/command", {"action": "issue", "field": "tu-phap"})["ok"]
        for i in range(tickets):
            assert self.request(f"counter/{counter}/command", {"action": "next"})["ok"]
            if i:
                self.bus.publish(f"counter/{counter}/rating",
                                 {"rating_id": f"{self.name}-{uuid.uuid4().hex[:8]}", "level": 1 + 2 * (i % 2)})
        assert self.request(f"counter/{counter}/command", {"action": "finish"})["ok"]
        self.bus.publish(f"counter/{counter}/rating",
                         {"rating_id": f"{self.name}-{uuid.uuid4().hex[:8]}", "level": 1})

    def journal_ids(self) -> set[int]:
        """What the site committed and published upstream: ticket and rating events."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return {r[0] for r in conn.execute(
                "SELECT id FROM journal WHERE kind LIKE 'ticket%' OR kind = 'rating_pressed'")}
        finally:
            conn.close()

    def counts(self) -> tuple[int, int]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return (conn.execute("SELECT count(*) FROM tickets WHERE state = 'finished'").fetchone()[0],
                    conn.execute("SELECT count(*) FROM ratings WHERE counted = 1").fetchone()[0])
        finally:
            conn.close()

    def close(self) -> None:
        self.bus.close()
        stop_process(self.core)
        self.broker.stop()


class AggregatorProcess:
    def __init__(self, tmp: Path, central: CentralBroker, conninfo: str):
        self.config = tmp / "province.toml"
        self.config.write_text(tomli_w.dumps({
            "province": {"name": "Tỉnh Thử"},
            "broker": {"host": central.host, "port": central.port, "username": "aggregator",
                       "password_file": str(central.password_file("aggregator")),
                       "client_id": "test-aggregate"},
            "database": {"conninfo": conninfo, "batch_wait_s": 0.02}}))
        self.log = tmp / "aggregate.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "AggregatorProcess":
        # Started as systemd would start phucvu-aggregate.service (Type=notify):
        # it is ready when it says READY=1 on NOTIFY_SOCKET.
        path = self.config.with_name(f"notify-{uuid.uuid4().hex[:6]}.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(20)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "aggregate",
                                      "--province-config", str(self.config)],
                                     stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env={**os.environ, "NOTIFY_SOCKET": str(path)})
        logf.close()
        try:
            message = sock.recv(1024).decode()
        except socket.timeout:
            message = ""
        finally:
            sock.close()
            path.unlink()
        assert "READY=1" in message and self.proc.poll() is None, self.log.read_text()
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@pytest.fixture(scope="module")
def pg():
    db = TempPostgres().start()
    yield db
    db.stop()


@pytest.fixture
def province(tmp_path, pg):
    conninfo = pg.create_database(f"t_{uuid.uuid4().hex[:12]}")
    central = CentralBroker(tmp_path / "central", list(SITES))
    agg = AggregatorProcess(tmp_path, central, conninfo)
    sites: list[Site] = []
    try:
        central.start()
        agg.start()
        for name in SITES:
            sites.append(Site(tmp_path, name, central))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield central, agg, sites, conn
    finally:
        for s in sites:
            s.close()
        agg.stop()
        central.stop()


def stored_ids(conn, site: str) -> list[int]:
    return [r[0] for r in conn.execute("SELECT event_id FROM events WHERE site = %s ORDER BY event_id",
                                       (site,))]


def assert_exactly_once(conn, sites: list[Site], timeout: float = 30) -> None:
    """Every journaled ticket/rating event of every site is stored, once."""
    def caught_up() -> bool:
        return all(set(stored_ids(conn, s.name)) == s.journal_ids() for s in sites)
    if not wait_for(caught_up, timeout, interval=0.2):
        for s in sites:
            got, want = set(stored_ids(conn, s.name)), s.journal_ids()
            pytest.fail(f"{s.name}: missing {sorted(want - got)[:20]} (of {len(want)}), "
                        f"unexpected {sorted(got - want)[:20]}")
    for s in sites:
        ids = stored_ids(conn, s.name)
        assert len(ids) == len(set(ids)) == len(s.journal_ids())


# ------------------------------------------------------------------- tests
def test_events_land_exactly_once_through_outages(province):
    central, agg, sites, conn = province
    a, b = sites
    a.serve(6)
    b.serve(5, counter=2)
    assert_exactly_once(conn, sites)
    # Both sites told the province who they are (retained site/info, bridged).
    assert wait_for(lambda: conn.execute("SELECT count(*) FROM sites").fetchone()[0] == 2, 10)
    assert conn.execute("SELECT centre FROM sites WHERE site = %s", (a.name,)).fetchone()[0] \
        == f"Trung tâm {a.name}"
    # With each field's targets, the site's fallbacks applied (wait 20 for
    # all but dat-dai's 25; service: dat-dai's 18, the others their
    # minutes_per_citizen), and each level's grade (the demo's levels set
    # none: the first of the two satisfied ones is rất hài lòng).
    info = conn.execute("SELECT info FROM sites WHERE site = %s", (a.name,)).fetchone()[0]
    assert info["targets"] == {"tu-phap": {"wait_min": 20.0, "service_min": 10.0},
                               "chung-thuc": {"wait_min": 20.0, "service_min": 5.0},
                               "dat-dai": {"wait_min": 25.0, "service_min": 18.0},
                               "van-hoa-xa-hoi": {"wait_min": 20.0, "service_min": 12.0},
                               "kinh-te": {"wait_min": 20.0, "service_min": 15.0}}
    assert info["grades"] == {"rat-hai-long": "rat-hai-long", "hai-long": "hai-long",
                              "khong-hai-long": "khong-hai-long"}

    # The uplink goes down; site A keeps serving citizens; it comes back.
    central.stop()
    a.serve(4)
    # The centre's own broker restarts during the outage (a power cut): the
    # bridge's queue is in its persistence file and survives.
    a.broker.restart()
    assert wait_for(a.bus.client.is_connected, 10)
    a.serve(4)
    assert len(stored_ids(conn, a.name)) < len(a.journal_ids())
    central.start()
    assert_exactly_once(conn, sites, timeout=60)

    # The aggregator is killed mid-stream (between receiving and committing,
    # or after committing but before acknowledging); restarted, it misses
    # nothing and stores nothing twice.
    before = len(stored_ids(conn, b.name))
    work = threading.Thread(target=b.serve, args=(12, 2))
    work.start()
    assert wait_for(lambda: len(stored_ids(conn, b.name)) > before + 10, 30)
    agg.kill()
    work.join(60)
    assert not work.is_alive()
    agg.start()
    assert_exactly_once(conn, sites)

    # What a queue lost (a power cut during an outage) comes back from the
    # centre's journal: everything is republished, the lost stretch is
    # stored, the rest is recognised as the very same events (no conflict).
    lost = conn.execute("DELETE FROM events WHERE site = %s AND event_id IN (SELECT event_id FROM events "
                        "WHERE site = %s ORDER BY event_id DESC LIMIT 10)", (a.name, a.name)).rowcount
    assert lost == 10
    # Its follow-up cases (every other press is Không hài lòng) come back
    # as the core published them: same ids, same content.
    local = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True)
    cases = local.execute("SELECT count(*) FROM cases").fetchone()[0]
    local.close()
    assert cases > 0 and wait_for(lambda: conn.execute(
        "SELECT count(*) FROM case_events WHERE site = %s", (a.name,)).fetchone()[0] == cases, 10)
    sent = dict(conn.execute("SELECT event_id, payload FROM case_events WHERE site = %s", (a.name,)).fetchall())
    conn.execute("DELETE FROM case_events WHERE site = %s", (a.name,))
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "replay-events", "--config", str(a.config_path),
                          "--db", str(a.db), "--mqtt-port", str(a.broker.port),
                          "--mqtt-password-file", str(a.broker.password_file("cli"))],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{len(a.journal_ids())} events and {cases} case changes republished"
    assert_exactly_once(conn, sites)
    assert wait_for(lambda: dict(conn.execute("SELECT event_id, payload FROM case_events WHERE site = %s",
                                              (a.name,)).fetchall()) == sent, 10)

    # The projections agree with each site's own tables.
    for s in sites:
        finished, counted = s.counts()
        assert conn.execute("SELECT count(*) FROM tickets WHERE site = %s AND state = 'finished'",
                            (s.name,)).fetchone()[0] == finished
        assert conn.execute("SELECT count(*) FROM ratings WHERE site = %s AND counted",
                            (s.name,)).fetchone()[0] == counted
    assert conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0


def test_bad_messages_are_kept_and_acknowledged(province, tmp_path):
    """A site that publishes garbage, or another site's events, loses nothing
    and stalls nothing: kept in rejects with why, acknowledged."""
    central, agg, sites, conn = province
    a = sites[0]
    raw = Bus(central, a.name, f"phucvu/{a.name}")
    try:
        raw.publish("event/ticket", b"\xff not json")
        raw.publish("event/ticket", {"site": a.name, "event_id": "7", "kind": "ticket_called", "at": 1.0,
                                     "ticket_id": "x"})
        # Another centre's id inside the payload: refused by the aggregator
        # (and the broker's ACL keeps a site's login out of other prefixes).
        raw.publish("event/rating", {"site": "xa-phu-my", "event_id": 1, "kind": "rating_pressed"})
        # A replaced site database re-using event ids with other content.
        a.serve(1)
        assert_exactly_once(conn, [a])
        first = conn.execute("SELECT payload FROM events WHERE site = %s AND event_id = "
                             "(SELECT min(event_id) FROM events WHERE site = %s)", (a.name, a.name)).fetchone()[0]
        raw.publish("event/ticket", {**first, "at": first["at"] + 1})
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 4, 10)
        # Well-formed JSON that PostgreSQL refuses (no 13th month): the batch
        # is stored one message at a time and only this one is rejected.
        raw.publish("event/ticket", {"site": a.name, "event_id": 10_000, "kind": "ticket_issued",
                                     "at": 2.0, "ticket_id": "20261345-A001", "day": "2026-13-45",
                                     "field": "tu-phap"})
        a.serve(1)
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 5, 10)
        # Nested deeper than the JSON parser recurses (it raises
        # RecursionError, not ValueError): parsed in paho's thread since
        # issue 21, and neither that thread nor the batch may stop.
        raw.publish("event/ticket", b"[" * 100_000)
        a.serve(1)
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 6, 10)
    finally:
        raw.close()
    reasons = [r[0] for r in conn.execute("SELECT reason FROM rejects ORDER BY id")]
    assert reasons[0].startswith("payload is not UTF-8")
    assert reasons[1] == "event_id must be a positive integer, got '7'"
    assert "does not match the topic's" in reasons[2]
    assert "already stored with different content" in reasons[3]
    assert reasons[4].startswith("database refused it: ") and "2026-13-45" in reasons[4]
    assert reasons[5] == "payload is not JSON this parser can read: nested too deeply"
    assert conn.execute("SELECT payload FROM rejects WHERE id = (SELECT min(id) FROM rejects)"
                        ).fetchone()[0] == b"\xff not json"
    assert_exactly_once(conn, [a])


# --------------------------------------------------- config and generated files
def test_uplink_bridge_stanza_and_config_errors(tmp_path):
    cafile = tmp_path / "ca.crt"
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    data = tomllib.loads(DEMO_SITE.read_text())
    data["uplink"] = {"host": "mqtt.tinh.gov.vn", "password_file": str(pw), "cafile": str(cafile),
                      "certfile": "/etc/phucvu/site.crt", "keyfile": "/etc/phucvu/site.key"}
    cfg = site_config.parse(data)
    lines = bridge_lines(cfg)
    for expected in ("connection phucvu-thang-loc", "address mqtt.tinh.gov.vn:8883",
                     "bridge_protocol_version mqttv311", "cleansession false",
                     "remote_username thang-loc", "remote_password s3cret",
                     f"bridge_cafile {cafile}", "bridge_certfile /etc/phucvu/site.crt",
                     "bridge_keyfile /etc/phucvu/site.key",
                     "topic event/ticket out 1 phucvu/thang-loc/ phucvu/thang-loc/",
                     "topic event/case out 1 phucvu/thang-loc/ phucvu/thang-loc/",
                     "topic site/info out 1 phucvu/thang-loc/ phucvu/thang-loc/"):
        assert expected in lines
    # The site's broker keeps enough for weeks cut off, and hides the password.
    b = Broker(tmp_path / "b", cfg)
    conf = (b.dir / "mosquitto.conf")
    assert "max_queued_messages 100000" in conf.read_text().splitlines()
    assert conf.stat().st_mode & 0o077 == 0
    # A custom local prefix is remapped to phucvu/<site>/ upstream.
    data["mqtt"] = {"prefix": "tinh/thang-loc"}
    assert "topic event/rating out 1 tinh/thang-loc/ phucvu/thang-loc/" in bridge_lines(site_config.parse(data))
    bad = dict(data, uplink={"host": "x", "certfile": "/c.crt"})
    with pytest.raises(site_config.ConfigError, match="certfile and keyfile go together"):
        site_config.parse(bad, "site.toml")
    # The province's own file: unknown keys and missing ones are named.
    p = tmp_path / "province.toml"
    p.write_text('[database]\nconnifo = "x"\n')
    with pytest.raises(site_config.ConfigError) as e:
        province_config.load(p)
    assert f"{p}: database.connifo: unknown key" in str(e.value)
    assert f"{p}: database.conninfo: required key is missing" in str(e.value)
    example = province_config.load(ROOT / "deploy" / "province.example.toml")
    assert example.broker.client_id == "phucvu-aggregate"


def test_province_keys_documented():
    page = (ROOT / "docs" / "multi-site.md").read_text()
    page = page.split("### Province config", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\|\s*`([a-z0-9_.]+)`", page, re.M))
    assert documented == set(province_config.documented_keys())


def test_parse_is_strict():
    ok = json.dumps({"site": "a", "event_id": 3, "kind": "ticket_called", "at": 5.0,
                     "ticket_id": "20261127-A001"}).encode()
    assert isinstance(ev.parse("phucvu/a/event/ticket", ok), ev.Event)
    assert ev.parse("phucvu/a/event/rating", ok).reason.startswith("kind 'ticket_called' is not one of")
    assert ev.parse("phucvu/a/event/call", ok).reason == "unexpected topic leaf 'event/call'"
    assert ev.parse("phucvu/A!/event/ticket", ok).reason == "topic is not phucvu/<site>/..."
    assert ev.parse("phucvu/a/event/ticket", b"[1]").reason == "payload must be a JSON object, got list"
    nul = json.dumps({"site": "a", "event_id": 3, "kind": "ticket_called", "at": 5.0,
                      "ticket_id": "x\u0000"}).encode()
    assert ev.parse("phucvu/a/event/ticket", nul).reason == "payload holds a NUL character"
