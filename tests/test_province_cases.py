"""Follow-up cases and the new site/info keys at the province (issue 19).

Real parts: a provincial Mosquitto with its generated ACL, ``phucvu
aggregate`` as a process, a PostgreSQL cluster for the module.  The full
report over cases is in test_province_report.py; here: what is stored, once,
in which state, and what is refused.
"""
from __future__ import annotations

import json
import uuid

import pytest

from kiosk.province import events as ev
from kiosk.province.central import CentralBroker
from kiosk.province.devdb import TempPostgres, wait_for
from kiosk.province.schema import MIGRATIONS, migrate
from tests.conftest import Bus
from tests.test_multisite import AggregatorProcess

psycopg = pytest.importorskip("psycopg")

T = 1764205200.0            # 2026-11-27 08:00 in Asia/Ho_Chi_Minh
DUE = T + 3 * 86400


def case(n: int, change: str, at: float, **extra) -> dict:
    body = {"event_id": f"case-{n}-{change}", "case": n, "change": change, "at": at,
            "ticket_id": "20261127-B004", "day": "2026-11-27", "field": "dat-dai", "counter": 2,
            "official": "nv02", "level": "khong-hai-long", "source": "phone", "reasons": ["cho-lau"],
            "opened_at": T, "due_at": DUE, "status": {"opened": "open"}.get(change, change),
            "closed_at": at if change == "closed" else None,
            "on_time": (at <= DUE) if change == "closed" else None}
    return {**body, **extra}


def parse(leaf: str, body: dict, site: str = "a") -> ev.Event | ev.CaseEvent | ev.SiteInfo | ev.Reject:
    return ev.parse(f"phucvu/{site}/{leaf}", json.dumps(body).encode())


def test_parse_case_events_and_the_new_site_info_keys():
    ok = parse("event/case", case(12, "closed", T + 60))
    assert isinstance(ok, ev.CaseEvent) and (ok.site, ok.event_id, ok.case, ok.change) == \
        ("a", "case-12-closed", 12, "closed")
    # The topic names the site; a payload that names another is refused.
    assert isinstance(parse("event/case", {**case(1, "opened", T), "site": "a"}), ev.CaseEvent)
    assert "does not match the topic's 'a'" in parse("event/case", {**case(1, "opened", T), "site": "b"}).reason
    reasons = {
        "a case event's event_id must be case-<id>-<change>, got 12": case(12, "opened", T, event_id=12),
        "case 13 does not match event_id 'case-12-opened'": case(12, "opened", T, case=13),
        "change 'closed' does not match event_id 'case-12-opened'": {**case(12, "opened", T), "change": "closed"},
        "a case event needs due_at (epoch seconds), got None": case(12, "opened", T, due_at=None),
        "a closed case needs closed_at": case(12, "closed", T, closed_at=None),
        "status 'done' is not one of ['closed', 'looked_into', 'open']": case(12, "closed", T, status="done"),
        "reasons must be a list of codes or null, got 'cho-lau'": case(12, "opened", T, reasons="cho-lau"),
        "a case event needs day (YYYY-MM-DD), got '27/11/2026'": case(12, "opened", T, day="27/11/2026"),
    }
    for why, body in reasons.items():
        assert parse("event/case", body).reason == why
    # A rating's source and reasons are checked, since they are stored.
    rating = {"site": "a", "event_id": 3, "kind": "rating_pressed", "at": T, "ticket_id": "x",
              "rating_id": "r", "level": "hai-long", "counted": True}
    assert isinstance(parse("event/rating", {**rating, "source": "phone", "reasons": []}), ev.Event)
    assert parse("event/rating", {**rating, "reasons": [1]}).reason == \
        "reasons must be a list of codes or null, got [1]"
    # site/info: targets and grades optional (older sites), checked if sent.
    info = {"site": "a", "commune": "Xã A", "centre": "TT A", "timezone": "Asia/Ho_Chi_Minh",
            "fields": [{"code": "f", "minutes_per_citizen": 10}],
            "levels": [{"code": "ok", "satisfied": True}], "updated_at": T}
    assert isinstance(parse("site/info", info), ev.SiteInfo)
    good = {"targets": {"f": {"wait_min": 20, "service_min": 10.0}}, "grades": {"ok": "hai-long"}}
    assert isinstance(parse("site/info", {**info, **good}), ev.SiteInfo)
    assert parse("site/info", {**info, "targets": {"f": {"wait_min": 0, "service_min": 10}}}).reason == \
        "site/info targets must map each field code to {wait_min, service_min} (minutes > 0)"
    assert parse("site/info", {**info, "grades": {"ok": "hài lòng"}}).reason == \
        "site/info grades must map each level code to one of rat-hai-long, hai-long, khong-hai-long"


@pytest.fixture(scope="module")
def pg():
    db = TempPostgres().start()
    yield db
    db.stop()


