"""Every queue operation, through the pure domain (no database)."""
import datetime as dt

import pytest

from kiosk.core.domain import (CALLED, FINISHED, NO_SHOW, TRANSFERRED, DomainError,
                               Queue)
from kiosk.core.domain import waits

TZ = dt.timezone(dt.timedelta(hours=7))


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> float:
    return dt.datetime(2026, 11, day, hh, mm, ss, tzinfo=TZ).timestamp()


@pytest.fixture
def q(site):
    return Queue(site)


def label(events):
    return next(e["label"] for e in events if e["kind"] == "ticket_issued")


def called(events):
    return next(e["ticket_id"] for e in events if e["kind"] == "ticket_called")[-4:]


def test_numbers_per_field_zero_padded(q):
    assert label(q.issue("tu-phap", None, at(27, 8))) == "A001"
    assert label(q.issue("tu-phap", None, at(27, 8, 1))) == "A002"
    assert label(q.issue("chung-thuc", None, at(27, 8, 2))) == "B001"


def test_first_operation_starts_the_day(q):
    events = q.issue("tu-phap", None, at(27, 8))
    assert [e["kind"] for e in events] == ["day_started", "ticket_issued"]
    assert events[1]["ticket_id"] == "20261127-A001"


def test_new_day_restarts_numbering_and_expires_leftovers(q):
    q.issue("tu-phap", None, at(27, 8))
    q.issue("tu-phap", None, at(27, 8, 1))
    q.call_next(1, at(27, 9))
    q.finish(1, at(27, 9, 5))
    events = q.issue("tu-phap", None, at(28, 8))
    assert [e["kind"] for e in events] == ["day_closed", "day_started", "ticket_issued"]
    assert events[-1]["label"] == "A001"
    # The rollover's close lists what it expired (A002; A001 was served),
    # as close_day's does: the province counts them (event/ticket).
    assert events[0]["expired"] == ["20261127-A002"]


def test_a_close_expires_what_it_lists_and_an_old_one_what_was_open(q, site):
    journal = q.issue("tu-phap", None, at(27, 8)) + q.issue("tu-phap", None, at(27, 8, 1)) \
        + q.call_next(1, at(27, 9)) + q.close_day(at(27, 17))
    assert journal[-1]["expired"] == ["20261127-A001", "20261127-A002"]
    # A journal from before the list (no "expired"): every ticket still
    # open expires, the same state.
    old = [{k: v for k, v in e.items() if k != "expired"} for e in journal]
    for events in (journal, old):
        s = Queue.replay(site, events).state
        assert {t: (x.state, x.close_reason) for t, x in s.tickets.items()} == {
            "20261127-A001": (NO_SHOW, "day_closed"), "20261127-A002": (NO_SHOW, "day_closed")}


def test_clock_jumping_back_never_reopens_a_closed_day(q):
    q.issue("tu-phap", None, at(27, 8))
    q.close_day(at(27, 17))
    with pytest.raises(DomainError) as e:
        q.issue("tu-phap", None, at(27, 9))  # clock went back the same day
    assert e.value.code == "day_closed"
    q.issue("tu-phap", None, at(28, 8))
    # A stale clock (a day earlier) stays on the newest day, numbers go on.
    assert label(q.issue("tu-phap", None, at(26, 10))) == "A002"
    assert q.state.day == "2026-11-28"


def test_call_next_fifo_then_field_order(q):
    q.issue("chung-thuc", None, at(27, 8))      # B001
    q.issue("tu-phap", None, at(27, 8, 1))      # A001
    q.issue("tu-phap", None, at(27, 8, 2))      # A002
    # counter 1 serves tu-phap first, then chung-thuc
    assert called(q.call_next(1, at(27, 9))) == "A001"
    assert called(q.call_next(1, at(27, 9, 1))) == "A002"
    assert called(q.call_next(1, at(27, 9, 2))) == "B001"
    with pytest.raises(DomainError) as e:
        q.call_next(1, at(27, 9, 3))
    assert e.value.code == "empty"


