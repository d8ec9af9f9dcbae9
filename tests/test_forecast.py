"""The wait forecast (kiosk/core/domain/forecast.py): hand-worked small
queues, and the order it plays checked against the real ``Queue`` played
forward with the same fixed service times."""
import datetime as dt
import heapq
import random

import pytest

from kiosk import config
from kiosk.core.domain import DomainError, Queue
from kiosk.core.domain.forecast import Figures, ServiceFigure, forecast, remaining_s

TZ = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 11, 27, 8, 0, tzinfo=TZ).timestamp()


def site(counters: dict[int, list[str]], fields=("a", "b"), interleave: int = 3):
    return config.parse({
        "site": {"id": "x", "commune": "Xã X", "centre": "TT X"},
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "open": "00:00", "close": "24:00"}],
        "fields": [{"code": f, "name_vi": f.upper(), "name_en": f.upper(), "prefix": f.upper(),
                    "minutes_per_citizen": 5, "daily_quota": 999} for f in fields],
        "counters": [{"number": n, "name": f"Quầy {n}", "fields": fs} for n, fs in counters.items()],
        "priority": {"interleave": interleave},
    })


def fixed(**means: float) -> Figures:
    return Figures({f: ServiceFigure(m, 0.0) for f, m in means.items()})


def labels(q: Queue, fc: dict) -> dict[str, float]:
    return {q.state.tickets[k].label: v.call_at - START for k, v in fc.items()}


def play_real(q: Queue, now: float, means: dict[str, float]) -> dict[str, float]:
    """The real queue forward: the counter free first presses Next (the
    lower number on a tie), each service takes its field's mean."""
    heap = []
    for n, c in q.state.counters.items():
        if c.status == "open":
            free = now
            if c.current is not None:
                t = q.state.tickets[c.current]
                free = max(now, t.called_at + means[t.field])
            heap.append((free, n))
    heapq.heapify(heap)
    called = {}
    while heap:
        at, n = heapq.heappop(heap)
        try:
            events = q.call_next(n, at)
        except DomainError as e:
            assert e.code == "empty"
            continue
        t = q.state.tickets[next(e["ticket_id"] for e in events if e["kind"] == "ticket_called")]
        called[t.label] = at - START
        heapq.heappush(heap, (at + means[t.field], n))
    return called


def test_one_counter_three_waiting_are_called_one_mean_apart():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    for i in range(3):
        q.issue("a", None, START - 10 + i)
    fc = forecast(q.config, q.state, fixed(a=300), START)
    assert labels(q, fc) == {"A001": 0, "A002": 300, "A003": 600}


def test_the_ticket_being_served_counts_only_its_rest():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    for i in range(4):
        q.issue("a", None, START - 200 + i)
    q.call_next(1, START - 100)          # A001 served for 100 s already
    fc = forecast(q.config, q.state, fixed(a=300), START)
    assert labels(q, fc) == {"A002": 200, "A003": 500, "A004": 800}


def test_a_service_longer_than_usual_still_has_its_tail_to_run():
    fig = ServiceFigure(300, 150)
    assert remaining_s(fig, 100) == 200
    assert remaining_s(fig, 900) == pytest.approx(150 ** 2 / 300)


def test_two_counters_share_fields_in_their_own_order():
    q = Queue(site({1: ["a", "b"], 2: ["b", "a"]}))
    for f in "abab":
        q.issue(f, None, START - 10)
    fc = forecast(q.config, q.state, fixed(a=100, b=200), START)
    # 1 takes A001 at 0, 2 takes B001 at 0; 1 is free at 100: A002;
    # at 200 both are free, 1 first: no a left, B002.
    assert labels(q, fc) == {"A001": 0, "B001": 0, "A002": 100, "B002": 200}
    assert {q.state.tickets[k].label: v.counter for k, v in fc.items()} == \
        {"A001": 1, "B001": 2, "A002": 1, "B002": 1}
    assert labels(q, fc) == play_real(q, START, {"a": 100, "b": 200})


