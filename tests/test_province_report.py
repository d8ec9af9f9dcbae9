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


GRADES = {"rat-hai-long": "rat-hai-long", "hai-long": "hai-long", "khong-hai-long": "khong-hai-long"}


class Centre:
    """A site as the province sees it: its login on the provincial broker."""

    def __init__(self, central: CentralBroker, site: str, centre: str, **info):
        self.site = site
        self.bus = Bus(central, site, f"phucvu/{site}")
        self.next_id = 0
        self.sent: set[int] = set()
        self.cases: set[str] = set()
        self.bus.publish("site/info", {"site": site, "commune": f"Xã {site}", "centre": centre,
                                       "province": "Tỉnh Thử", "timezone": "Asia/Ho_Chi_Minh",
                                       "fields": FIELDS, "levels": LEVELS, "updated_at": T, **info},
                         retain=True)

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

    def rating(self, at: float, ticket: str, level: str, counted: bool = True, **data) -> dict:
        return self.event("rating_pressed", at, ticket, rating_id=uuid.uuid4().hex, counter=1, level=level,
                          level_index=1, counted=counted, reason=None if counted else "extra_press",
                          official="nv01", field="tu-phap", wait_s=None, service_s=None,
                          **{"source": "bridge:counter-1", **data})

    def case(self, n: int, change: str, at: float, ticket: str, due_at: float, opened_at: float) -> dict:
        """A case change as the core publishes it (docs/mqtt.md, event/case)."""
        status = {"opened": "open"}.get(change, change)
        return {"event_id": f"case-{n}-{change}", "case": n, "change": change, "at": at,
                "ticket_id": ticket, "day": DAY, "field": "tu-phap", "counter": 1, "official": "nv01",
                "level": "khong-hai-long", "source": "phone", "reasons": ["cho-lau"],
                "opened_at": opened_at, "due_at": due_at, "status": status,
                "closed_at": at if change == "closed" else None,
                "on_time": at <= due_at if change == "closed" else None}

    def send(self, events: list[dict]) -> None:
        for e in events:
            if "change" in e:
                self.bus.publish("event/case", e)
                self.cases.add(e["event_id"])
                continue
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
        # An Bình sends targets (tu-phap: wait 10, service 10; dat-dai: wait
        # 15, service 20) and the standard grades.
        a = centres["a"] = Centre(central, "xa-an-binh", "Trung tâm An Bình", grades=GRADES, targets={
            "tu-phap": {"wait_min": 10.0, "service_min": 10.0},
            "dat-dai": {"wait_min": 15.0, "service_min": 20.0}})
        # Phú Mỹ promises a 5-minute wait and an 8-minute service in
        # tu-phap (tighter than its minutes_per_citizen, 10), and its own
        # level names, both satisfied ones graded hài lòng: no "rất" at all.
        b = centres["b"] = Centre(
            central, "xa-phu-my", "Trung tâm Phú Mỹ",
            levels=[{"code": "tot", "name_vi": "Tốt", "name_en": "Good", "satisfied": True},
                    {"code": "kha", "name_vi": "Khá", "name_en": "Fair", "satisfied": True},
                    {"code": "chua-tot", "name_vi": "Chưa tốt", "name_en": "Poor", "satisfied": False}],
            grades={"tot": "hai-long", "kha": "hai-long", "chua-tot": "khong-hai-long"},
            targets={"tu-phap": {"wait_min": 5.0, "service_min": 8.0},
                     "dat-dai": {"wait_min": 30.0, "service_min": 20.0}})
        # Tân Lập runs an older phucvu: site/info without targets or grades.
        c = centres["c"] = Centre(central, "xa-tan-lap", "Trung tâm Tân Lập")
        # An Bình: A001 waited 5 min (within 10), served in 8 of 10 (on
        # time), rated Rất hài lòng.
        a1 = [a.issued(T, "20261127-A001"), a.called(T + 300, "20261127-A001"),
              a.done("ticket_finished", T + 780, "20261127-A001")]
        a1.append(a.rating(T + 790, "20261127-A001", "rat-hai-long"))
        # A002 waited 10 min (within: the target itself), served in 15 of 10
        # (late; service counts from the last call, the recall is no call),
        # rated Không hài lòng on the phone with a reason: case 1.
        a2 = [a.issued(T + 60, "20261127-A002"), a.called(T + 660, "20261127-A002"),
              a.done("ticket_recalled", T + 700, "20261127-A002", call_seq=2, call_id="r"),
              a.done("ticket_finished", T + 1560, "20261127-A002")]
        a2.append(a.rating(T + 1570, "20261127-A002", "khong-hai-long", source="phone",
                           reasons=["cho-lau", "thai-do"]))
        # A003 waited 20 min (over its origin field's 10), was transferred
        # to dat-dai, called again and served in 18 of 20 there (on time);
        # rated Hài lòng, then an extra press that does not count.
        a3 = [a.issued(T + 120, "20261127-A003"), a.called(T + 1320, "20261127-A003"),
              a.done("ticket_transferred", T + 1400, "20261127-A003", to_field="dat-dai", to_counter=None),
              a.called(T + 1920, "20261127-A003"), a.done("ticket_finished", T + 3000, "20261127-A003")]
        a3 += [a.rating(T + 3010, "20261127-A003", "hai-long"),
               a.rating(T + 3015, "20261127-A003", "khong-hai-long", counted=False)]
        # A004 still waits (never called: in no wait figure); A005 waited 9
        # min (within), served in 5 (on time), rated Không hài lòng: case 2.
        a4 = [a.issued(T + 180, "20261127-A004")]
        a5 = [a.issued(T + 240, "20261127-A005"), a.called(T + 780, "20261127-A005"),
              a.done("ticket_finished", T + 1080, "20261127-A005"),
              a.rating(T + 1090, "20261127-A005", "khong-hai-long")]
        # 20261126-A001 was issued the day before: not in the period.
        old = [a.issued(T - 86400, "20261126-A001", day="2026-11-26"),
               a.called(T - 86000, "20261126-A001"), a.done("ticket_finished", T - 85000, "20261126-A001")]
        # Out of order and partly twice, as after a bridge outage and a redelivery.
        a.send(list(reversed(a3)) + a1 + a2 + a4 + a5 + old + a3[:2])
        # Case 1 closed 2 h after opening, due in 3 days: on time.  It
        # arrives before its opening and twice.  Case 2 is looked into,
        # then closed a day after its due time: late.
        due1, due2 = T + 1570 + 3 * 86400, T + 1090 + 3 * 86400
        c1 = a.case(1, "closed", T + 1570 + 7200, "20261127-A002", due1, T + 1570)
        a.send([c1, a.case(1, "opened", T + 1570, "20261127-A002", due1, T + 1570), c1,
                a.case(2, "opened", T + 1090, "20261127-A005", due2, T + 1090),
                a.case(2, "looked_into", T + 5000, "20261127-A005", due2, T + 1090),
                a.case(2, "closed", due2 + 86400, "20261127-A005", due2, T + 1090)])
        # Phú Mỹ: B001 waited 2 (within 5), served in 5 of 8, "tot"; B002
        # waited 4, served in 9 (late for 8, though within the 10 typical),
        # "kha"; B003 waited 6 (over 5), no-show; B004 waited 5 (within),
        # served in 5, "tot".
        b.send([b.issued(T, "20261127-A001"), b.called(T + 120, "20261127-A001"),
                b.done("ticket_finished", T + 420, "20261127-A001"),
                b.rating(T + 430, "20261127-A001", "tot"),
                b.issued(T + 10, "20261127-A002"), b.called(T + 250, "20261127-A002"),
                b.done("ticket_finished", T + 790, "20261127-A002"),
                b.rating(T + 800, "20261127-A002", "kha"),
                b.issued(T + 20, "20261127-A003"), b.called(T + 380, "20261127-A003"),
                b.done("ticket_no_show", T + 500, "20261127-A003"),
                b.issued(T + 30, "20261127-A004"), b.called(T + 330, "20261127-A004"),
                b.done("ticket_finished", T + 630, "20261127-A004"),
                b.rating(T + 640, "20261127-A004", "tot")])
        # Tân Lập: C001 served in 1 min, not rated; C002 served in 910 s
        # (late for 10), Rất hài lòng; C003 waited 160 s, served in 200 s,
        # Hài lòng.
        c.send([c.issued(T, "20261127-A001"), c.called(T + 60, "20261127-A001"),
                c.done("ticket_finished", T + 120, "20261127-A001"),
                c.issued(T + 30, "20261127-A002"), c.called(T + 90, "20261127-A002"),
                c.done("ticket_finished", T + 1000, "20261127-A002"),
                c.rating(T + 1010, "20261127-A002", "rat-hai-long"),
                c.issued(T + 40, "20261127-A003"), c.called(T + 200, "20261127-A003"),
                c.done("ticket_finished", T + 400, "20261127-A003"),
                c.rating(T + 410, "20261127-A003", "hai-long")])
        conn = psycopg.connect(pg.conninfo, autocommit=True)
        want = sum(len(x.sent) for x in centres.values())
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM events").fetchone()[0] == want
                        and conn.execute("SELECT count(*) FROM case_events").fetchone()[0] == len(a.cases)
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
    assert list(rows[0]) == [pr.HEADERS[c][1] for c in pr.COLUMNS]
    got = [tuple(r.values()) for r in rows]
    # Columns: rank, centre, site, issued, served, ratings, share rated;
    # very satisfied, satisfied, not satisfied (of the ratings); satisfaction;
    # on time; within wait target; wait p50, p90; cases, closed on time;
    # the 766 estimate and its fraction of the points.
    #
    # An Bình: 5 issued (A001-A005), 4 served, 4 counted ratings (1 rất, 1
    # hài lòng, 2 không): 1/4, 1/4, 2/4; satisfaction 2/4.  On time: A001,
    # A003 (18 of dat-dai's 20), A005; not A002 -> 3/4.  Within the origin
    # field's 10 min: A001 (5), A002 (10), A005 (9); not A003 (20) -> 3/4.
    # Waits 5, 9, 10, 20: p50 is the 2nd (9), p90 the 4th (20).  Cases 1
    # (on time) and 2 (late): 1/2.  Flagged: A002 (late, không, case) and
    # A005 (không, case) -> 2 of 4: estimate 0.5, points 0.5 / 0.9 = 0.5556.
    #
    # Phú Mỹ: 4 issued, 3 served, 3 rated, all graded hài lòng by its own
    # grades (no rất): 0, 1, 0; satisfaction 3/3.  On time against its 8-min
    # target: B001 (5), B004 (5), not B002 (9) -> 2/3.  Within 5 min: B001
    # (2), B002 (4), B004 (5), not B003 (6) -> 3/4.  Waits 2, 4, 5, 6.  No
    # case.  Flagged: B002 (late) -> 1 of 3: estimate 2/3, points
    # 0.6667 / 0.9 = 0.7407.
    #
    # Tân Lập (no targets, no grades in its site/info): 3 issued, 3 served,
    # 2 rated (2/3); grades from its levels: rat-hai-long, the first of two
    # satisfied levels, is rất -> 1/2, 1/2, 0; satisfaction 2/2.  On time
    # against minutes_per_citizen 10: C001 (1), C003 (3.3), not C002
    # (15.2) -> 2/3.  No wait target: blank.  Waits 1, 1, 2.67: p50 1.0,
    # p90 2.7.  Flagged: C002 (late) -> 1 of 3: 2/3, 0.7407.
    #
    # Ranking: Phú Mỹ and Tân Lập tie on the estimate (2/3) and on
    # satisfaction (1); Phú Mỹ has a within-target share, Tân Lập none, so
    # Phú Mỹ first.  An Bình's estimate (0.5) is the lowest: third.
    assert got == [
        ("1", "Trung tâm Phú Mỹ", "xa-phu-my", "4", "3", "3", "1.0000", "0.0000", "1.0000", "0.0000",
         "1.0000", "0.6667", "0.7500", "4.0", "6.0", "0", "", "0.6667", "0.7407"),
        ("2", "Trung tâm Tân Lập", "xa-tan-lap", "3", "3", "2", "0.6667", "0.5000", "0.5000", "0.0000",
         "1.0000", "0.6667", "", "1.0", "2.7", "0", "", "0.6667", "0.7407"),
        ("3", "Trung tâm An Bình", "xa-an-binh", "5", "4", "4", "1.0000", "0.2500", "0.2500", "0.5000",
         "0.5000", "0.7500", "0.7500", "9.0", "20.0", "2", "0.5000", "0.5000", "0.5556"),
    ]
    # The projection folded the out-of-order, doubled events right.
    assert conn.execute("SELECT state, field, origin_field, transfers FROM tickets "
                        "WHERE site = 'xa-an-binh' AND ticket_id = '20261127-A003'").fetchone() \
        == ("finished", "dat-dai", "tu-phap", 1)
    # Case 1's closing arrived before its opening and twice: one row per
    # change, the case closed on time; case 2 closed a day late.
    assert conn.execute("SELECT event_id FROM case_events WHERE site = 'xa-an-binh' ORDER BY event_id"
                        ).fetchall() == [("case-1-closed",), ("case-1-opened",), ("case-2-closed",),
                                         ("case-2-looked_into",), ("case-2-opened",)]
    assert conn.execute("SELECT case_id, ticket_id, status, on_time, closed_at - opened_at, reasons FROM cases "
                        "ORDER BY case_id").fetchall() == [
        (1, "20261127-A002", "closed", True, 7200.0, ["cho-lau"]),
        (2, "20261127-A005", "closed", False, 4 * 86400.0, ["cho-lau"])]
    # The phone rating keeps its source and reasons, a box press its relay.
    assert conn.execute("SELECT ticket_id, source, reasons FROM ratings WHERE site = 'xa-an-binh' AND counted "
                        "AND level = 'khong-hai-long' ORDER BY ticket_id").fetchall() == [
        ("20261127-A002", "phone", ["cho-lau", "thai-do"]), ("20261127-A005", "bridge:counter-1", None)]
    # site/info: the targets and grades are stored as sent; the older one has none.
    info = dict(conn.execute("SELECT site, info FROM sites").fetchall())
    assert info["xa-phu-my"]["targets"]["tu-phap"] == {"wait_min": 5.0, "service_min": 8.0}
    assert info["xa-phu-my"]["grades"]["tot"] == "hai-long"
    assert "targets" not in info["xa-tan-lap"] and "grades" not in info["xa-tan-lap"]
    table = run_report(agg)
    assert "Xếp hạng các trung tâm, từ 27/11/2026 đến 27/11/2026" in table
    for words in ("Tỷ lệ hài lòng", "Rất hài lòng", "Không hài lòng", "Tỷ lệ gọi trong thời gian chờ mục tiêu", "Số phiếu theo dõi",
                  "Ước tính QĐ 766 (tỷ lệ)", "55,6%", "Trung tâm Phú Mỹ", "không phải điểm chính thức"):
        assert words in table
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


