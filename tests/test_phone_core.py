"""The core's side of the citizen's phone page: ratings from a phone judged
like a box's press (whichever comes first counts), the retained
``queue/tickets`` a phone reads, and the QR the core prints (the records
without a bus: tests/test_phone_records.py).

Real parts: Mosquitto with the generated ACL, ``phucvu core`` in its own
process on a real SQLite file with a site that has ``[phone]``, the phone
page's own login (``phone``) publishing what its server would, and the
ticket bytes the core sent to its printer, decoded.  The phone window,
which is minutes long, is tested on the engine with its clock driven.
"""
from __future__ import annotations

import json
import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from kiosk import config as site_config
from kiosk import contract
from kiosk.core.commands import Commands
from kiosk.core.engine import Engine
from kiosk.core.store import Store
from kiosk.phone import token
from kiosk.printing import decode
from tests.conftest import DEMO_SITE, CoreProcess

PUBLIC_URL = "http://192.168.4.1:8090"
MORNING = 1795800000.0   # 2026-11-28 morning in Asia/Ho_Chi_Minh


def write_site(directory: Path, window_min: int | None = None) -> Path:
    """The demo site with a ``[phone]`` section, as ``site.toml`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    extra = f'\n[phone]\npublic_url = "{PUBLIC_URL}"\nsecret_file = "{directory / "phone.key"}"\n'
    if window_min is not None:
        extra += f"rating_window_min = {window_min}\n"
    path = directory / "site.toml"
    path.write_text(DEMO_SITE.read_text() + extra)
    return path


class Rig:
    """A core with [phone] on the test broker, a spy on everything, the phone page's login."""

    def __init__(self, broker, bus, tmp_path: Path):
        write_site(tmp_path)
        self.core = CoreProcess(broker, tmp_path / "phucvu.db").start()
        # The same file the core made at its start: the phone page's server reads it too.
        self.secret = token.load_or_create(tmp_path / "phone.key")
        self.spy = bus("tester")
        self.spy.subscribe("#")
        self.phone = bus("phone")
        self.box = bus("counter-1")
        self.tickets_dir = tmp_path / "tickets"

    def mark(self) -> int:
        with self.spy.cond:
            return len(self.spy.messages)

    def wait(self, pred, since: int = 0, timeout: float = 20.0) -> dict:
        """The first message from index ``since`` on for which pred(topic, body) holds."""
        spy, deadline = self.spy, time.monotonic() + timeout
        with spy.cond:
            while True:
                for topic, payload, _ in spy.messages[since:]:
                    rel = topic.removeprefix(spy.prefix + "/")
                    try:
                        body = json.loads(payload)
                    except ValueError:
                        continue
                    if pred(rel, body):
                        return body
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching message after {since}")
                spy.cond.wait(left)

    def core_command(self, **body) -> dict:
        cid = uuid.uuid4().hex[:12]
        self.spy.publish("core/command", {"command_id": cid, **body})
        return self.wait(lambda t, b: t == "core/reply" and b.get("command_id") == cid)

    def counter(self, n: int, action: str, **extra) -> dict:
        cid = uuid.uuid4().hex[:12]
        self.spy.publish(f"counter/{n}/command", {"command_id": cid, "action": action, **extra})
        return self.wait(lambda t, b: t == f"counter/{n}/reply" and b.get("command_id") == cid)

    def issue(self, field: str = "tu-phap") -> str:
        reply = self.core_command(action="issue", field=field)
        assert reply["ok"], reply
        return reply["ticket"]["ticket_id"]

    def served(self, n: int = 1, field: str = "tu-phap") -> str:
        """A ticket issued, called at counter n and finished there."""
        ticket_id = self.issue(field)
        called = self.counter(n, "next")
        assert called["ticket"]["ticket_id"] == ticket_id, called
        assert self.counter(n, "finish")["ok"]
        return ticket_id

    def rate(self, ticket_id: str, level: int, tok: str | None = None, **extra) -> dict:
        rid = f"phone-{uuid.uuid4().hex[:16]}"
        body = {"rating_id": rid, "ticket_id": ticket_id,
                "token": tok if tok is not None else token.make(self.secret, ticket_id),
                "level": level, "client": "a1b2c3d4", **extra}
        self.phone.publish("phone/rating", body)
        return self.wait(lambda t, b: t == "phone/reply" and b.get("rating_id") == rid)

    def press(self, level: int, n: int = 1) -> dict:
        rid = f"box-{n}:00000001:{uuid.uuid4().hex[:8]}"
        self.box.publish(f"counter/{n}/rating", {"rating_id": rid, "level": level})
        return self.wait(lambda t, b: t == f"counter/{n}/reply" and b.get("rating_id") == rid)

    def rows(self) -> list[tuple]:
        conn = sqlite3.connect(self.core.db)
        try:
            return conn.execute("SELECT id, ticket_id, counter, level, counted, reason, official, "
                                "source, reasons, comment FROM ratings ORDER BY rowid").fetchall()
        finally:
            conn.close()

    def rejected(self) -> list[tuple]:
        conn = sqlite3.connect(self.core.db)
        try:
            return conn.execute("SELECT topic, reason FROM rejected ORDER BY id").fetchall()
        finally:
            conn.close()


