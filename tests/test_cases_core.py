"""Follow-up cases, the core's side: the due time, the case a counted
"không hài lòng" rating opens in its own transaction, the head's changes
(``core/command`` ``case_update``), ``event/case``, a crash, an old file.

Real parts: SQLite files, the engine with its clock driven (the due rule is
about days), Mosquitto with the generated ACL and ``phucvu core`` in its own
process for what goes over the bus.  Every due time below is worked out by
hand from a calendar (27/11/2026 is a Friday), not from the code.
"""
from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import unicodedata
import uuid
import zoneinfo

import pytest

from kiosk import config as site_config
from kiosk.core import commands_cases
from kiosk.core.commands import Commands
from kiosk.core.domain import Queue
from kiosk.core.domain.cases import due_at
from kiosk.core.engine import Engine
from kiosk.core.read import ReadError, Reader
from kiosk.core.read.cases import read_cases
from kiosk.core.schema import MIGRATIONS
from kiosk.core.store import Store
from tests.conftest import DEMO_SITE
from tests.test_phone_core import Rig

ICT = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
DEMO_HOURS = '''[[hours]]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
open = "00:00"
close = "24:00"
'''


def local(*args: int) -> float:
    return dt.datetime(*args, tzinfo=ICT).timestamp()


def site_with(tmp_path, hours: str, deadline_days: int | None = None):
    """The demo site with other [[hours]] (and [cases] deadline_days)."""
    text = DEMO_SITE.read_text(encoding="utf-8")
    assert DEMO_HOURS in text
    text = text.replace(DEMO_HOURS, hours)
    if deadline_days is not None:
        text += f"\n[cases]\ndeadline_days = {deadline_days}\n"
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return site_config.load(path)


# ---------------------------------------------------------------- due time
def test_due_skips_the_weekend_and_ends_at_the_last_close(tmp_path):
    # No [[hours]] in the file: the default, Monday to Friday, last close 17:00.
    site = site_with(tmp_path, "")
    # Friday 27/11 15:00 → Mon 30/11, Tue 1/12, Wed 2/12: due Wednesday 17:00.
    assert due_at(site, local(2026, 11, 27, 15, 0)) == local(2026, 12, 2, 17, 0)
    # A rating on Saturday or Sunday counts from that day: the same three days.
    assert due_at(site, local(2026, 11, 28, 9, 0)) == local(2026, 12, 2, 17, 0)
    assert due_at(site, local(2026, 11, 29, 23, 59)) == local(2026, 12, 2, 17, 0)
    # Monday morning 07:05 → Tue, Wed, Thu.
    assert due_at(site, local(2026, 11, 30, 7, 5)) == local(2026, 12, 3, 17, 0)


def test_due_with_per_day_sessions_and_the_local_day(tmp_path):
    # The afternoon first: the last close is the latest, not the last listed.
    hours = '''[[hours]]
days = ["mon", "tue", "wed", "thu", "fri"]
open = "13:30"
close = "17:00"

[[hours]]
days = ["mon", "tue", "wed", "thu", "fri"]
open = "07:30"
close = "11:30"

[[hours]]
days = ["sat"]
open = "07:30"
close = "11:30"
'''
    site = site_with(tmp_path, hours)
    # Wednesday 2/12 → Thu 3, Fri 4, Sat 5: Saturday's session closes at 11:30.
    assert due_at(site, local(2026, 12, 2, 10, 0)) == local(2026, 12, 5, 11, 30)
    # Thursday 00:30 local is Wednesday 17:30 UTC: the local day counts.
    # Thu 3/12 → Fri 4, Sat 5, Mon 7 (Sunday has no session): Monday 17:00.
    assert due_at(site, local(2026, 12, 3, 0, 30)) == local(2026, 12, 7, 17, 0)
    one = site_with(tmp_path, hours, deadline_days=1)
    assert due_at(one, local(2026, 12, 4, 16, 0)) == local(2026, 12, 5, 11, 30)   # Fri → Sat
    assert due_at(one, local(2026, 12, 5, 11, 0)) == local(2026, 12, 7, 17, 0)    # Sat → Mon


# ---------------------------------------------------------------- opening
class Clock:
    def __init__(self, wall: float):
        self.wall, self.mono = wall, 1000.0

    def step(self, s: float) -> None:
        self.wall += s
        self.mono += s


