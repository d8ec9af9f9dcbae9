"""The core's pace for the wait forecast (kiosk/core/service_waits.py): a
publication never waits for a play; the loop plays at most every
``EVERY_S``, after ``QUIET_S`` with no change published, and never later
than ``DEFER_MAX_S`` after the play fell due.

Real parts: the engine on a SQLite file with its clocks driven.  The
service around the pacer is its two publication seams, recorded.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from kiosk.core import views
from kiosk.core.domain import waits
from kiosk.core.engine import Engine
from kiosk.core.service_waits import DEFER_MAX_S, EVERY_S, QUIET_S, WaitsPacer
from kiosk.core.store import Store
from tests.test_forecast import START, site


class Rig:
    def __init__(self, tmp_path):
        self.wall, self.mono = START, 0.0
        self.engine = Engine(site({1: ["a"]}, fields=("a",)), Store(tmp_path / "q.db"), clock=lambda: self.wall,
                             monotonic=lambda: self.mono, boot=lambda: "b")
        self.published: list[float] = []
        self.pacer = WaitsPacer(SimpleNamespace(
            engine=self.engine, monotonic=lambda: self.mono,
            _publish_state=lambda counters, urgent: self.published.append(self.mono),
            tickets=SimpleNamespace(changed=lambda: None)))

    def change(self) -> dict:
        """A command: one more ticket, then its publication asks for waits."""
        self.engine.run("issue", "a", None)
        return self.pacer.forecast()

    def step(self, dt: float) -> None:
        """The loop wakes ``dt`` later and polls."""
        self.mono += dt
        self.wall += dt
        self.pacer.poll()


def test_a_publication_tells_the_last_play_and_the_play_follows_a_quiet_moment(tmp_path):
    r = Rig(tmp_path)
    first = r.change()                       # the first ever: played at once
    assert first == r.engine.queue.last_forecast()
    assert r.pacer.due is None
    r.step(EVERY_S)
    told = r.change()                        # a change: the last play, none held up for it
    assert told is first
    assert r.pacer.due == pytest.approx(r.mono + QUIET_S)
    r.step(QUIET_S / 2)
    assert r.published == []                 # not quiet for long enough yet
    r.step(QUIET_S / 2)
    assert r.published == [pytest.approx(EVERY_S + QUIET_S)]
    assert r.pacer.due is None
    assert r.engine.queue.last_forecast() is not first   # played for the new ticket


def test_a_burst_that_never_pauses_gets_its_play_after_defer_max(tmp_path):
    r = Rig(tmp_path)
    r.change()
    r.step(EVERY_S)
    fell_due = r.mono
    while not r.published and r.mono < fell_due + 2 * DEFER_MAX_S:
        r.change()                           # a command every QUIET_S / 5, never a pause
        r.step(QUIET_S / 5)
    assert r.published == [pytest.approx(fell_due + DEFER_MAX_S, abs=QUIET_S / 5 + 1e-6)]


def test_plays_stay_at_most_one_per_every_s(tmp_path):
    r = Rig(tmp_path)
    r.change()
    for _ in range(40):                      # a change, then a quiet moment, again and again
        r.change()
        r.step(QUIET_S)
        r.step(QUIET_S)
    gaps = [b - a for a, b in zip(r.published, r.published[1:])]
    assert r.published and min(gaps) >= EVERY_S - 1e-9


def test_a_ticket_issued_after_the_last_play_is_told_its_issue_wait_not_paused(tmp_path):
    """Until the next play, a new ticket's phone says the wait its paper
    says, counted from its issue; "no open counter" only when none served
    its field at the play."""
    r = Rig(tmp_path)
    r.change()
    r.step(EVERY_S)
    told = r.change()                        # the last play, older than this ticket
    q = r.engine.queue
    new = max(q.state.tickets.values(), key=lambda t: t.seq)
    assert new.id not in told and new.est_wait_s is not None
    r.wall += 30                             # half a minute later, still before the play
    entry = views.phone_tickets(r.engine.config, q, r.wall, told)["tickets"][new.id]
    assert (entry["wait_min"], entry["wait_low_min"], entry["wait_high_min"]) == tuple(
        round(max(0.0, s - 30) / 60, 1) for s in (new.est_wait_s, new.est_low_s, new.est_high_s))
    # The play comes: the forecast's own figure, from the same ticket.
    r.step(QUIET_S)
    played = views.phone_tickets(r.engine.config, q, r.wall)["tickets"][new.id]
    assert played["wait_min"] == waits.minutes_from(q.last_forecast()[new.id], r.wall)["estimated_wait_min"]
    # Its only counter paused and played again: no promise, whatever it was told.
    r.engine.run("pause", 1)
    r.step(EVERY_S)
    r.step(QUIET_S)
    paused = views.phone_tickets(r.engine.config, q, r.wall, q.wait_forecast(r.wall))["tickets"][new.id]
    assert "wait_min" not in paused and paused["ahead"] >= 0