def test_next_finishes_the_current_ticket(q):
    q.issue("tu-phap", None, at(27, 8))
    q.issue("tu-phap", None, at(27, 8, 1))
    q.call_next(1, at(27, 9))
    events = q.call_next(1, at(27, 9, 10))
    assert [e["kind"] for e in events] == ["ticket_finished", "ticket_called"]
    assert q.state.tickets["20261127-A001"].state == FINISHED


def test_priority_first_with_interleave(site):
    q = Queue(site)  # interleave 3
    for i in range(5):
        q.issue("tu-phap", None, at(27, 8, i))          # A001..A005 normal
    for i in range(5):
        q.issue("tu-phap", "cao-tuoi", at(27, 8, 10 + i))  # A006..A010 priority
    order = [called(q.call_next(1, at(27, 9, i))) for i in range(10)]
    assert order == ["A006", "A007", "A008", "A001", "A009", "A010", "A002", "A003", "A004", "A005"]


def test_recall_keeps_called_and_makes_a_new_call(q):
    q.issue("tu-phap", None, at(27, 8))
    first = q.call_next(1, at(27, 9))[-1]
    again = q.recall(1, at(27, 9, 30))[-1]
    assert again["kind"] == "ticket_recalled" and again["call_id"] != first["call_id"]
    t = q.state.tickets["20261127-A001"]
    assert t.state == CALLED and t.recalls == 1


def test_finish_and_no_show(q):
    q.issue("tu-phap", None, at(27, 8))
    q.issue("tu-phap", None, at(27, 8, 1))
    q.call_next(1, at(27, 9))
    q.finish(1, at(27, 9, 5))
    q.call_next(1, at(27, 9, 6))
    q.no_show(1, at(27, 9, 7))
    assert q.state.tickets["20261127-A001"].state == FINISHED
    assert q.state.tickets["20261127-A002"].state == NO_SHOW
    assert q.state.counters[1].current is None
    with pytest.raises(DomainError):
        q.finish(1, at(27, 9, 8))


def test_no_show_can_be_called_back_by_number(q):
    q.issue("tu-phap", None, at(27, 8))
    q.call_next(1, at(27, 9))
    q.no_show(1, at(27, 9, 1))
    assert called(q.call_specific(2, "a001", at(27, 9, 30))) == "A001"


def test_transfer_to_field_keeps_original_place(q):
    q.issue("tu-phap", None, at(27, 8))        # A001, early
    q.issue("dat-dai", None, at(27, 8, 5))     # C001, later
    q.call_next(1, at(27, 9))                  # A001 at counter 1
    q.transfer(1, at(27, 9, 1), to_field="dat-dai")
    t = q.state.tickets["20261127-A001"]
    assert t.state == TRANSFERRED and t.field == "dat-dai" and t.label == "A001"
    # Counter 3 serves dat-dai: A001 was issued before C001, so it goes first.
    assert called(q.call_next(3, at(27, 9, 2))) == "A001"


def test_transfer_to_counter_only_that_counter_calls_it(q):
    q.issue("tu-phap", None, at(27, 8))
    q.call_next(1, at(27, 9))
    q.transfer(1, at(27, 9, 1), to_counter=4)
    with pytest.raises(DomainError):
        q.call_next(2, at(27, 9, 2))          # counter 2 serves tu-phap, but not this one
    assert called(q.call_next(4, at(27, 9, 3))) == "A001"


def test_transfer_needs_one_target(q):
    q.issue("tu-phap", None, at(27, 8))
    q.call_next(1, at(27, 9))
    with pytest.raises(DomainError):
        q.transfer(1, at(27, 9, 1))
    with pytest.raises(DomainError):
        q.transfer(1, at(27, 9, 1), to_counter=1)


def test_pause_resume(q):
    q.issue("tu-phap", None, at(27, 8))
    q.pause(1, at(27, 8, 1))
    with pytest.raises(DomainError) as e:
        q.call_next(1, at(27, 8, 2))
    assert e.value.code == "not_open"
    with pytest.raises(DomainError):
        q.pause(1, at(27, 8, 3))
    q.resume(1, at(27, 8, 4))
    assert called(q.call_next(1, at(27, 8, 5))) == "A001"