@pytest.fixture
def centre(tmp_path, site):
    """The demo site (open every day 00:00–24:00, 3 working days) on the
    engine, on Saturday 28/11/2026 09:00; nv02 serves at counter 3."""
    clock = Clock(local(2026, 11, 28, 9, 0))
    store = Store(tmp_path / "phucvu.db")
    store.add_official("nv02", "Lê Thị Bình", None)
    engine = Engine(site, store, clock=lambda: clock.wall, monotonic=lambda: clock.mono,
                    boot=lambda: "boot-1")
    cmds = Commands(site, engine)
    assert cmds.core_command({"command_id": "in", "action": "login", "official": "nv02",
                              "counter": 3})["ok"]
    yield cmds, clock, store
    store.close()


def served(cmds: Commands, clock: Clock, n: int = 3, field: str = "dat-dai") -> str:
    ticket = cmds.core_command({"command_id": uuid.uuid4().hex, "action": "issue", "field": field})
    assert cmds.counter_command(n, {"command_id": uuid.uuid4().hex, "action": "next"})["ok"]
    clock.step(300)
    assert cmds.counter_command(n, {"command_id": uuid.uuid4().hex, "action": "finish"})["ok"]
    clock.step(4)
    return ticket["ticket"]["ticket_id"]


def update(cmds: Commands, case: int, status: str, note: str | None = None,
           command_id: str | None = None) -> dict:
    body = {"command_id": command_id or uuid.uuid4().hex, "action": "case_update", "case": case,
            "status": status, "by": "head01"}
    if note is not None:
        body["note"] = note
    return cmds.core_command(body)


def test_a_box_press_at_khong_hai_long_opens_a_case(centre):
    cmds, clock, store = centre
    ticket_id = served(cmds, clock)
    at = clock.wall
    events = cmds.engine.run("rate", 3, 3, rating_id="box-3:1:1", source="bridge:counter-3")
    # Saturday 28/11 → Sun 29, Mon 30, Tue 1/12 (the demo works every day):
    # due at the close 24:00 of Tuesday, i.e. Wednesday 00:00.
    assert events[-1]["case_due"] == local(2026, 12, 2, 0, 0)
    assert read_cases(store.conn) == [(
        1, "box-3:1:1", ticket_id, "2026-11-28", "dat-dai", 3, "nv02", "khong-hai-long",
        "bridge:counter-3", None, at, local(2026, 12, 2, 0, 0), "open", None, None, None, None, at,
        None)]


def test_a_phone_rating_opens_one_with_its_reasons_and_the_comment_for_the_head(centre):
    cmds, clock, store = centre
    ticket_id = served(cmds, clock)
    cmds.engine.run("rate_phone", ticket_id, 3, rating_id="phone-1", reasons=["cho-lau", "khac"],
                    comment="Đợi gần 1 tiếng")
    (case,) = read_cases(store.conn)
    assert (case.id, case.source, case.reasons, case.official, case.comment) == (
        1, "phone", ["cho-lau", "khac"], "nv02", "Đợi gần 1 tiếng")
    # The row without the comment: what a reply or the bus may carry.
    assert "comment" not in store.case(1) and store.case(1)["reasons"] == ["cho-lau", "khac"]


def test_satisfied_anomalies_and_extra_presses_open_none(centre):
    cmds, clock, store = centre
    cmds.engine.run("rate", 3, 3, rating_id="r-nowindow")          # no window: no_window
    served(cmds, clock)
    cmds.engine.run("rate", 3, 2, rating_id="r-hai-long")          # counted, hài lòng
    clock.step(2)
    cmds.engine.run("rate", 3, 3, rating_id="r-extra")             # extra_press
    ticket_id = served(cmds, clock)
    clock.step(0.2)
    cmds.engine.run("rate", 3, 1, rating_id="r-rat")               # rất hài lòng
    clock.step(0.3)
    cmds.engine.run("rate", 3, 3, rating_id="r-fast")              # too_fast
    cmds.engine.run("rate_phone", ticket_id, 3, rating_id="r-phone", reasons=[], comment=None)
    reasons = dict(store.conn.execute("SELECT id, coalesce(reason, 'counted') FROM ratings"))
    assert reasons == {"r-nowindow": "no_window", "r-hai-long": "counted", "r-extra": "extra_press",
                       "r-rat": "counted", "r-fast": "too_fast", "r-phone": "extra_press"}
    assert read_cases(store.conn) == []