def test_ranking_by_estimate_then_satisfaction_then_within_target():
    day = dt.date(2026, 11, 27)
    facts = {s: pr.SiteFacts(s, s.upper(), "", frozenset({"ok"}), frozenset({"ok", "bad"}), {"f": 10.0},
                             wait_target={"f": 10.0}, service_target={"f": 10.0})
             for s in ("v", "x", "y", "z")}

    def served(site, n, wait_min, service_min):
        return pr.TicketRow(site, "f", "finished", 0.0, wait_min * 60, wait_min * 60,
                            wait_min * 60 + service_min * 60, "f", f"{site}{n}")
    # v: one ticket, on time, within, rated ok: nothing flagged, estimate 1.
    # x: two on time; x1 rated bad (flagged, with an open case due at 100),
    #    x2 not rated: estimate 1/2, satisfaction 0/1.
    # y: y1 late (flagged), y2 rated ok: estimate 1/2, satisfaction 1/1,
    #    both within 10 min: within 2/2.
    # z: as y, but z2 waited 12 min: within 1/2.
    tickets = [served("v", 1, 5, 5), served("x", 1, 5, 5), served("x", 2, 5, 5),
               served("y", 1, 5, 11), served("y", 2, 5, 5), served("z", 1, 5, 11), served("z", 2, 12, 5)]
    ratings = [pr.RatingRow("v", "ok", "v1"), pr.RatingRow("x", "bad", "x1"),
               pr.RatingRow("y", "ok", "y2"), pr.RatingRow("z", "ok", "z2")]
    cases = [pr.CaseRow("x", 1, "x1", "open", 100.0, None)]
    report = pr.compute(tickets, ratings, facts, day, day, cases, now=200.0)
    got = {f.site: (f.rank, f.estimate, f.satisfaction, f.within_share, f.cases, f.cases_on_time_share)
           for f in report.sites}
    assert got == {"v": (1, 1.0, 1.0, 1.0, 0, None), "y": (2, 0.5, 1.0, 1.0, 0, None),
                   "z": (3, 0.5, 1.0, 0.5, 0, None), "x": (4, 0.5, 0.0, 1.0, 1, 0.0)}
    # x's case is flagged once, with its rating: 1 of 2, not 2.
    assert [f.flagged for f in report.sites] == [0, 1, 1, 1]
    # Before its due time an open case is not yet late: no share at all.
    early = pr.compute(tickets, ratings, facts, day, day, cases, now=50.0)
    assert [(f.cases, f.cases_on_time_share) for f in early.sites if f.site == "x"] == [(1, None)]
    # A site whose site/info has not arrived: no satisfaction, no grades,
    # no estimate (which levels count is unknown), ranked below every other.
    unknown = pr.compute(tickets + [served("a", 1, 1, 1)], ratings + [pr.RatingRow("a", "ok", "a1")], facts,
                         day, day)
    a = unknown.sites[-1]
    assert (a.site, a.centre, a.rated, a.satisfaction, a.very_share, a.on_time_share, a.within_share,
            a.estimate) == ("a", "a", 1, None, None, None, None, None)
    assert any("site a: no site/info" in w for w in unknown.warnings)


def test_grades_fall_back_to_the_levels_when_site_info_has_none():
    # The same rule as the centre's RatingSection.grades: the first of two
    # or more satisfied levels is rất hài lòng.
    assert pr.fallback_grades([("a", True), ("b", True), ("c", False)]) == {
        "a": "rat-hai-long", "b": "hai-long", "c": "khong-hai-long"}
    assert pr.fallback_grades([("ok", True), ("bad", False)]) == {"ok": "hai-long", "bad": "khong-hai-long"}
    from kiosk import config as site_config
    from tests.conftest import DEMO_SITE
    rating = site_config.load(DEMO_SITE).rating
    assert pr.fallback_grades([(lv.code, lv.satisfied) for lv in rating.levels]) == rating.grades()


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