@pytest.fixture
def rig(broker, bus, tmp_path):
    r = Rig(broker, bus, tmp_path)
    yield r
    r.core.stop()


def _tickets(rig: Rig, since: int, pred) -> dict:
    """The first queue/tickets from ``since`` on for which ``pred(tickets)``
    holds; an earlier one may lack a ticket the predicate names."""
    def match(t, b):
        try:
            return t == "queue/tickets" and pred(b["tickets"])
        except KeyError:
            return False
    return rig.wait(match, since)


# ---------------------------------------------------------------- judging
def test_a_phone_rating_counts_for_the_official_who_served_and_ends_the_box_window(rig):
    assert rig.core_command(action="official_add", official="nv01", name="Nguyễn Văn An")["ok"]
    assert rig.core_command(action="login", official="nv01", counter=1)["ok"]
    ticket_id = rig.served(1)
    rig.wait(lambda t, b: t == "counter/1/state" and (b["rating_window"] or {}).get("ticket_id") == ticket_id)
    # Somebody else sits at the counter by the time the citizen rates: the
    # rating is still the one who served.
    assert rig.core_command(action="official_add", official="nv02", name="Lê Thị Bình")["ok"]
    assert rig.core_command(action="login", official="nv02", counter=1)["ok"]
    since = rig.mark()
    reply = rig.rate(ticket_id, 3, reasons=["cho-lau", "khac"], comment="Đợi gần 1 tiếng")
    assert reply == {"rating_id": reply["rating_id"], "ok": True, "counted": True,
                     "ticket_id": ticket_id, "level": "khong-hai-long"}
    event = rig.wait(lambda t, b: t == "event/rating" and b["rating_id"] == reply["rating_id"], since)
    assert event["counted"] and event["source"] == "phone" and event["official"] == "nv01"
    assert event["counter"] == 1 and event["reasons"] == ["cho-lau", "khac"]
    # What the citizen typed and the phone's hash stay in the database.
    assert "comment" not in event and "client" not in event and "mono" not in event
    # The box's lights go out: its window for this ticket is over.
    rig.wait(lambda t, b: t == "counter/1/state" and b["rating_window"] is None, since)
    _tickets(rig, since, lambda ts: ts[ticket_id]["rated"] == "phone")
    # The box's press that follows is an extra one, never a second rating.
    pressed = rig.press(1)
    # (after_window only if this machine took over [rating] window_s since the finish)
    assert pressed["ok"] and not pressed["counted"] and pressed["reason"] in ("extra_press", "after_window")
    rows = rig.rows()
    assert rows[0] == (reply["rating_id"], ticket_id, 1, "khong-hai-long", 1, None, "nv01", "phone",
                       '["cho-lau", "khac"]', "Đợi gần 1 tiếng")
    assert [r[4] for r in rows] == [1, 0]


def test_box_in_its_window_after_a_phone_rating_is_an_extra_press(rig):
    """The box's window is still open in time, but the ticket is rated: extra_press."""
    ticket_id = rig.served(1)
    assert rig.rate(ticket_id, 1)["counted"]
    pressed = rig.press(1)
    assert pressed["ok"] and pressed["reason"] == "extra_press" and not pressed["counted"]
    assert [(r[4], r[5], r[7]) for r in rig.rows()] == [(1, None, "phone"), (0, "extra_press", "box")]