# ---------------------------------------------------------------- changes
def test_transitions_and_each_refusal(centre):
    cmds, clock, store = centre
    for rid in ("r1", "r2"):
        served(cmds, clock)
        cmds.engine.run("rate", 3, 3, rating_id=rid)
    opened = clock.wall
    clock.step(3600)
    looked = update(cmds, 1, "looked_into")
    assert looked["ok"] and looked["action"] == "case_update"
    assert looked["case"] == {**store.case(1), "status": "looked_into", "looked_at": clock.wall}
    assert looked["case"]["updated_at"] == clock.wall and looked["case"]["opened_at"] < opened
    again = update(cmds, 1, "looked_into", "lần nữa")
    assert again["error"] == {"code": "bad_transition", "message":
                              "Phản ánh số 1 đang ở trạng thái “đang xem xét”, không chuyển "
                              "sang “đang xem xét” được."}
    assert update(cmds, 1, "closed")["error"]["code"] == "note_required"
    assert update(cmds, 1, "closed", "   ")["error"]["code"] == "note_required"
    too_long = update(cmds, 1, "closed", "a" * 1001)["error"]
    assert too_long == {"code": "bad_note", "message": "Ghi chú không hợp lệ: dài 1001 ký tự, tối đa 1000."}
    assert update(cmds, 1, "closed", "gọi\x07 lại")["error"]["code"] == "bad_note"
    assert update(cmds, 99, "closed", "x")["error"] == {
        "code": "unknown_case", "message": "Không tìm thấy phản ánh số 99."}
    clock.step(60)
    # Decomposed Vietnamese (a browser may send it) is stored composed, trimmed;
    # 1000 characters is the most, and a line break is allowed.
    # A text area's line break (\r\n) is stored as \n.
    note = unicodedata.normalize("NFD", "Đã gọi điện xin lỗi công dân.\r\nNhắc nhở cán bộ.")
    closed = update(cmds, 1, "closed", f"  {note}  ")
    stored = "Đã gọi điện xin lỗi công dân.\nNhắc nhở cán bộ."
    assert closed["case"]["note"] == stored and closed["case"]["closed_by"] == "head01"
    assert closed["case"] == store.case(1)
    assert store.case(1)["closed_at"] == clock.wall and store.case(1)["status"] == "closed"
    for status in ("looked_into", "closed"):
        assert update(cmds, 1, status, "x")["error"]["code"] == "bad_transition"
    # Open straight to closed, never looked into, on Thursday 3/12: after its
    # due time (Wednesday 00:00), so not on time.
    clock.wall = local(2026, 12, 3, 8, 0)
    full = "ư" * 1000
    direct = update(cmds, 2, "closed", full)["case"]
    assert (direct["status"], direct["looked_at"], direct["note"]) == ("closed", None, full)
    # What event/case says of each change, from the journal's events.
    said = [(b["event_id"], b["status"], b["at"], b["closed_at"], b["on_time"])
            for b in commands_cases.case_events(store, list(store.journal()))]
    one = store.case(1)
    assert said == [("case-1-opened", "open", one["opened_at"], None, None),
                    ("case-2-opened", "open", direct["opened_at"], None, None),
                    ("case-1-looked_into", "looked_into", one["looked_at"], None, None),
                    ("case-1-closed", "closed", one["closed_at"], one["closed_at"], True),
                    ("case-2-closed", "closed", local(2026, 12, 3, 8, 0),
                     local(2026, 12, 3, 8, 0), False)]
    log = Reader(store.path).case_log(1)
    assert [(r["status"], r["by"], r["note"]) for r in log] == [
        ("looked_into", "head01", None), ("closed", "head01", stored)]
    # The bus contract: status must be one of the two changes, case a number.
    bad = cmds.core_command({"command_id": "b1", "action": "case_update", "case": 2, "status": "open"})
    assert bad["error"]["code"] == "bad_payload"
    for body in ({"status": "closed", "by": "head01"}, {"case": 2, "status": "closed", "note": "x"}):
        bad = cmds.core_command({"command_id": uuid.uuid4().hex, "action": "case_update", **body})
        assert bad["error"]["code"] == "bad_payload"
        assert "needs 'case', 'status' and 'by'" in bad["error"]["message"]
    assert store.case(2)["status"] == "closed" and len(store.conn.execute(
        "SELECT * FROM case_log WHERE case_id = 2").fetchall()) == 1