@pytest.fixture
def province(tmp_path, pg):
    conninfo = pg.create_database(f"t_{uuid.uuid4().hex[:12]}")
    central = CentralBroker(tmp_path / "central", ["xa-an-binh", "xa-phu-my"])
    agg = AggregatorProcess(tmp_path, central, conninfo)
    buses: list[Bus] = []
    try:
        central.start()
        agg.start()
        for site in ("xa-an-binh", "xa-phu-my"):
            buses.append(Bus(central, site, f"phucvu/{site}"))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield conn, buses
    finally:
        for b in buses:
            b.close()
        agg.stop()
        central.stop()


def count(conn, sql: str, *args) -> int:
    return conn.execute(sql, args).fetchone()[0]


def test_case_changes_are_stored_once_and_folded_to_the_latest(province):
    conn, (a, b) = province
    # The same change twice (a redelivery): one row.
    a.publish("event/case", case(1, "opened", T))
    a.publish("event/case", case(1, "opened", T))
    assert wait_for(lambda: count(conn, "SELECT count(*) FROM cases") == 1, 10)
    assert count(conn, "SELECT count(*) FROM case_events") == 1
    assert conn.execute("SELECT status, on_time, closed_at, reasons FROM cases").fetchone() == \
        ("open", None, None, ["cho-lau"])
    # Looked into, then closed a day after its due time: closed, late.
    a.publish("event/case", case(1, "looked_into", T + 600))
    a.publish("event/case", case(1, "closed", DUE + 86400))
    assert wait_for(lambda: count(conn, "SELECT count(*) FROM case_events") == 3, 10)
    assert conn.execute("SELECT site, case_id, ticket_id, day::text, status, on_time, closed_at, last_event_id "
                        "FROM cases").fetchall() == [
        ("xa-an-binh", 1, "20261127-B004", "2026-11-27", "closed", False, DUE + 86400, "case-1-closed")]
    # The looked-into change redelivered after the closing moves nothing back.
    a.publish("event/case", case(1, "looked_into", T + 600))
    # Case 2 closed within its due time: on time.  Another site's case 2 is its own.
    a.publish("event/case", case(2, "opened", T + 60, opened_at=T + 60))
    a.publish("event/case", case(2, "closed", T + 3600, opened_at=T + 60))
    b.publish("event/case", case(2, "opened", T + 70, opened_at=T + 70, site="xa-phu-my"))
    assert wait_for(lambda: count(conn, "SELECT count(*) FROM case_events") == 6, 10)
    assert conn.execute("SELECT site, case_id, status, on_time FROM cases ORDER BY site, case_id").fetchall() == [
        ("xa-an-binh", 1, "closed", False), ("xa-an-binh", 2, "closed", True), ("xa-phu-my", 2, "open", None)]
    # The same event id with other content (a replaced centre database) is
    # kept in rejects with why; the stored case does not change.
    a.publish("event/case", case(2, "closed", T + 7200, opened_at=T + 60))
    # A malformed one is kept too.
    a.publish("event/case", case(3, "opened", T, due_at="soon"))
    assert wait_for(lambda: count(conn, "SELECT count(*) FROM rejects") == 2, 10)
    assert [r[0] for r in conn.execute("SELECT reason FROM rejects ORDER BY id")] == [
        "event_id case-2-closed of site xa-an-binh is already stored with different content",
        "a case event needs due_at (epoch seconds), got 'soon'"]
    assert conn.execute("SELECT closed_at FROM cases WHERE site = 'xa-an-binh' AND case_id = 2"
                        ).fetchone() == (T + 3600,)
    assert count(conn, "SELECT count(*) FROM case_events") == 6


def test_a_site_may_not_write_another_sites_cases(province):
    """The payload may leave the site out, so only the broker's ACL keeps An
    Bình from filing a case under Phú Mỹ's name: its publish is dropped."""
    conn, (a, b) = province
    a.client.publish("phucvu/xa-phu-my/event/case", json.dumps(case(9, "opened", T)).encode(), qos=1)
    # Its own case, sent after the forged one on the same connection, is
    # stored; by then the forged one would have been too.
    a.publish("event/case", case(10, "opened", T))
    assert wait_for(lambda: count(conn, "SELECT count(*) FROM case_events") == 1, 10)
    assert conn.execute("SELECT site, event_id FROM case_events").fetchall() == [("xa-an-binh", "case-10-opened")]
    assert count(conn, "SELECT count(*) FROM rejects") == 0
    # And Phú Mỹ itself may.
    b.publish("event/case", case(9, "opened", T))
    assert wait_for(lambda: count(conn, "SELECT count(*) FROM case_events WHERE site = 'xa-phu-my'") == 1, 10)


