"""The command pipeline without a broker: decode, dedupe, run, reply.

The same ``Commands`` the core runs on the bus, on a real SQLite file with
the clock driven by the test: what the command line gets when no core runs
is what the core would have replied.
"""
import json
import sqlite3

import pytest

from kiosk.core.auth import hash_pin
from kiosk.core.commands import Commands
from kiosk.core.engine import Engine
from kiosk.core.printq import PrintJob, record
from kiosk.core.read import Reader
from kiosk.core.store import Store
from kiosk.printing.printer import PrintResult

MORNING = 1795800000.0   # 2026-11-28 morning in Asia/Ho_Chi_Minh


@pytest.fixture
def engine(site, tmp_path):
    store = Store(tmp_path / "c.db")
    yield Engine(site, store, clock=lambda: MORNING, monotonic=lambda: 1000.0)
    store.close()


def count(engine, table):
    return engine.store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_command_id_seen_before_gets_the_stored_reply_and_applies_nothing(engine, site):
    c = Commands(site, engine)
    first = c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"})
    again = c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"})
    assert first == again and first["ok"] and first["ticket"]["label"] == "A001"
    assert count(engine, "tickets") == 1
    called = c.counter_command(1, {"command_id": "n1", "action": "next"})
    assert called == {"ok": True, "ticket": called["ticket"], "command_id": "n1",
                      "action": "next", "counter": 1}
    assert called["ticket"]["label"] == "A001"
    assert c.counter_command(1, {"command_id": "n1", "action": "next"}) == called
    assert count(engine, "calls") == 1


def test_counter_actions_map_onto_engine_operations(engine, site):
    c = Commands(site, engine)
    for i in range(2):
        c.core_command({"command_id": f"i{i}", "action": "issue", "field": "tu-phap"})
    picked = c.counter_command(2, {"command_id": "c1", "action": "call", "number": "A002"})
    assert picked["ok"] and picked["ticket"]["label"] == "A002"
    moved = c.counter_command(2, {"command_id": "t1", "action": "transfer", "to_counter": 1})
    assert moved["ok"] and moved["ticket"] is None
    refused = c.counter_command(2, {"command_id": "f1", "action": "finish"})
    assert refused["error"]["code"] == "no_current" and refused["action"] == "finish"
    # A refusal is stored like any reply: the same id gets it again.
    assert c.counter_command(2, {"command_id": "f1", "action": "finish"}) == refused


def test_a_login_with_a_pin_is_checked_here(engine, site):
    engine.store.add_official("nv01", "Nguyễn Văn An", hash_pin("2468"))
    c = Commands(site, engine)
    wrong = c.core_command({"command_id": "l1", "action": "login", "counter": 1,
                            "official": "nv01", "pin": "1357"})
    assert wrong["error"]["code"] == "bad_login"
    assert engine.queue.state.counters[1].official is None
    right = c.core_command({"command_id": "l2", "action": "login", "counter": 1,
                            "official": "nv01", "pin": "2468"})
    assert right["ok"] and engine.queue.state.counters[1].official == "nv01"


def test_a_payload_that_breaks_the_contract_is_kept_and_refused(engine, site):
    c = Commands(site, engine)
    reply = c.counter_command(3, {"command_id": "x1", "action": "next", "number": "A001"})
    assert reply["command_id"] == "x1" and reply["error"]["code"] == "bad_payload"
    topic, reason = engine.store.conn.execute("SELECT topic, reason FROM rejected").fetchone()
    assert topic == "phucvu/thang-loc/counter/3/command" and "number" in reason


def test_a_ticket_request_without_a_printer_says_so_and_a_retry_gets_the_same_ticket(engine, site):
    c = Commands(site, engine)
    body = json.dumps({"request_id": "tap-1", "field": "kinh-te"}).encode()
    out = c.handle("phucvu/thang-loc/ticket/request/kiosk-1", body)
    assert out.reply_to == "phucvu/thang-loc/ticket/reply/kiosk-1" and out.print_job is None
    assert out.reply["print"]["reason"] == "no_printer"
    assert [e["kind"] for e in out.events] == ["day_started", "ticket_issued"]
    again = c.handle("phucvu/thang-loc/ticket/request/kiosk-1", body)
    assert again.reply["ticket"] == out.reply["ticket"] and again.events is None
    assert count(engine, "tickets") == 1


def test_with_a_printer_the_reply_waits_for_the_print(engine, site):
    c = Commands(site, engine, printing=True)
    body = json.dumps({"request_id": "tap-2", "field": "tu-phap"}).encode()
    out = c.handle("phucvu/thang-loc/ticket/request/kiosk-1", body)
    assert out.reply is None and isinstance(out.print_job, PrintJob)
    # The ticket is committed before it prints.
    assert count(engine, "tickets") == 1
    reply = record(engine.store, out.print_job, PrintResult(False, "paper_out", "no paper", 0),
                   MORNING)
    assert reply["print"] == {"status": "not_printed", "reason": "paper_out", "detail": "no paper"}
    retry = c.handle("phucvu/thang-loc/ticket/request/kiosk-1", body)
    assert retry.reply["print"]["reason"] == "paper_out"