def test_box_first_then_phone_is_already_rated_and_kept(rig):
    ticket_id = rig.served(1)
    since = rig.mark()
    assert rig.press(1)["counted"]
    reply = rig.rate(ticket_id, 3, reasons=["thai-do"])
    assert reply["ok"] is False and reply["error"]["code"] == "already_rated"
    assert reply["error"]["message"].startswith("Lượt phục vụ này đã được đánh giá")
    # Sent again (the page heard nothing): the same answer, stored once.
    again = rig.rate(ticket_id, 3)
    assert again["error"]["code"] == "already_rated"
    rows = rig.rows()
    assert [(r[4], r[5], r[7]) for r in rows] == [(1, None, "box"), (0, "extra_press", "phone"),
                                                  (0, "extra_press", "phone")]
    assert rows[1][8] == '["thai-do"]'
    _tickets(rig, since, lambda ts: ts[ticket_id]["rated"] == "box")


def test_a_forged_or_borrowed_token_is_bad_token_and_nothing_counts(rig):
    mine, other = rig.served(1), rig.served(2)
    forged = rig.rate(mine, 1, tok="AbCdEfGhIjKlMnOp")
    assert forged["error"] == {"code": "bad_token", "message": "Mã phiếu không hợp lệ."}
    borrowed = rig.rate(mine, 1, tok=token.make(rig.secret, other))
    assert borrowed["error"]["code"] == "bad_token"
    assert rig.rows() == []
    assert [r[1].split(":")[0] for r in rig.rejected()] == ["bad_token", "bad_token"]
    # The genuine token of the same ticket still counts: nothing above used it up.
    assert rig.rate(mine, 2)["counted"]


def test_unserved_tickets_bad_reasons_and_levels(rig):
    waiting = rig.issue()
    assert rig.rate(waiting, 1)["error"]["code"] == "not_finished"
    rig.counter(1, "next")
    assert rig.rate(waiting, 1)["error"]["code"] == "not_finished"       # called, not served
    assert rig.rate("20261127-Z999", 1)["error"]["code"] == "unknown_ticket"
    rig.counter(1, "finish")
    for bad in ({"level": 1, "reasons": ["cho-lau"]},                     # satisfied level
                {"level": 3, "reasons": ["khong-co"]},                    # not the site's
                {"level": 3, "reasons": ["cho-lau", "cho-lau"]},
                {"level": 3, "reasons": ["cho-lau"], "comment": "không có khac"},
                {"level": 3, "reasons": ["khac"], "comment": "x" * 201},
                {"level": 3, "reasons": ["khac"], "comment": "chuông\x07"}):
        reply = rig.rate(waiting, bad.pop("level"), **bad)
        assert reply["error"]["code"] == "bad_reason", bad
    assert rig.rows() == []
    unknown = rig.rate(waiting, 9)
    assert unknown["error"]["code"] == "bad_level"
    assert [(r[3], r[4], r[5]) for r in rig.rows()] == [("level-9", 0, "bad_level")]
    # A level that exists still counts after all that.
    assert rig.rate(waiting, 3, reasons=["khac"], comment="  Đợi lâu  ")["counted"]
    assert rig.rows()[-1][9] == "Đợi lâu"
    codes = [r[1].split(":")[0] for r in rig.rejected()]
    assert codes.count("not_finished") == 2 and codes.count("bad_reason") == 6
    assert codes.count("unknown_ticket") == 1


def test_a_payload_that_breaks_the_contract_is_bad_payload(rig):
    rig.phone.publish("phone/rating", {"rating_id": "phone-x1", "ticket_id": "20261127-A001",
                                       "token": "AbCdEfGhIjKlMnOp", "level": "3"})
    reply = rig.wait(lambda t, b: t == "phone/reply" and b.get("rating_id") == "phone-x1")
    assert reply["error"]["code"] == "bad_payload"
    rig.phone.publish("phone/rating", {"rating_id": "box-1:00000001:1", "ticket_id": "x",
                                       "token": "AbCdEfGhIjKlMnOp", "level": 3})
    reply = rig.wait(lambda t, b: t == "phone/reply" and b.get("rating_id") == "box-1:00000001:1")
    assert reply["error"]["code"] == "bad_payload"
    assert rig.rows() == []