def test_a_paused_counter_serves_nothing():
    q = Queue(site({1: ["a", "b"], 2: ["a"], 3: ["b"]}))
    for f in "aaab":
        q.issue(f, None, START - 10)
    q.call_next(2, START - 50)           # A001 at 2, then 2 pauses mid-service
    q.pause(2, START - 40)
    q.pause(3, START - 40)
    fc = forecast(q.config, q.state, fixed(a=100, b=100), START)
    assert labels(q, fc) == {"A002": 0, "A003": 100, "B001": 200}
    assert {v.counter for v in fc.values()} == {1}


def test_a_field_only_paused_counters_serve_is_left_out():
    q = Queue(site({1: ["a", "b"], 2: ["b"]}))
    q.issue("b", None, START - 10)
    q.pause(1, START - 5)
    q.pause(2, START - 5)
    assert forecast(q.config, q.state, fixed(a=100, b=100), START) == {}


@pytest.mark.parametrize("interleave", [1, 2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_priority_interleave_plays_as_the_real_queue_calls(interleave, seed):
    rnd = random.Random(seed)
    q = Queue(site({1: ["a", "b"], 2: ["b", "a"], 3: ["a"]}, interleave=interleave))
    for i in range(30):
        q.issue(rnd.choice("ab"), rnd.choice([None, None, "cao-tuoi"]), START - 100 + i)
    q.call_next(1, START - 40)           # streaks and services already under way
    q.call_next(3, START - 20)
    means = {"a": 70.0, "b": 110.0}
    fc = forecast(q.config, q.state, fixed(**means), START)
    want = play_real(q, START, means)
    assert labels(q, fc) == want and len(want) == 28


def test_the_range_widens_down_the_line_and_never_starts_before_now():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    for i in range(5):
        q.issue("a", None, START - 10 + i)
    fc = sorted(forecast(q.config, q.state, Figures({"a": ServiceFigure(300, 150)}),
                         START).values(), key=lambda f: f.call_at)
    assert fc[0].low == fc[0].call_at == fc[0].high == START
    widths = [f.high - f.low for f in fc]
    assert widths == sorted(widths) and widths[-1] > 0
    assert all(f.low >= START for f in fc)


def test_figures_by_hour_are_taken_for_the_hour_a_call_falls_in():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    for i in range(3):
        q.issue("a", None, START - 10 + i)
    hour = dt.datetime.fromtimestamp(START, TZ).hour
    figs = Figures({"a": ServiceFigure(300, 0)}, {("a", hour): ServiceFigure(1800, 0)})
    # The first service starts at 8:00 (30 min); the second at 8:30 too.
    assert labels(q, forecast(q.config, q.state, figs, START)) == \
        {"A001": 0, "A002": 1800, "A003": 3600}


def test_a_priority_citizen_expected_later_goes_ahead_of_the_line():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    for i in range(3):
        q.issue("a", None, START - 10 + i)
    hour = dt.datetime.fromtimestamp(START, TZ).hour
    # One priority citizen an hour: the first expected at half an hour.
    figs = Figures({"a": ServiceFigure(1200, 0)}, arrivals_per_h={("a", True, hour): 1.0})
    fc = forecast(q.config, q.state, figs, START)
    # A001 at 0, A002 at 20 min; at 40 min the priority citizen (there
    # since 30 min) goes first, so A003 waits until 60 min.
    assert labels(q, fc) == {"A001": 0, "A002": 1200, "A003": 3600}


def test_an_idle_counter_waits_for_the_first_citizen_of_its_fields():
    # Counter 2 serves only b, nobody waits for b; the b citizen expected
    # at 15 min takes 2, not 1: the a line is 1's alone.
    q = Queue(site({1: ["a", "b"], 2: ["b"]}))
    for i in range(3):
        q.issue("a", None, START - 10 + i)
    hour = dt.datetime.fromtimestamp(START, TZ).hour
    figs = Figures({"a": ServiceFigure(600, 0), "b": ServiceFigure(600, 0)},
                   arrivals_per_h={("b", False, hour): 2.0})
    assert labels(q, forecast(q.config, q.state, figs, START)) == \
        {"A001": 0, "A002": 600, "A003": 1200}


def test_figures_from_the_live_window_fall_back_on_the_configured_minutes():
    from kiosk.core.domain.forecast import figures_from_state
    q = Queue(site({1: ["a", "b"]}))
    for i in range(6):
        q.issue("a", None, START + i)
    for i in range(6):
        q.call_next(1, START + 100 + 60 * i)   # five services of 60 s
    figs = figures_from_state(q.config, q.state)
    assert figs.fields["a"] == ServiceFigure(60.0, 0.0)
    assert figs.fields["b"] == ServiceFigure(300.0, 180.0)


# ---------------------------------------------------------------- probes
def test_a_probe_is_called_where_a_ticket_issued_now_would_be_and_moves_nobody():
    q = Queue(site({1: ["a", "b"], 2: ["b"]}))
    for f in "aab":
        q.issue(f, None, START - 10)
    q.call_next(1, START - 100)          # A001 at 1 for 100 s of its 300
    means = fixed(a=300, b=200)
    plain = forecast(q.config, q.state, means, START)
    probed = forecast(q.config, q.state, means, START,
                      probes=[("a", False), ("b", False), ("a", True)])
    # 1: A001's rest 200, then A002 200..500; a new a waits for 500.
    # 2: B001 at 0, free at 200: a new b at 200.  A new priority a goes
    # before A002: at 200, when 1 is free.
    assert {k: v.call_at - START for k, v in probed.items() if k.startswith("?")} == \
        {"?a": 500, "?b": 200, "?a+": 200}
    assert {k: v for k, v in probed.items() if not k.startswith("?")} == plain


def test_the_wait_told_at_issue_is_the_tickets_own_forecast_and_is_journaled():
    q = Queue(site({1: ["a"], 2: ["a"]}, fields=("a",)))
    q.figures = Figures({"a": ServiceFigure(300, 0)})
    for i in range(3):
        q.issue("a", None, START - 30 + i)
    q.call_next(1, START - 60)
    q.call_next(2, START - 60)
    e = q.issue("a", None, START)[-1]
    # A003 at 240 (the first to be free: both took 60 s of 300), then the
    # new ticket when the other frees at 240 too: counter 2, 240 s.
    assert (e["est_wait_s"], e["est_low_s"], e["est_high_s"]) == (240, 240, 240)
    t = q.state.tickets[e["ticket_id"]]
    assert (t.est_wait_s, t.est_low_s, t.est_high_s) == (240, 240, 240)
    assert forecast(q.config, q.state, q.figures, START)[t.id].call_at == START + 240
    q.pause(1, START + 1)
    q.pause(2, START + 1)
    e = q.issue("a", None, START + 2)[-1]
    assert (e["est_wait_s"], e["est_low_s"], e["est_high_s"]) == (None, None, None)


def test_the_memo_follows_every_event_and_the_clock():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    q.figures = Figures({"a": ServiceFigure(300, 0)})
    q.issue("a", None, START)
    first = q.wait_forecast(START)
    assert q.wait_forecast(START + 5) is first         # same events, same minute
    q.issue("a", None, START + 6)
    assert len(q.wait_forecast(START + 6)) == 4         # two tickets, an ordinary and a priority probe
    assert q.wait_forecast(START + 60) is not q.wait_forecast(START + 6)


def test_a_ticket_is_told_what_the_summary_said_a_moment_before():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    q.figures = Figures({"a": ServiceFigure(300, 100)})
    for i in range(3):
        q.issue("a", None, START + i)
    q.call_next(1, START + 10)
    tile = next(f for f in q.summary(START + 20)["fields"] if f["field"] == "a")
    e = q.issue("a", None, START + 25)[-1]              # 5 s later, nothing else happened
    # The summary's play (at START + 20) put the new ticket at A001's rest
    # (300 - 10) plus two services: 890 s after START + 20, 885 after the issue.
    assert tile["estimated_wait_min"] == round(890 / 60, 1)
    assert e["est_wait_s"] == 885.0


# ---------------------------------------------------------------- learning
def test_learning_by_field_by_hour_and_arrivals_per_hour_worked_by_hand():
    from kiosk.core.domain.forecast import learn
    h8 = dt.datetime(2026, 11, 26, 8, 0, tzinfo=TZ).timestamp()
    services = [("a", h8 + 60 * i, s) for i, s in enumerate([200, 300, 400] * 5)]   # 15 at 8h
    services += [("a", h8 + 3600, 1000.0), ("a", h8 + 3700, 60 * 300.0)]   # 9h: 1, and a lunch
    issued = [("d1", h8 + 1800, "a", False), ("d1", h8 + 2700, "a", False),   # d1: 8:30-10:00
              ("d1", h8 + 3600, "a", True), ("d1", h8 + 7200, "a", False),
              ("d2", h8 + 3600, "a", False), ("d2", h8 + 3660, "a", False)]   # d2: 9:00-9:01
    figs = learn(services, issued, utc_offset_s=7 * 3600)
    # The 5-hour "service" is over 8 x the median (300): left out.
    xs = [200, 300, 400] * 5 + [1000]
    mean = sum(xs) / 16
    assert figs.fields["a"].mean_s == pytest.approx(mean)
    assert figs.fields["a"].sd_s == pytest.approx(
        (sum((x - mean) ** 2 for x in xs) / 15) ** 0.5)
    assert figs.by_hour == {("a", 8): ServiceFigure(300.0, pytest.approx(
        (sum((x - 300) ** 2 for x in [200, 300, 400] * 5) / 14) ** 0.5))}   # 9h: 1 < 15
    # d1 issued 8:30-10:00: hour 8 counts half (2 citizens -> 4/h), hour 9
    # whole (a priority one), hour 10 not at all (its first instant: 1/0.25).
    # d2 issued 9:00-9:01: 1 minute counts as a quarter hour (2 -> 8/h).
    # Means over the two days.
    assert figs.arrivals_per_h == {("a", False, 8): pytest.approx(4 / 2),
                                   ("a", True, 9): pytest.approx(1 / 2),
                                   ("a", False, 10): pytest.approx(4 / 2),
                                   ("a", False, 9): pytest.approx(8 / 2)}


def test_a_field_with_no_history_is_told_by_the_live_window_or_the_config():
    from kiosk.core.domain.forecast import with_live
    q = Queue(site({1: ["a", "b"]}))
    learned = Figures({"a": ServiceFigure(100, 10), "gone": ServiceFigure(1, 1)})
    figs = with_live(q.config, q.state, learned)
    assert figs.fields == {"a": ServiceFigure(100, 10), "b": ServiceFigure(300.0, 180.0)}


def test_one_quick_service_does_not_tell_a_whole_line_it_will_be_quick():
    from kiosk.core.domain.forecast import figures_from_state
    q = Queue(site({1: ["a"]}, fields=("a",)))          # 5 minutes a citizen configured
    q.issue("a", None, START)
    q.issue("a", None, START)
    q.call_next(1, START + 10)
    q.call_next(1, START + 11)                          # A001 served in one second
    # The configured 300 s count as four services beside the one real.
    fig = figures_from_state(q.config, q.state).fields["a"]
    assert fig.mean_s == pytest.approx((1 + 4 * 300) / 5)
    assert fig.sd_s == pytest.approx(0.6 * (1 + 4 * 300) / 5)


def test_a_field_the_figures_do_not_know_plays_at_the_others_mean():
    # A ticket of a field the config no longer has (waiting or in service).
    q = Queue(site({1: ["a", "b"]}))
    q.issue("b", None, START - 20)
    q.call_next(1, START - 5)            # B001 at counter 1
    q.issue("a", None, START - 1)
    figs = Figures({"a": ServiceFigure(100, 0), "c": ServiceFigure(300, 0)})
    fc = forecast(q.config, q.state, figs, START)
    # B001's rest: the mean of a and c (200) less the 5 s spent.
    assert labels(q, fc) == {"A001": 195}


def test_a_play_older_than_its_minute_is_not_what_a_new_ticket_is_told():
    q = Queue(site({1: ["a"]}, fields=("a",)))
    q.figures = Figures({"a": ServiceFigure(300, 150)})
    q.issue("a", None, START)
    q.call_next(1, START + 1)            # A001 from START + 1, 300 s expected
    q.summary(START + 2)                 # the play: counter 1 free at START + 301
    # Ten minutes on, A001 has run long: its rest is the tail (150² / 300 =
    # 75 s), not "free five minutes ago".
    e = q.issue("a", None, START + 601)[-1]
    assert e["est_wait_s"] == 75.0
