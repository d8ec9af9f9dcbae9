"""The day's close reaches the province (``day_closed`` on ``event/ticket``),
so a centre's within-wait-target share is the same figure in its pack and in
the province's ranking.

Real parts: ``phucvu core`` on a real Mosquitto with its own SQLite file,
closed by ``core/command`` ``close_day``; the pack's figures from that file;
what the core published relayed as the site's login onto a real provincial
Mosquitto, ``phucvu aggregate`` into a real PostgreSQL, the province's report
read from it.  The wait target is 0.1 minute (6 s) so that real waits can
pass it; every figure below is worked out by hand.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import uuid

import pytest

from kiosk import config as site_config
from kiosk.core.domain import Queue
from kiosk.core.read import queries
from kiosk.core.read.period import read_period
from kiosk.province import events as ev
from kiosk.province import report as pr
from kiosk.province.central import CentralBroker
from kiosk.province.devdb import TempPostgres, wait_for
from kiosk.province.schema import MIGRATIONS, migrate
from kiosk.province.uplink import journal_events
from kiosk.reports import rules_of
from kiosk.reports.pack_figures import PACK_BREAKDOWNS, compute_pack
from tests.conftest import DEMO_SITE, Bus, CoreProcess
from tests.test_bus import counter_cmd, ticket
from tests.test_multisite import AggregatorProcess

psycopg = pytest.importorskip("psycopg")

SITE = "thang-loc"
TARGET_S = 6.0     # [targets] wait_min = 0.1


def _core_command(b: Bus, action: str) -> dict:
    cid = uuid.uuid4().hex
    b.publish("core/command", {"command_id": cid, "action": action})
    return b.wait_for(lambda t, body: t == "core/reply" and body and body.get("command_id") == cid)


@pytest.fixture(scope="module")
def closed_day(tmp_path_factory):
    """One service day on a real core, closed with tickets never called.

    A, B and C are issued at once; A is called at once (waited well under
    6 s: within), B after a 7 s sleep (over 6 s: a miss), C never (waiting
    7 s and more when the day closes: a miss); D is issued just before the
    close and never called (waited under 6 s: in no base).
    """
    from kiosk.broker import Broker
    from tests.conftest import TESTERS
    tmp = tmp_path_factory.mktemp("dayclose")
    site_toml = tmp / "site.toml"
    site_toml.write_text(DEMO_SITE.read_text(encoding="utf-8") + "\n[targets]\nwait_min = 0.1\n",
                         encoding="utf-8")
    config = site_config.load(site_toml)
    broker = Broker(tmp / "broker", config, superusers=TESTERS).start()
    core = CoreProcess(broker, tmp / "phucvu.db")
    buses: list[Bus] = []
    try:
        core.start()
        kiosk = Bus(broker, "kiosk-1", config.topic_prefix)
        kiosk.subscribe("ticket/reply/kiosk-1")
        staff = Bus(broker, "counter-1", config.topic_prefix)
        staff.subscribe("counter/1/reply")
        watch = Bus(broker, TESTERS[0], config.topic_prefix)
        watch.subscribe("event/ticket", "site/info", "core/reply")
        buses += [kiosk, staff, watch]
        ids = {}
        for name in "ABC":
            reply = ticket(kiosk, "tu-phap")
            assert reply["ok"], reply
            ids[name] = reply["ticket"]["ticket_id"]
        assert counter_cmd(staff, 1, "next")["ticket"]["ticket_id"] == ids["A"]
        assert counter_cmd(staff, 1, "finish")["ok"]
        time.sleep(TARGET_S + 1)
        assert counter_cmd(staff, 1, "next")["ticket"]["ticket_id"] == ids["B"]
        assert counter_cmd(staff, 1, "finish")["ok"]
        reply = ticket(kiosk, "tu-phap")
        ids["D"] = reply["ticket"]["ticket_id"]
        assert _core_command(watch, "close_day")["ok"]
        closed = watch.wait_for(lambda t, b: t == "event/ticket" and b["kind"] == "day_closed")
        info = watch.wait_for(lambda t, b: t == "site/info")
        published = [json.loads(p) for t, p, _ in watch.messages if t.endswith("/event/ticket")]
        yield {"config": config, "db": core.db, "ids": ids, "closed": closed, "info": info,
               "published": published}
    finally:
        for b in buses:
            b.close()
        core.stop()
        broker.stop()


def test_the_close_goes_on_the_bus_with_the_tickets_it_expired(closed_day):
    closed, ids = closed_day["closed"], closed_day["ids"]
    # C and D were still waiting; A and B were served.  Issue order.
    assert closed["expired"] == [ids["C"], ids["D"]]
    # A ticket id starts with its day, 20261203-A001 for 2026-12-03.
    day = ids["A"].split("-")[0]
    assert closed["site"] == SITE and closed["day"] == f"{day[:4]}-{day[4:6]}-{day[6:]}"
    assert isinstance(closed["event_id"], int) and "ticket_id" not in closed
    # Journaled with its list, under the id the bus carries.
    with sqlite3.connect(closed_day["db"]) as c:
        row = c.execute("SELECT payload FROM journal WHERE id = ?", (closed["event_id"],)).fetchone()
        states = dict(c.execute("SELECT id, close_reason FROM tickets"))
    assert json.loads(row[0])["expired"] == closed["expired"]
    assert states == {ids["A"]: None, ids["B"]: None, ids["C"]: "day_closed", ids["D"]: "day_closed"}


def _pack_total(closed_day):
    config, day = closed_day["config"], dt.date.fromisoformat(closed_day["closed"]["day"])
    good = tuple(c for c, g in config.rating.grades().items() if g != "khong-hai-long")
    period = read_period(closed_day["db"], day, day, config.tz, PACK_BREAKDOWNS, pack=good)
    return compute_pack(period, rules_of(config), day, day, time.time()).wait_total


def test_the_province_share_is_the_packs(closed_day, tmp_path):
    # By hand: A within, B over, C never called but 7 s+ at the close (over
    # 6 s): base 3, within 1, share 1/3.  D (under 6 s at the close) is in
    # no base.  Counting only called tickets, as the province did before,
    # would have given 1/2.
    pack = _pack_total(closed_day)
    assert (pack.base, pack.within) == (3, 1)
    pg = TempPostgres()
    central = CentralBroker(tmp_path / "central", [SITE])
    agg = AggregatorProcess(tmp_path, central, pg.conninfo)
    try:
        pg.start()
        central.start()
        agg.start()
        up = Bus(central, SITE, f"phucvu/{SITE}")
        up.publish("site/info", closed_day["info"], retain=True)
        # The close first, then every ticket event, the close again: the
        # projection must not care about the order nor the repeat.
        events = closed_day["published"]
        for e in [closed_day["closed"], *events, closed_day["closed"]]:
            up.publish("event/ticket", e)
        up.close()
        with psycopg.connect(pg.conninfo, autocommit=True) as conn:
            assert wait_for(lambda: conn.execute("SELECT count(*) FROM events").fetchone()[0]
                            == len(events), timeout=20)
            assert wait_for(lambda: conn.execute("SELECT count(*) FROM sites").fetchone()[0] == 1,
                            timeout=20)
            rows = dict(conn.execute("SELECT ticket_id, state FROM tickets"))
            expired = conn.execute("SELECT count(*) FROM tickets WHERE expired_at = %s",
                                   (closed_day["closed"]["at"],)).fetchone()[0]
            assert conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0
        ids = closed_day["ids"]
        assert rows == {ids["A"]: "finished", ids["B"]: "finished", ids["C"]: "no_show",
                        ids["D"]: "no_show"}
        assert expired == 2
        day = dt.date.fromisoformat(closed_day["closed"]["day"])
        (f,) = pr.read(pg.conninfo, day, day).sites
        assert (f.within_base, f.within) == (3, 1)
        assert f.within_share == pack.share == pytest.approx(1 / 3)
        # A malformed close through the same pipeline: kept, with why.
        bad = Bus(central, SITE, f"phucvu/{SITE}")
        bad.publish("event/ticket", {**closed_day["closed"], "event_id": 99_999, "expired": "C"})
        bad.close()
        with psycopg.connect(pg.conninfo, autocommit=True) as conn:
            assert wait_for(lambda: conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1,
                            timeout=20)
            assert conn.execute("SELECT reason FROM rejects").fetchone()[0] == \
                "day_closed needs expired, the list of ticket ids it expired, got 'C'"
        _schema_2_reads_then_migrates(pg, closed_day["info"])
    finally:
        agg.stop()
        central.stop()
        pg.stop()


def _schema_2_reads_then_migrates(pg, info: dict) -> None:
    """A province database the new aggregator has not migrated yet (schema
    2): the report reads it (no day's close known: a ticket never called is
    in no base), and the migration to 3 adds the expiries."""
    conninfo = pg.create_database(f"t_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        conn.execute(MIGRATIONS[0])
        conn.execute(MIGRATIONS[1])
        conn.execute("INSERT INTO schema_version VALUES (2)")
        conn.execute("INSERT INTO sites (site, commune, centre, timezone, info, updated_at) "
                     "VALUES (%s, 'x', 'y', 'Asia/Ho_Chi_Minh', %s::jsonb, 0)", (SITE, json.dumps(info)))
        # One ticket called after 60 s (over 6 s), one never called.
        for n, first in ((1, 1060.0), (2, None)):
            conn.execute("INSERT INTO tickets (site, ticket_id, day, origin_field, field, state, "
                         "issued_at, first_called_at, last_event_id) VALUES "
                         "(%s, %s, '2026-11-27', 'tu-phap', 'tu-phap', 'waiting', 1000, %s, %s)",
                         (SITE, f"t{n}", first, n))
        day = dt.date(2026, 11, 27)
        (f,) = pr.read(conninfo, day, day).sites
        assert (f.within_base, f.within) == (1, 0)
        assert migrate(conn) == 3
        assert conn.execute("SELECT count(*) FROM tickets WHERE expired_at IS NULL").fetchone()[0] == 2


def test_an_old_journal_replays_and_its_close_goes_up_with_its_tickets(closed_day, tmp_path):
    # A copy of the file as an older core left it: the close lists nothing.
    old = tmp_path / "old.db"
    with sqlite3.connect(closed_day["db"]) as src, sqlite3.connect(old) as dst:
        src.backup(dst)
    event_id = closed_day["closed"]["event_id"]
    with sqlite3.connect(old) as c:
        e = json.loads(c.execute("SELECT payload FROM journal WHERE id = ?", (event_id,)).fetchone()[0])
        del e["expired"]
        c.execute("UPDATE journal SET payload = ? WHERE id = ?", (json.dumps(e), event_id))
    config, ids = closed_day["config"], closed_day["ids"]
    with sqlite3.connect(old) as c:
        journal = list(queries.journal(c))
    with sqlite3.connect(closed_day["db"]) as c:
        new_journal = list(queries.journal(c))
    assert [e.get("expired") for e in journal if e["kind"] == "day_closed"] == [None]
    assert [e.get("expired") for e in new_journal if e["kind"] == "day_closed"] == [[ids["C"], ids["D"]]]
    then, now = Queue.replay(config, journal).state, Queue.replay(config, new_journal).state
    assert {t: (x.state, x.close_reason) for t, x in then.tickets.items()} == \
        {t: (x.state, x.close_reason) for t, x in now.tickets.items()} == {
        ids["A"]: ("finished", None), ids["B"]: ("finished", None),
        ids["C"]: ("no_show", "day_closed"), ids["D"]: ("no_show", "day_closed")}
    # replay-events sends the old close with the tickets its close marked,
    # and the new one byte for byte as the core published it.
    (old_close,) = [b for _, b in journal_events(config, old) if b["kind"] == "day_closed"]
    assert old_close == closed_day["closed"]
    replayed = [b for _, b in journal_events(config, closed_day["db"])]
    assert closed_day["closed"] in replayed
    def text(b: dict) -> str:
        return json.dumps(b, sort_keys=True)
    assert sorted(map(text, replayed)) == sorted(map(text, closed_day["published"]))


@pytest.mark.parametrize("change, reason", [
    ({"expired": None}, "day_closed needs expired, the list of ticket ids it expired, got None"),
    ({"expired": "20261127-A001"}, "day_closed needs expired, the list of ticket ids it expired, "
                                   "got '20261127-A001'"),
    ({"expired": ["20261127-A001", 7]}, "day_closed expired must hold ticket ids (text), got 7"),
    ({"expired": ["20261127-A001", "20261127-A001"]}, "day_closed expired names a ticket twice"),
    ({"day": "27/11/2026"}, "day_closed needs day (YYYY-MM-DD), got '27/11/2026'"),
    ({"ticket_id": "20261127-A001"}, "day_closed names no ticket_id, got '20261127-A001'"),
    ({"event_id": "5"}, "event_id must be a positive integer, got '5'"),
])
def test_a_malformed_close_is_rejected_with_why(change, reason):
    body = {"site": SITE, "event_id": 5, "kind": "day_closed", "at": 1764262800.0,
            "day": "2026-11-27", "expired": ["20261127-A001"], **change}
    body = {k: v for k, v in body.items() if v is not None}
    out = ev.parse(f"phucvu/{SITE}/event/ticket", json.dumps(body).encode())
    assert isinstance(out, ev.Reject) and out.reason == reason
    good = {**body, "expired": [], "day": "2026-11-27", "event_id": 5}
    good.pop("ticket_id", None)
    assert isinstance(ev.parse(f"phucvu/{SITE}/event/ticket", json.dumps(good).encode()), ev.Event)
    # Only on event/ticket.
    wrong = ev.parse(f"phucvu/{SITE}/event/rating", json.dumps(good).encode())
    assert wrong.reason == "kind 'day_closed' is not one of ['rating_pressed'] on event/rating"
