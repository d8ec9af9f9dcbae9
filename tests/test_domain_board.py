"""Each field's next numbers and the public board, through the pure domain."""
import datetime as dt

from kiosk.core import views
from kiosk.core.domain import Queue, next_labels, public_board

TZ = dt.timezone(dt.timedelta(hours=7))


def at(hh: int, mm: int = 0, ss: int = 0) -> float:
    return dt.datetime(2026, 11, 27, hh, mm, ss, tzinfo=TZ).timestamp()


def test_next_labels_follow_the_call_order_with_priority_interleave(site):
    q = Queue(site)  # interleave 3
    for i in range(3):
        q.issue("tu-phap", None, at(8, 0, i))              # A001..A003
    for i in range(4):
        q.issue("tu-phap", "cao-tuoi", at(8, 1, i))         # A004..A007 priority
    assert next_labels(site, q.state, "tu-phap", 5) == ["A004", "A005", "A006", "A001", "A007"]
    # What the display says comes next is what a counter of only this field calls.
    order = q.call_order(1, 5)
    assert [t.label for t in order] == ["A004", "A005", "A006", "A001", "A007"]
    assert next_labels(site, q.state, "dat-dai") == []


def test_next_labels_drop_called_tickets(site):
    q = Queue(site)
    for i in range(5):
        q.issue("dat-dai", None, at(8, 0, i))
    q.call_next(3, at(8, 10))
    assert next_labels(site, q.state, "dat-dai") == ["C002", "C003", "C004"]


def test_public_board_served_on_time_and_satisfaction(site):
    q = Queue(site)
    target = site.display.wait_target_min
    q.issue("dat-dai", None, at(8))                  # C001: called after 10 min, on time
    q.issue("dat-dai", None, at(8, 1))               # C002: called well after the target
    q.issue("dat-dai", None, at(8, 2))               # C003: still waiting
    q.call_next(3, at(8, 10))
    q.call_next(3, at(8, 1 + target + 5))            # finishes C001, calls C002 late
    board = public_board(site, q.state, {"rat-hai-long": 6, "hai-long": 2, "khong-hai-long": 2})
    assert board["served"] == 1
    assert board["called"] == 2 and board["on_time_pct"] == 50
    # Levels 1 and 2 are "satisfied" in the demo: 8 of 10.
    assert board["rated"] == 10 and board["satisfied_pct"] == 80
    assert board["wait_target_min"] == target


def test_public_board_with_nothing_yet_is_unknown_not_zero(site):
    q = Queue(site)
    q.issue("dat-dai", None, at(8))
    board = public_board(site, q.state, None)
    assert board["served"] == 0
    assert board["satisfied_pct"] is None and board["on_time_pct"] is None
    # A level the site no longer has (removed by the admin during the day)
    # is rated, not satisfied: the same as the reports count it.
    assert public_board(site, q.state, {"hai-long": 1, "gone": 3})["satisfied_pct"] == 25


def test_snapshot_carries_next_numbers_and_board(site):
    q = Queue(site)
    for i in range(5):
        q.issue("tu-phap", None, at(8, 0, i))
    snap = views.snapshot(site, q, at(8, 5), q.summary(at(8, 5)), [], {"rat-hai-long": 3, "khong-hai-long": 1})
    tu_phap = next(w for w in snap["waiting"] if w["field"] == "tu-phap")
    assert tu_phap["next"] == ["A001", "A002", "A003"]
    assert snap["board"]["satisfied_pct"] == 75