# ---------------------------------------------------------------- window
@pytest.fixture
def windowed(tmp_path):
    site = site_config.load(write_site(tmp_path, window_min=1))
    clock = {"wall": MORNING}
    store = Store(tmp_path / "w.db")
    engine = Engine(site, store, clock=lambda: clock["wall"], monotonic=lambda: clock["wall"] - MORNING)
    secret = token.load_or_create(site.phone.secret_file)
    cmds = Commands(site, engine, phone_secret=secret)
    yield cmds, clock, secret
    store.close()


def _serve(cmds: Commands, n: int = 1) -> str:
    ticket = cmds.core_command({"command_id": uuid.uuid4().hex, "action": "issue", "field": "tu-phap"})
    cmds.counter_command(n, {"command_id": uuid.uuid4().hex, "action": "next"})
    cmds.counter_command(n, {"command_id": uuid.uuid4().hex, "action": "finish"})
    return ticket["ticket"]["ticket_id"]


def _rate(cmds: Commands, secret: bytes, ticket_id: str, level: int = 1, rid: str | None = None):
    body = {"rating_id": rid or f"phone-{uuid.uuid4().hex[:12]}", "ticket_id": ticket_id,
            "token": token.make(secret, ticket_id), "level": level}
    return cmds.handle(cmds.topics.phone_rating, contract.encode(body)).reply


def test_after_the_phone_window_a_rating_is_kept_as_after_window(windowed):
    cmds, clock, secret = windowed
    late, on_time = _serve(cmds, 1), _serve(cmds, 2)
    clock["wall"] += 59
    assert _rate(cmds, secret, on_time)["counted"]
    clock["wall"] += 2                      # 61 s after the finish: rating_window_min = 1
    reply = _rate(cmds, secret, late, rid="phone-late")
    assert reply["error"]["code"] == "window_closed"
    assert _rate(cmds, secret, late, rid="phone-late") == reply
    rows = cmds.engine.store.conn.execute(
        "SELECT ticket_id, counted, reason, source FROM ratings ORDER BY rowid").fetchall()
    assert rows == [(on_time, 1, None, "phone"), (late, 0, "after_window", "phone")]


def test_a_closed_day_closes_every_phone_window(tmp_path):
    site = site_config.load(write_site(tmp_path))          # no rating_window_min: until day close
    clock = {"wall": MORNING}
    store = Store(tmp_path / "d.db")
    engine = Engine(site, store, clock=lambda: clock["wall"], monotonic=lambda: clock["wall"] - MORNING)
    secret = token.load_or_create(site.phone.secret_file)
    cmds = Commands(site, engine, phone_secret=secret)
    first, second = _serve(cmds), _serve(cmds)
    clock["wall"] += 3 * 3600
    assert _rate(cmds, secret, first)["counted"]            # hours later, the same day
    cmds.core_command({"command_id": "close", "action": "close_day"})
    assert _rate(cmds, secret, second)["error"]["code"] == "window_closed"
    store.close()


