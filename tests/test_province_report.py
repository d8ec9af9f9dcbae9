"""``phucvu report --province`` on data that went through the real pipeline:
site logins publish on a real provincial Mosquitto, ``phucvu aggregate``
stores into a real PostgreSQL, the CLI reads it.  Expected figures are
worked out by hand in the comments.  Events are published out of order and
some twice: the projections must not care.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
import uuid

import pytest

from kiosk.province import report as pr
from kiosk.province.central import CentralBroker
from kiosk.province.devdb import TempPostgres, wait_for
from tests.conftest import ROOT, Bus
from tests.test_multisite import AggregatorProcess

psycopg = pytest.importorskip("psycopg")

T = 1764205200.0            # 2026-11-27 08:00 in Asia/Ho_Chi_Minh
DAY = "2026-11-27"
LEVELS = [{"code": "rat-hai-long", "name_vi": "Rất hài lòng", "name_en": "Very satisfied", "satisfied": True},
          {"code": "hai-long", "name_vi": "Hài lòng", "name_en": "Satisfied", "satisfied": True},
          {"code": "khong-hai-long", "name_vi": "Không hài lòng", "name_en": "Not satisfied", "satisfied": False}]
FIELDS = [{"code": "tu-phap", "name_vi": "Tư pháp – Hộ tịch", "name_en": "Justice", "minutes_per_citizen": 10},
          {"code": "dat-dai", "name_vi": "Đất đai", "name_en": "Land", "minutes_per_citizen": 20}]


class Centre:
    """A site as the province sees it: its login on the provincial broker."""

    def __init__(self, central: CentralBroker, site: str, centre: str):
        self.site = site
        self.bus = Bus(central, site, f"phucvu/{site}")
        self.next_id = 0
        self.sent: set[int] = set()
        self.bus.publish("site/info", {"site": site, "commune": f"Xã {site}", "centre": centre,
                                       "province": "Tỉnh Thử", "timezone": "Asia/Ho_Chi_Minh",
                                       "fields": FIELDS, "levels": LEVELS, "updated_at": T}, retain=True)

    def event(self, kind: str, at: float, ticket: str, **data) -> dict:
        self.next_id += 1
        body = {"site": self.site, "event_id": self.next_id, "kind": kind, "at": at,
                "ticket_id": ticket, **data}
        return body

    def issued(self, at: float, ticket: str, field: str = "tu-phap", day: str = DAY) -> dict:
        return self.event("ticket_issued", at, ticket, day=day, field=field, priority=None,
                          label=ticket.split("-")[1], number=1, seq=1)

    def called(self, at: float, ticket: str) -> dict:
        return self.event("ticket_called", at, ticket, counter=1, call_seq=1, call_id="c", specific=False)

    def done(self, kind: str, at: float, ticket: str, **data) -> dict:
        return self.event(kind, at, ticket, counter=1, **data)

    def rating(self, at: float, ticket: str, level: str, counted: bool = True) -> dict:
        return self.event("rating_pressed", at, ticket, rating_id=uuid.uuid4().hex, counter=1, level=level,
                          level_index=1, counted=counted, reason=None if counted else "extra_press",
                          official="nv01", field="tu-phap", wait_s=None, service_s=None)

    def send(self, events: list[dict]) -> None:
        for e in events:
            leaf = "event/rating" if e["kind"] == "rating_pressed" else "event/ticket"
            self.bus.publish(leaf, e)
            self.sent.add(e["event_id"])


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("province")
    pg = TempPostgres()
    central = CentralBroker(tmp / "central", ["xa-an-binh", "xa-phu-my", "xa-tan-lap"])
    agg = AggregatorProcess(tmp, central, pg.conninfo)
    centres = {}
    try:
        pg.start()
        central.start()
        agg.start()
        a = centres["a"] = Centre(central, "xa-an-binh", "Trung tâm An Bình")
        b = centres["b"] = Centre(central, "xa-phu-my", "Trung tâm Phú Mỹ")
        c = centres["c"] = Centre(central, "xa-tan-lap", "Trung tâm Tân Lập")
        # An Bình: waits 5, 10, 20 min -> p50 10.0, p90 20.0 (nearest rank).
        # A001 served in 8 min of 10 (on time), rated Rất hài lòng.
        a1 = [a.issued(T, "20261127-A001"), a.called(T + 300, "20261127-A001"),
              a.done("ticket_finished", T + 780, "20261127-A001")]
        a1.append(a.rating(T + 790, "20261127-A001", "rat-hai-long"))
        # A002 served in 15 min of 10 (late) after a recall, rated Không hài lòng.
        a2 = [a.issued(T + 60, "20261127-A002"), a.called(T + 660, "20261127-A002"),
              a.done("ticket_recalled", T + 700, "20261127-A002", call_seq=2, call_id="r"),
              a.done("ticket_finished", T + 1560, "20261127-A002")]
        a2.append(a.rating(T + 1570, "20261127-A002", "khong-hai-long"))
        # A003 waited 20 min, was transferred to dat-dai (20 min typical),
        # called again and served in 18 min (on time there); rated Hài lòng,
        # then an extra press that does not count.
        a3 = [a.issued(T + 120, "20261127-A003"), a.called(T + 1320, "20261127-A003"),
              a.done("ticket_transferred", T + 1400, "20261127-A003", to_field="dat-dai", to_counter=None),
              a.called(T + 1920, "20261127-A003"), a.done("ticket_finished", T + 3000, "20261127-A003")]
        a3 += [a.rating(T + 3010, "20261127-A003", "hai-long"),
               a.rating(T + 3015, "20261127-A003", "khong-hai-long", counted=False)]
        # A004 still waits; C001 was issued the day before: not in the period.
        a4 = [a.issued(T + 180, "20261127-A004")]
        old = [a.issued(T - 86400, "20261126-A001", day="2026-11-26"),
               a.called(T - 86000, "20261126-A001"), a.done("ticket_finished", T - 85000, "20261126-A001")]
        # Out of order and partly twice, as after a bridge outage and a redelivery.
        a.send(list(reversed(a3)) + a1 + a2 + a4 + old + a3[:2])
        # Phú Mỹ: waits 2, 4, 6 -> p50 4.0, p90 6.0; B001 on time (5 of 10),
        # B002 late (20 of 10), B003 no-show.  Satisfaction 2/2.
        b.send([b.issued(T, "20261127-A001"), b.called(T + 120, "20261127-A001"),
                b.done("ticket_finished", T + 420, "20261127-A001"),
                b.rating(T + 430, "20261127-A001", "rat-hai-long"),
                b.issued(T + 10, "20261127-A002"), b.called(T + 250, "20261127-A002"),
                b.done("ticket_finished", T + 1450, "20261127-A002"),
                b.rating(T + 1460, "20261127-A002", "hai-long"),
                b.issued(T + 20, "20261127-A003"), b.called(T + 380, "20261127-A003"),
                b.done("ticket_no_show", T + 500, "20261127-A003")])
        # Tân Lập: one citizen served on time, nobody rated: no satisfaction,
        # so it ranks last whatever its other figures.
        c.send([c.issued(T, "20261127-A001"), c.called(T + 60, "20261127-A001"),
                c.done("ticket_finished", T + 120, "20261127-A001")])
        conn = psycopg.connect(pg.conninfo, autocommit=True)
        want = sum(len(x.sent) for x in centres.values())
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM events").fetchone()[0] == want
                        and conn.execute("SELECT count(*) FROM sites").fetchone()[0] == 3, 20)
        yield tmp, agg, conn
        conn.close()
    finally:
        for x in centres.values():
            x.bus.close()
        agg.stop()
        central.stop()
        pg.stop()


def run_report(agg, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "report", "--province",
                          "--province-config", str(agg.config), "--from", DAY, "--to", DAY, *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_province_report_ranks_centres_with_hand_worked_figures(province):
    tmp, agg, conn = province
    rows = list(csv.DictReader(io.StringIO(run_report(agg, "--format", "csv", "--lang", "en"))))
    got = [(r["Rank"], r["Site"], r["Centre"], r["Tickets issued"], r["Served"], r["Ratings"],
            r["Satisfaction rate"], r["Share rated"], r["On-time share"], r["Wait p50 (min)"],
            r["Wait p90 (min)"]) for r in rows]
    assert got == [
        ("1", "xa-phu-my", "Trung tâm Phú Mỹ", "3", "2", "2", "1.0000", "1.0000", "0.5000", "4.0", "6.0"),
        ("2", "xa-an-binh", "Trung tâm An Bình", "4", "3", "3", "0.6667", "1.0000", "0.6667", "10.0", "20.0"),
        ("3", "xa-tan-lap", "Trung tâm Tân Lập", "1", "1", "0", "", "0.0000", "1.0000", "1.0", "1.0"),
    ]
    # The projection folded the out-of-order, doubled events right.
    assert conn.execute("SELECT state, field, origin_field, transfers FROM tickets "
                        "WHERE site = 'xa-an-binh' AND ticket_id = '20261127-A003'").fetchone() \
        == ("finished", "dat-dai", "tu-phap", 1)
    table = run_report(agg)
    assert "Xếp hạng các trung tâm, từ 27/11/2026 đến 27/11/2026" in table
    assert "Tỷ lệ hài lòng" in table and "66,7%" in table and "Trung tâm Phú Mỹ" in table
    out = tmp / "t11.csv"
    assert run_report(agg, "--format", "csv", "--out", str(out)).strip() == str(out)
    assert out.read_bytes().startswith("\ufeffHạng,".encode())


def test_province_report_refuses_what_it_cannot_do(province):
    tmp, agg, conn = province
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "report", "--province", "--province-config",
                          str(agg.config), "--from", DAY, "--to", DAY, "--format", "xlsx"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and out.stderr.strip() == "Error: --province writes table or csv, not xlsx"
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "report", "--province", "--province-config",
                          str(agg.config), "--from", DAY, "--to", "2026-11-01"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and "ends (2026-11-01) before it starts (2026-11-27)" in out.stderr


def test_ranking_breaks_ties_by_on_time_then_wait():
    facts = {s: pr.SiteFacts(s, s.upper(), "", frozenset({"ok"}), frozenset({"ok", "bad"}), {"f": 10.0})
             for s in ("a", "b", "c")}

    def served(site, wait_min, service_min):
        return pr.TicketRow(site, "f", "finished", 0.0, wait_min * 60, wait_min * 60,
                            wait_min * 60 + service_min * 60)
    tickets = [served("a", 9, 12), served("b", 9, 5), served("c", 3, 5)]
    ratings = [pr.RatingRow(s, "ok") for s in ("a", "b", "c")]
    report = pr.compute(tickets, ratings, facts, dt.date(2026, 11, 27), dt.date(2026, 11, 27))
    # All 100 % satisfied; b and c on time (a is not); c waited less than b.
    assert [f.site for f in report.sites] == ["c", "b", "a"]
    # A site whose site/info has not arrived: no satisfaction rate (which
    # levels count is unknown), ranked below the sites that have one.
    unknown = pr.compute(tickets + [served("z", 1, 1)], ratings + [pr.RatingRow("z", "ok")], facts,
                         dt.date(2026, 11, 27), dt.date(2026, 11, 27))
    z = unknown.sites[-1]
    assert (z.site, z.centre, z.rated, z.satisfaction, z.on_time_share) == ("z", "z", 1, None, None)
    assert any("site z: no site/info" in w for w in unknown.warnings)


def test_a_site_in_the_province_has_its_centre_reports_figures():
    """One definition for both reports (kiosk.reports.rates): the same tickets
    and ratings give the same rates and percentiles in the province's ranking
    and in the centre's own report."""
    from kiosk.reports import figures as fig
    day, t0 = dt.date(2026, 11, 27), T
    waits = [3, 7, 1, 12, 5, 9, 2, 30, 4, 6, 8]                # minutes
    services = [10, 10.5, 4, 20, 9.99, 10, 1, 3, 15, 2, 7]      # the field's typical is 10
    levels = ["ok", "ok", "bad", "ok", "meh"]
    site = pr.compute(
        [pr.TicketRow("s", "f", "finished", t0, t0 + w * 60, t0 + w * 60, t0 + w * 60 + s * 60)
         for w, s in zip(waits, services)],
        [pr.RatingRow("s", lv) for lv in levels],
        {"s": pr.SiteFacts("s", "S", "", frozenset({"ok"}), frozenset({"ok", "meh", "bad"}),
                           {"f": 10.0})}, day, day).sites[0]
    rules = fig.Rules((fig.Level("ok", True), fig.Level("meh", False), fig.Level("bad", False)),
                      {"f": 10.0}, dt.timezone(dt.timedelta(hours=7)))
    centre = fig.compute(
        [fig.TicketRow(DAY, "f", "f", None, t0, "finished", 1, 0, None, "nv01", w * 60, s * 60)
         for w, s in zip(waits, services)],
        [fig.RatingRow(1, lv, t0, 1, None, "nv01", "f", DAY, t0, "f") for lv in levels],
        rules, day, day, ("day",)).breakdowns["day"].total
    figures = ("satisfaction", "rated_share", "on_time_share", "wait_p50", "wait_p90")
    assert [getattr(site, f) for f in figures] == [getattr(centre, f) for f in figures]
    # 3 of 5 satisfied, 5 rated of 11 served, 8 within 10 minutes (10 itself
    # is on time), waits ranked 6th and 10th of 11.
    assert [getattr(site, f) for f in figures] == [3 / 5, 5 / 11, 8 / 11, 6, 12]
