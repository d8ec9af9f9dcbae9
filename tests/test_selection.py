"""The selection rule: the waiting list a counter shows is whom Next calls, in order.

Random sites (each counter's fields in a random order, a random priority
interleave) and random days (issues with and without priority, calls, calls
by number, transfers to a field or a counter, no-shows): at every Next,
``call_order(counter)[0]`` is the ticket it calls, and an empty list when it
calls nobody; at the end, each counter's whole list is what Next after Next
calls when no other counter calls in between.
"""
import copy
import datetime as dt

from hypothesis import given, settings, strategies as st

from kiosk import config
from kiosk.core.domain import OPEN, DomainError, Queue

TZ = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 11, 27, 8, 0, tzinfo=TZ).timestamp()
FIELDS = ["a", "b", "c"]
COUNTERS = [1, 2, 3]
PRIOS = [None, None, "cao-tuoi", "co-thai"]


@st.composite
def sites(draw) -> config.SiteConfig:
    counters = []
    for n in COUNTERS:
        order = draw(st.permutations(FIELDS))
        # Counter 1 serves every field, as the config requires of some counter.
        k = len(FIELDS) if n == 1 else draw(st.integers(1, len(FIELDS)))
        counters.append({"number": n, "name": f"Quầy {n}", "fields": list(order[:k])})
    return config.parse({
        "site": {"id": "x", "commune": "Xã X", "centre": "TT X"},
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "open": "00:00", "close": "24:00"}],
        "fields": [{"code": f, "name_vi": f.upper(), "name_en": f.upper(), "prefix": f.upper(),
                    "minutes_per_citizen": 5, "daily_quota": 999} for f in FIELDS],
        "counters": counters,
        "priority": {"interleave": draw(st.integers(1, 4))},
    })


counter = st.sampled_from(COUNTERS)
op = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(FIELDS), st.sampled_from(PRIOS)),
    st.tuples(st.just("issue"), st.sampled_from(FIELDS), st.sampled_from(PRIOS)),
    st.tuples(st.just("call_next"), counter),
    st.tuples(st.just("call_next"), counter),
    st.tuples(st.just("call_specific"), counter, st.integers(0, 60)),
    st.tuples(st.just("to_counter"), counter, counter),
    st.tuples(st.just("to_field"), counter, st.sampled_from(FIELDS)),
    st.tuples(st.just("no_show"), counter),
)


def called(events: list[dict]) -> str:
    return next(e["ticket_id"] for e in events if e["kind"] == "ticket_called")


@settings(max_examples=150, deadline=None)
@given(site=sites(), ops=st.lists(op, min_size=1, max_size=80))
def test_the_list_a_counter_shows_starts_with_whom_next_calls(site, ops):
    q = Queue(site)
    labels: list[str] = []
    for i, o in enumerate(ops):
        now = START + i
        kind = o[0]
        try:
            if kind == "issue":
                labels.append(q.issue(o[1], o[2], now)[-1]["label"])
            elif kind == "call_next":
                shown = [t.id for t in q.call_order(o[1])]
                try:
                    got = called(q.call_next(o[1], now))
                except DomainError as e:
                    assert e.code == "empty" and shown == []
                    continue
                assert shown and shown[0] == got
            elif kind == "call_specific" and labels:
                q.call_specific(o[1], labels[o[2] % len(labels)], now)
            elif kind == "to_counter":
                q.transfer(o[1], now, to_counter=o[2])
            elif kind == "to_field":
                q.transfer(o[1], now, to_field=o[2])
            elif kind == "no_show":
                q.no_show(o[1], now)
        except DomainError:
            pass
    now = START + len(ops)
    for n in COUNTERS:
        assert q.state.counters[n].status == OPEN
        shown = [t.id for t in q.call_order(n)]
        play = Queue(site, copy.deepcopy(q.state))
        calls = []
        while True:
            try:
                calls.append(called(play.call_next(n, now + len(calls))))
            except DomainError as e:
                assert e.code == "empty"
                break
        assert shown == calls