def test_a_redelivered_command_gets_the_same_reply_and_applies_once(centre):
    cmds, clock, store = centre
    served(cmds, clock)
    cmds.engine.run("rate", 3, 3, rating_id="r1")
    first = update(cmds, 1, "closed", "Đã xử lý", command_id="web-1")
    clock.step(30)
    assert update(cmds, 1, "closed", "Đã xử lý", command_id="web-1") == first
    refused = update(cmds, 1, "looked_into", command_id="web-2")
    assert update(cmds, 1, "looked_into", command_id="web-2") == refused
    rows = store.conn.execute("SELECT status FROM case_log").fetchall()
    assert rows == [("closed",)] and store.case(1)["closed_at"] == first["case"]["closed_at"]
    # The journal replays into the queue (a change is no queue state) and
    # carries the case's due time whatever the config says later.
    journal = list(store.journal())
    assert [e["kind"] for e in journal].count("case_updated") == 1
    Queue.replay(cmds.config, journal)
    assert next(e for e in journal if e.get("rating_id") == "r1")["case_due"] == store.case(1)["due_at"]


# ---------------------------------------------------------------- schema
def test_a_schema_8_file_upgrades_with_no_case_for_older_ratings(tmp_path, site):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for sql in MIGRATIONS[:8]:
        conn.executescript(sql)
    conn.execute("PRAGMA user_version = 8")
    conn.execute("INSERT INTO ratings (id, ticket_id, counter, level, at, counted, official, source) "
                 "VALUES ('old-1', '20261127-C001', 3, 'khong-hai-long', ?, 1, 'nv02', 'box')",
                 (local(2026, 11, 27, 10, 0),))
    conn.commit()
    conn.close()
    # Read before the core migrates it: one line saying what to do (the
    # tickets table lacks schema 10's columns before cases are even asked for).
    with pytest.raises(ReadError, match="lacks column.*est_wait_s.*start the newer core once"):
        Reader(db)
    clock = Clock(local(2026, 11, 28, 9, 0))
    store = Store(db)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert store.conn.execute("SELECT COUNT(*) FROM cases").fetchone() == (0,)
        cmds = Commands(site, Engine(site, store, clock=lambda: clock.wall,
                                     monotonic=lambda: clock.mono, boot=lambda: "b"))
        served(cmds, clock, 1, "tu-phap")
        cmds.engine.run("rate", 1, 3, rating_id="new-1")
    finally:
        store.close()
    with Reader(db) as reader:
        assert [(c.id, c.rating_id) for c in reader.cases()] == [(1, "new-1")]
        assert reader.cases(statuses=("closed",)) == [] and reader.cases(day_to="2026-11-27") == []


# ---------------------------------------------------------------- the bus
@pytest.fixture
def rig(broker, bus, tmp_path):
    r = Rig(broker, bus, tmp_path)
    yield r
    r.core.stop()