def test_a_rating_press_delivered_twice_is_stored_once(engine, site):
    c = Commands(site, engine)
    press = json.dumps({"rating_id": "box-1:1", "level": 1}).encode()
    first = c.handle("phucvu/thang-loc/counter/1/rating", press)
    second = c.handle("phucvu/thang-loc/counter/1/rating", press)
    assert first.reply == second.reply and first.reply["reason"] == "no_window"
    assert second.events is None and count(engine, "ratings") == 1


REQUEST = "phucvu/thang-loc/ticket/request/kiosk-1"


def test_a_ticket_and_its_pending_print_job_are_one_commit(engine, site):
    c = Commands(site, engine, printing=True)
    out = c.handle(REQUEST, json.dumps({"request_id": "tap-3", "field": "tu-phap"}).encode())
    # The reply waits for the printer, and the job is already on disk,
    # seen by another connection: pending, not printed.
    assert out.reply is None
    with sqlite3.connect(engine.store.path) as other:
        rows = other.execute("SELECT id, ticket_id, printed, state, reprint FROM print_jobs").fetchall()
    assert rows == [(out.print_job.job_id, out.print_job.ticket["ticket_id"], 0, "pending", 0)]
    retry = c.handle(REQUEST, json.dumps({"request_id": "tap-3", "field": "tu-phap"}).encode())
    assert retry.reply["print"] == {"status": "pending"} and retry.print_job is None
    # The printer's answer updates that row: one row per attempt.
    record(engine.store, out.print_job, PrintResult(True, "ok", "", 90), MORNING + 5)
    assert engine.store.conn.execute(
        "SELECT printed, state, bytes FROM print_jobs").fetchall() == [(1, "ok", 90)]


def test_a_ticket_whose_print_job_cannot_be_written_is_not_committed(engine, site):
    c = Commands(site, engine, printing=True)
    engine.store.conn.execute("CREATE TEMP TRIGGER no_jobs BEFORE INSERT ON print_jobs "
                              "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        c.handle(REQUEST, json.dumps({"request_id": "tap-4", "field": "tu-phap"}).encode())
    assert count(engine, "tickets") == 0 and count(engine, "commands") == 0
    assert engine.queue.state.tickets == {}


def test_a_job_an_earlier_run_left_pending_is_interrupted_not_printed_again(engine, site):
    c = Commands(site, engine, printing=True)
    out = c.handle(REQUEST, json.dumps({"request_id": "tap-5", "field": "tu-phap"}).encode())
    ticket = out.print_job.ticket
    # A reprint while the ticket is at the printer would risk two copies.
    busy = c.core_command({"command_id": "r0", "action": "reprint", "ticket": ticket["label"]})
    assert busy["error"]["code"] == "print_pending"
    with Reader(engine.store.path) as reader:
        assert reader.reprint_queue(engine.queue.state.day) == []   # in flight, not in the queue
    # The core died before the printer answered; the next start-up:
    assert engine.store.interrupt_prints(MORNING + 60) == [
        {"ticket_id": ticket["ticket_id"], "label": "A001"}]
    assert engine.store.interrupt_prints(MORNING + 61) == []
    with Reader(engine.store.path) as reader:
        queued = reader.reprint_queue(engine.queue.state.day)
    assert [(r["label"], r["print_state"]) for r in queued] == [("A001", "interrupted")]
    assert "before the printer confirmed" in queued[0]["detail"]
    retry = c.handle(REQUEST, json.dumps({"request_id": "tap-5", "field": "tu-phap"}).encode())
    assert retry.reply["print"]["status"] == "not_printed"
    assert retry.reply["print"]["reason"] == "interrupted"
    # A person reprints it on purpose: a new pending job, marked as a reprint.
    again = c.core_command({"command_id": "r1", "action": "reprint", "ticket": "A001"})
    assert again["ok"] and again["print"] == {"status": "pending"}
    assert engine.store.last_print(ticket["ticket_id"])["reprint"]


def test_a_command_id_is_remembered_for_a_day_then_means_a_new_command(site, tmp_path):
    from kiosk.core.commands import COMMAND_MEMORY_S
    now = [MORNING]
    store = Store(tmp_path / "c.db")
    engine = Engine(site, store, clock=lambda: now[0], monotonic=lambda: 1000.0)
    c = Commands(site, engine)
    first = c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"})
    now[0] += COMMAND_MEMORY_S - 60          # a late retry: still the same ticket
    assert c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"}) == first
    assert count(engine, "tickets") == 1
    now[0] += 120                            # the same id a day later: a new command
    again = c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"})
    assert again["ok"] and again["ticket"]["ticket_id"] != first["ticket"]["ticket_id"]
    assert count(engine, "tickets") == 2
    # Its reply took the old row's place, so a retry of the new one gets the new ticket.
    assert c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"}) == again
    # The wall clock stepped back an hour: still remembered, never done twice.
    now[0] -= 3600
    assert c.core_command({"command_id": "i1", "action": "issue", "field": "tu-phap"}) == again
    # At core start the replies past their memory are dropped, the recent kept.
    now[0] += 3600 + COMMAND_MEMORY_S + 1
    c.counter_command(1, {"command_id": "n1", "action": "next"})
    assert c.forget_old_replies() == 1 and count(engine, "commands") == 1
    store.close()
