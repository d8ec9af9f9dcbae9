"""Random operation sequences through the engine on a real SQLite file.

Invariants: no number issued twice per field per day; every ticket in exactly
one state; a counter holds at most one called ticket; priority, interleave
and FIFO order hold; the journal replays to the same state; the projections
reload to the same state.
"""
import bisect
import copy
import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from kiosk.core.domain import CALLED, TICKET_STATES, DomainError, Queue
from kiosk.core.engine import Engine
from kiosk.core.store import Store

TZ = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 11, 27, 8, 0, tzinfo=TZ).timestamp()

FIELDS = ["tu-phap", "chung-thuc", "dat-dai", "van-hoa-xa-hoi", "kinh-te"]
PRIOS = [None, None, None, "cao-tuoi", "co-thai"]

op = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(FIELDS), st.sampled_from(PRIOS)),
    st.tuples(st.just("call_next"), st.integers(1, 4)),
    st.tuples(st.just("recall"), st.integers(1, 4)),
    st.tuples(st.just("finish"), st.integers(1, 4)),
    st.tuples(st.just("no_show"), st.integers(1, 4)),
    st.tuples(st.just("transfer_field"), st.integers(1, 4), st.sampled_from(FIELDS)),
    st.tuples(st.just("transfer_counter"), st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.just("pause"), st.integers(1, 4)),
    st.tuples(st.just("resume"), st.integers(1, 4)),
    st.tuples(st.just("call_specific"), st.integers(1, 4), st.integers(0, 30)),
    st.tuples(st.just("advance"), st.sampled_from([30, 600, 3600, 86400])),
    st.tuples(st.just("close_day")),
    st.tuples(st.just("login"), st.integers(1, 4), st.sampled_from(["nv01", "nv02", "nv03"])),
    st.tuples(st.just("logout"), st.integers(1, 4)),
    st.tuples(st.just("rate"), st.integers(1, 4), st.integers(1, 3)),
)


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


def board_tally(s, target_s):
    """The public board's figures by walking every ticket of the day."""
    served = called = on_time = 0
    for t in s.tickets.values():
        if t.day != s.day:
            continue
        served += t.state == "finished"
        first = t.first_called_at if t.first_called_at is not None else t.called_at
        if first is not None:
            called += 1
            on_time += (first - t.issued_at) <= target_s
    return served, called, on_time


def expected_pick(q: Queue, n: int):
    """An independent statement of the selection rule."""
    fields = q.config.counter(n).fields
    cands = [t for t in q.state.tickets.values() if t.state in ("waiting", "transferred")
             and (t.target_counter == n or (t.target_counter is None and t.field in fields))]
    prio = sorted((t for t in cands if t.priority),
                  key=lambda t: (0 if t.target_counter == n else 1 + fields.index(t.field), t.seq))
    normal = sorted((t for t in cands if not t.priority),
                    key=lambda t: (0 if t.target_counter == n else 1 + fields.index(t.field), t.seq))
    streak = q.state.counters[n].priority_streak
    if prio and (not normal or streak < q.config.priority.interleave):
        return prio[0]
    return normal[0] if normal else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=20, max_size=80))
def test_random_sequences_keep_the_invariants(site, ops):
    with tempfile.TemporaryDirectory() as d:
        clock = Clock()
        store = Store(Path(d) / "p.db")
        for code in ("nv01", "nv02", "nv03"):
            store.add_official(code, code.upper(), None)
        # The monotonic clock moves with the wall clock here.
        engine = Engine(site, store, clock=clock, monotonic=lambda: clock.now - START)
        presses = 0
        issued: set[tuple[str, str, int]] = set()
        labels = []
        for o in ops:
            kind = o[0]
            if kind == "advance":
                clock.now += o[1]
                continue
            clock.now += 1
            q = engine.queue
            want = None
            try:
                if kind == "issue":
                    events = engine.run("issue", o[1], o[2])
                    e = events[-1]
                    key = (e["day"], e["field"], e["number"])
                    assert key not in issued, f"number reused: {key}"
                    issued.add(key)
                    labels.append(e["label"])
                elif kind == "call_next":
                    if q.state.day == q.service_day(clock.now) and not q.state.day_closed:
                        want = expected_pick(q, o[1])
                    events = engine.run("call_next", o[1])
                    got = next(e for e in events if e["kind"] == "ticket_called")["ticket_id"]
                    if want is not None:
                        assert got == want.id
                elif kind == "transfer_field":
                    engine.run("transfer", o[1], to_field=o[2])
                elif kind == "transfer_counter":
                    engine.run("transfer", o[1], to_counter=o[2])
                elif kind == "call_specific":
                    if labels:
                        engine.run("call_specific", o[1], labels[o[2] % len(labels)])
                elif kind == "close_day":
                    engine.run("close_day")
                elif kind == "login":
                    engine.run("login", o[1], o[2])
                    on = [c.number for c in engine.queue.state.counters.values() if c.official == o[2]]
                    assert on == [o[1]], "an official at two counters"
                elif kind == "rate":
                    presses += 1
                    e = engine.run("rate", o[1], o[2], rating_id=f"p{presses}")[-1]
                    assert e["counted"] == (e["reason"] is None)
                else:
                    engine.run(kind, o[1])
            except DomainError:
                pass
            s = engine.queue.state
            for t in s.tickets.values():
                assert t.state in TICKET_STATES
            holders = {}
            for c in s.counters.values():
                if c.current is not None:
                    assert s.tickets[c.current].state == CALLED
                    assert c.current not in holders, "one ticket at two counters"
                    holders[c.current] = c.number
            called = [t for t in s.tickets.values() if t.state == CALLED]
            assert len(called) == len(holders), "a called ticket no counter holds"
            # The incremental line index equals one rebuilt from scratch.
            kept = {k: list(v) for k, v in s.lines.items() if v}
            fresh = copy.deepcopy(s)
            fresh.reindex()
            assert kept == {k: v for k, v in fresh.lines.items() if v}
            # So does the public board's tally, and the board equals a walk
            # over the day's tickets, at any wait target.
            assert (s.served, s.first_waits) == (fresh.served, fresh.first_waits)
            for target_s in (0, 60, 900, 3600):
                assert board_tally(s, target_s) == (
                    s.served, len(s.first_waits), bisect.bisect_right(s.first_waits, target_s))
        # Every press is kept, and a ticket has at most one counted rating.
        assert store.conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == presses
        assert store.conn.execute(
            "SELECT COUNT(*) FROM (SELECT ticket_id FROM ratings WHERE counted = 1 "
            "GROUP BY ticket_id HAVING COUNT(*) > 1)").fetchone()[0] == 0
        state = engine.queue.state.comparable()
        replayed = Queue.replay(site, store.journal()).state.comparable()
        assert replayed == state
        store.close()
        reloaded = Engine(site, Store(Path(d) / "p.db"), clock=clock).queue.state.comparable()
        assert reloaded == state