def test_close_day_expires_open_tickets(q):
    q.issue("tu-phap", None, at(27, 8))
    q.issue("tu-phap", None, at(27, 8, 1))
    q.call_next(1, at(27, 9))
    q.close_day(at(27, 17))
    assert all(t.state == NO_SHOW and t.close_reason == "day_closed"
               for t in q.state.tickets.values())
    assert {c.status for c in q.state.counters.values()} == {"closed"}
    with pytest.raises(DomainError):
        q.close_day(at(27, 17, 1))


def test_opening_hours_and_quota(tmp_path):
    from kiosk import config
    data = {
        "site": {"id": "x", "commune": "Xã X", "centre": "TT X"},
        "fields": [{"code": "a", "name_vi": "Á", "name_en": "A", "prefix": "A",
                    "minutes_per_citizen": 5, "daily_quota": 2}],
        "counters": [{"number": 1, "name": "Quầy 1", "fields": ["a"]}],
    }
    q = Queue(config.parse(data))   # default hours: Mon–Fri 07:00–11:30, 13:30–17:00
    with pytest.raises(DomainError) as e:
        q.issue("a", None, at(27, 12))            # Friday lunch
    assert e.value.code == "closed"
    assert e.value.details["next_open"] == at(27, 13, 30)
    q.issue("a", None, at(27, 8))
    q.issue("a", None, at(27, 8, 1))
    with pytest.raises(DomainError) as e:
        q.issue("a", None, at(27, 8, 2))
    assert e.value.code == "quota"
    assert e.value.details["next_open"] == at(30, 7)   # Monday 07:00
    with pytest.raises(DomainError) as e:
        q.issue("a", None, at(28, 9))             # Saturday
    assert e.value.code == "closed"


def test_a_closed_field_takes_no_new_tickets_but_serves_its_line(tmp_path):
    from kiosk import config
    data = {
        "site": {"id": "x", "commune": "Xã X", "centre": "TT X"},
        "fields": [{"code": "a", "name_vi": "Á", "name_en": "A", "prefix": "A", "minutes_per_citizen": 5}],
        "counters": [{"number": 1, "name": "Quầy 1", "fields": ["a"]}],
    }
    q = Queue(config.parse(data))
    q.issue("a", None, at(27, 8))
    data["fields"][0]["closed"] = True
    closed = Queue(config.parse(data), q.state)
    with pytest.raises(DomainError) as e:
        closed.issue("a", None, at(27, 8, 1))
    assert e.value.code == "field_closed" and "next_open" not in e.value.details
    closed.login(1, "nv01", at(27, 8, 2))
    assert called(closed.call_next(1, at(27, 8, 3))) == "A001"


def test_people_ahead_and_estimated_wait(q):
    for i in range(3):
        q.issue("tu-phap", None, at(27, 8, i))
    t = q.state.tickets["20261127-A003"]
    assert q.ahead_of(t) == 2
    # The estimate before the forecast (bench/wait.py's baseline). No
    # service yet: typical 10 min per citizen, two open counters serve tu-phap.
    assert waits.estimate_wait_s(q.config, q.state, "tu-phap", 2) == pytest.approx(2 * 600 / 2)
    q.call_next(1, at(27, 9))
    q.finish(1, at(27, 9, 4))          # served in 4 minutes
    assert waits.average_service_s(q.config, q.state, "tu-phap") == pytest.approx(240)
    p = q.issue("tu-phap", "co-thai", at(27, 9, 5))[-1]
    assert q.ahead_of(q.state.tickets[p["ticket_id"]]) == 0


def test_unknown_names_are_refused(q):
    for call, code in [(lambda: q.issue("nope", None, at(27, 8)), "unknown_field"),
                       (lambda: q.issue("tu-phap", "vip", at(27, 8)), "unknown_priority"),
                       (lambda: q.call_next(9, at(27, 8)), "unknown_counter"),
                       (lambda: q.call_specific(1, "Z999", at(27, 8)), "unknown_ticket")]:
        with pytest.raises(DomainError) as e:
            call()
        assert e.value.code == code