def _case_rows(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, rating_id, status FROM cases ORDER BY id").fetchall()
    finally:
        conn.close()


def _rating_at(db, rating_id: str) -> float:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT at FROM ratings WHERE id = ?", (rating_id,)).fetchone()[0]
    finally:
        conn.close()


def test_event_case_after_the_commit_without_note_or_comment(rig):
    assert rig.core_command(action="official_add", official="nv01", name="Nguyễn Văn An")["ok"]
    assert rig.core_command(action="login", official="nv01", counter=1)["ok"]
    ticket_id = rig.served(1)
    since = rig.mark()
    reply = rig.rate(ticket_id, 3, reasons=["thai-do", "khac"], comment="Cán bộ nói nặng lời")
    assert reply["counted"]
    opened = rig.wait(lambda t, b: t == "event/case", since)
    # Published after the commit: the row is on disk when the event is out.
    assert _case_rows(rig.core.db) == [(1, reply["rating_id"], "open")]
    at = _rating_at(rig.core.db, reply["rating_id"])
    day = dt.datetime.fromtimestamp(at, ICT).date()
    # The demo works every day until 24:00: due at the end of the 3rd day after.
    due = dt.datetime.combine(day + dt.timedelta(days=4), dt.time(0), tzinfo=ICT).timestamp()
    facts = {"ticket_id": ticket_id, "day": day.isoformat(), "field": "tu-phap", "counter": 1,
             "official": "nv01", "level": "khong-hai-long", "source": "phone",
             "reasons": ["thai-do", "khac"], "opened_at": at, "due_at": due}
    assert opened == {"event_id": "case-1-opened", "case": 1, "change": "opened", "at": at, **facts,
                      "status": "open", "closed_at": None, "on_time": None}
    since = rig.mark()
    closed = rig.core_command(action="case_update", case=1, status="closed", by="head01",
                              note="Đã xin lỗi công dân")
    event = rig.wait(lambda t, b: t == "event/case", since)
    assert event == {"event_id": "case-1-closed", "case": 1, "change": "closed",
                     "at": closed["case"]["closed_at"], **facts, "status": "closed",
                     "closed_at": closed["case"]["closed_at"], "on_time": True}
    # What the head wrote is only in the command and its reply; what the
    # citizen typed only in the phone's own message: never in an event.
    with rig.spy.cond:
        seen = [(t.removeprefix(rig.spy.prefix + "/"), p) for t, p, _ in rig.spy.messages]
    assert {t for t, p in seen if "xin lỗi".encode() in p} == {"core/command", "core/reply"}
    assert {t for t, p in seen if "nặng lời".encode() in p} == {"phone/rating"}


def test_kill_9_right_after_the_ack_keeps_exactly_one_case(rig):
    ticket_id = rig.served(1)
    rig.wait(lambda t, b: t == "counter/1/state" and (b["rating_window"] or {}).get("ticket_id") == ticket_id)
    rid = f"box-1:00000001:{uuid.uuid4().hex[:8]}"
    rig.box.publish("counter/1/rating", {"rating_id": rid, "level": 3})
    ack = rig.wait(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == rid)
    rig.core.proc.send_signal(signal.SIGKILL)
    rig.core.proc.wait()
    rig.core.proc = None
    assert ack["counted"] and ack["level"] == "khong-hai-long"
    rig.core.start()
    assert _case_rows(rig.core.db) == [(1, rid, "open")]
    # The box sends it again (it never saw the ack): the stored outcome, no second case.
    since = rig.mark()
    rig.box.publish("counter/1/rating", {"rating_id": rid, "level": 3})
    again = rig.wait(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == rid, since)
    assert again["counted"] and _case_rows(rig.core.db) == [(1, rid, "open")]


def test_only_web_and_cli_change_a_case(rig, bus):
    ticket_id = rig.served(1)
    assert rig.rate(ticket_id, 3, reasons=["cho-lau"])["counted"]
    # The phone page's server and a counter box may not publish core/command:
    # the broker drops it, the core never sees it.
    since = rig.mark()
    for login in (rig.phone, rig.box):
        login.publish("core/command", {"command_id": f"x-{login.user}", "action": "case_update",
                                       "case": 1, "status": "closed", "note": "giả mạo", "by": "head01"})
        # A sentinel on the same connection, which its ACL allows: once the
        # spy has it, the broker has taken (and dropped) the probe before it.
        login.publish(f"presence/{login.user}", {"sentinel": login.user})
    for login in (rig.phone, rig.box):
        rig.wait(lambda t, b, u=login.user: t == f"presence/{u}" and b.get("sentinel") == u, since)
    web = bus("web")
    web.subscribe("core/reply")
    web.publish("core/command", {"command_id": "web-1", "action": "case_update", "case": 1,
                                 "status": "looked_into", "by": "head01"})
    reply = web.wait_for(lambda t, b: t == "core/reply" and b.get("command_id") == "web-1", 20)
    # Had the core taken a probe, it would have handled it before web's command.
    assert reply["ok"] and reply["case"]["status"] == "looked_into"
    conn = sqlite3.connect(rig.core.db)
    try:
        log = conn.execute("SELECT status, note FROM case_log").fetchall()
        kept = conn.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
    finally:
        conn.close()
    assert log == [("looked_into", None)] and kept == 0