def test_migration_2_keeps_the_source_and_reasons_of_ratings_stored_before(pg):
    conninfo = pg.create_database(f"t_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # A province database as the aggregator left it before issue 19.
        conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        conn.execute(MIGRATIONS[0])
        conn.execute("INSERT INTO schema_version VALUES (1)")
        for n, extra in ((1, {"source": "phone", "reasons": ["cho-lau"]}), (2, {"source": "bridge:counter-3"}),
                         (3, {})):
            body = {"site": "a", "event_id": n, "kind": "rating_pressed", "at": T, "ticket_id": f"t{n}",
                    "rating_id": f"r{n}", "level": "khong-hai-long", "counted": True, **extra}
            conn.execute("INSERT INTO events (site, event_id, kind, at, ticket_id, payload) "
                         "VALUES ('a', %s, 'rating_pressed', %s, %s, %s::jsonb)", (n, T, f"t{n}", json.dumps(body)))
            conn.execute("INSERT INTO ratings (site, event_id, rating_id, ticket_id, level, counted, at) "
                         "VALUES ('a', %s, %s, %s, 'khong-hai-long', true, %s)", (n, f"r{n}", f"t{n}", T))
        assert migrate(conn) == 2
        assert conn.execute("SELECT event_id, source, reasons FROM ratings ORDER BY event_id").fetchall() == [
            (1, "phone", ["cho-lau"]), (2, "bridge:counter-3", None), (3, None, None)]
        assert count(conn, "SELECT count(*) FROM cases") == 0
        # Run again (the next start): nothing to do.
        assert migrate(conn) == 2


def test_a_real_cores_case_reaches_the_province_and_closes_there(tmp_path, pg):
    """The whole road: a real core opens a case with a "không hài lòng" press,
    its broker's bridge carries event/case up, the aggregator stores it; the
    head closes it and the province's row follows.  The truth to compare
    with is the site's own cases table."""
    import sqlite3
    from tests.test_multisite import Site
    conninfo = pg.create_database(f"t_{uuid.uuid4().hex[:12]}")
    central = CentralBroker(tmp_path / "central", ["xa-an-binh"])
    agg = AggregatorProcess(tmp_path, central, conninfo)
    site = None
    try:
        central.start()
        agg.start()
        site = Site(tmp_path, "xa-an-binh", central)
        assert site.request("core/command", {"action": "issue", "field": "tu-phap"})["ok"]
        assert site.request("counter/1/command", {"action": "next"})["ok"]
        assert site.request("counter/1/command", {"action": "finish"})["ok"]
        # Level 3 of the demo's levels is Không hài lòng: a case opens.
        site.bus.publish("counter/1/rating", {"rating_id": f"box-{uuid.uuid4().hex[:8]}", "level": 3})
        with psycopg.connect(conninfo, autocommit=True) as conn:
            assert wait_for(lambda: count(conn, "SELECT count(*) FROM cases") == 1, 20)
            assert conn.execute("SELECT status, on_time FROM cases").fetchone() == ("open", None)
            reply = site.request("core/command", {"action": "case_update", "case": 1, "status": "closed",
                                                  "note": "Đã gọi điện xin lỗi công dân.", "by": "head01"})
            assert reply["ok"], reply
            assert wait_for(lambda: conn.execute("SELECT status FROM cases").fetchone()[0] == "closed", 20)
            got = conn.execute("SELECT case_id, ticket_id, day::text, field, level, opened_at, due_at, "
                               "closed_at, on_time FROM cases").fetchone()
            assert [r[0] for r in conn.execute("SELECT event_id FROM case_events ORDER BY event_id")] == \
                ["case-1-closed", "case-1-opened"]
            # The note stays in the centre.
            assert "xin lỗi" not in json.dumps([r[0] for r in conn.execute("SELECT payload FROM case_events")],
                                               ensure_ascii=False)
        local = sqlite3.connect(f"file:{site.db}?mode=ro", uri=True)
        try:
            want = local.execute("SELECT id, ticket_id, day, field, level, opened_at, due_at, closed_at "
                                 "FROM cases").fetchone()
        finally:
            local.close()
        # Closed right away, long before its due time (working days ahead).
        assert got == (*want, True)
    finally:
        if site is not None:
            site.close()
        agg.stop()
        central.stop()


def test_replay_of_a_file_without_cases_replays_its_events(tmp_path):
    """A centre's file from before schema 9 has no cases table: replay-events
    still republishes its ticket events, and no case change."""
    import sqlite3

    from click.testing import CliRunner

    from kiosk import config as site_config
    from kiosk.cli import cli
    from kiosk.province import uplink
    from tests.conftest import DEMO_SITE
    db = tmp_path / "site.db"
    for args in (["init"], ["issue", "tu-phap"]):
        result = CliRunner().invoke(cli, [*args, "--config", str(DEMO_SITE), "--db", str(db)])
        assert result.exit_code == 0, result.output
    cfg = site_config.load(DEMO_SITE)
    assert uplink.journal_cases(cfg, db) == []
    conn = sqlite3.connect(db)
    conn.executescript("DROP TABLE case_log; DROP TABLE cases;")
    conn.close()
    assert uplink.journal_cases(cfg, db) == []
    assert [body["kind"] for _, body in uplink.journal_events(cfg, db)] == ["ticket_issued"]