# ---------------------------------------------------------------- queue/tickets
def test_queue_tickets_follows_calls_transfers_finishes_and_the_day_close(rig, site):
    since = rig.mark()
    a1, a2, a3 = rig.issue(), rig.issue(), rig.issue()
    # Each new ticket carries the wait it was told at issue until the
    # forecast's next play, in the core's first quiet moment after the
    # issues (kiosk/core/service_waits.py); the list itself follows at most
    # once a second.
    body = _tickets(rig, since, lambda ts: a3 in ts and "wait_min" in ts[a3])
    # Only what there is to say (the number is the id's tail).
    a3_body = body["tickets"][a3]
    assert a3_body == {"field": "tu-phap", "state": "waiting", "ahead": 2,
                       **{k: a3_body[k] for k in ("wait_min", "wait_low_min", "wait_high_min")}}
    assert 0 <= a3_body["wait_low_min"] <= a3_body["wait_min"] <= a3_body["wait_high_min"]
    minutes = site.field("tu-phap").minutes_per_citizen
    serving = len([c for c in site.counters if "tu-phap" in c.fields])
    assert body["tickets"][a3]["wait_min"] == round(2 * minutes * 60 / serving / 60, 1)
    assert rig.counter(1, "next")["ticket"]["ticket_id"] == a1
    ts = _tickets(rig, since, lambda ts: ts[a1]["state"] == "called")["tickets"]
    assert ts[a1] == {"field": "tu-phap", "state": "called", "counter": 1}
    assert (ts[a2]["ahead"], ts[a3]["ahead"]) == (0, 1)
    assert rig.counter(1, "recall")["ok"]                  # a recall alerts the phone again
    ts = _tickets(rig, since, lambda ts: ts[a1]["recalls"] == 1)["tickets"]
    assert ts[a1]["state"] == "called"
    # Handed on to another field: waiting there, and it says where it came from.
    assert rig.counter(1, "transfer", to_field="chung-thuc")["ok"]
    ts = _tickets(rig, since, lambda ts: ts[a1]["field"] == "chung-thuc")["tickets"]
    assert ts[a1]["state"] == "waiting" and ts[a1]["origin_field"] == "tu-phap"
    assert "counter" not in ts[a1] and ts[a1]["ahead"] == 0 and "recalls" not in ts[a1]
    assert rig.counter(2, "call", number="A001")["ok"]
    assert rig.counter(2, "finish")["ok"]
    ts = _tickets(rig, since, lambda ts: ts[a1]["state"] == "finished")["tickets"]
    # No official and nothing a phone need not see; not rated yet.
    assert ts[a1] == {"field": "chung-thuc", "origin_field": "tu-phap", "state": "finished",
                      "counter": 2}
    with rig.spy.cond:
        got = [m for m in rig.spy.messages[since:] if m[0].endswith("/queue/tickets")]
    assert len(got) >= 4
    rig.core_command(action="close_day")
    closed = rig.wait(lambda t, b: t == "queue/tickets" and b["day_closed"], since)
    assert closed["tickets"] == {}


def test_queue_tickets_is_published_at_most_once_a_second_and_ends_on_the_last_change(rig):
    stamps: list[float] = []
    original = rig.spy.client.on_message

    def timed(client, userdata, msg):
        if msg.topic.endswith("/queue/tickets"):
            stamps.append(time.monotonic())
        original(client, userdata, msg)

    rig.spy.client.on_message = timed
    since = rig.mark()
    last = None
    for _ in range(12):
        last = rig.issue()
    body = _tickets(rig, since, lambda ts: last in ts)
    assert len(body["tickets"]) == 12
    time.sleep(1.5)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert stamps and all(g > 0.8 for g in gaps), gaps     # loopback jitter allowed


def test_a_rating_survives_a_kill_right_after_its_reply(rig, broker, tmp_path):
    ticket_id = rig.served(1)
    reply = rig.rate(ticket_id, 2)
    assert reply["counted"]
    rig.core.proc.send_signal(signal.SIGKILL)
    rig.core.proc.wait()
    rig.core.proc = None
    since = rig.mark()
    rig.core.start()
    body = _tickets(rig, since, lambda ts: ticket_id in ts)
    assert body["tickets"][ticket_id]["rated"] == "phone"
    assert [(r[0], r[4], r[7]) for r in rig.rows()] == [(reply["rating_id"], 1, "phone")]
    # The same rating sent again after the restart is the stored outcome, not a second row.
    rig.phone.publish("phone/rating", {"rating_id": reply["rating_id"], "ticket_id": ticket_id,
                                       "token": token.make(rig.secret, ticket_id), "level": 2})
    again = rig.wait(lambda t, b: t == "phone/reply" and b.get("rating_id") == reply["rating_id"], since)
    assert again == reply and len(rig.rows()) == 1


# ---------------------------------------------------------------- paper
def test_the_core_prints_the_phone_address_on_the_ticket(rig):
    ticket_id = rig.issue()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not list(rig.tickets_dir.glob("*.bin")):
        time.sleep(0.05)
    time.sleep(0.2)
    jobs = sorted(rig.tickets_dir.glob("*.bin"))
    assert jobs, "the core printed nothing"
    ops = decode.parse(jobs[-1].read_bytes())
    assert [op.data for op in ops if isinstance(op, decode.QrCode)] == [
        token.address(PUBLIC_URL, rig.secret, ticket_id)]
