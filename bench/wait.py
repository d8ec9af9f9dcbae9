"""How wrong the wait a citizen is told is: the old estimate and the forecast, measured.

Simulated days of one centre (8 counters sharing 4 fields, each counter with
its own field order; interleave 3), each shape with several seeds, driving
the real domain ``Queue`` (issue, call_next, finish, pause, resume, with
explicit ``now``) in a discrete-event simulation: citizens arrive (Poisson,
the shape's rate by hour, 8 % priority), a free open counter presses Next,
services are lognormal with the field's mean and spread (10 % slower after
the second hour).  Tickets are issued for four hours from 07:30, then the
queue drains.

Citizens do what they do on a real day: 3 % are called and never come (the
counter marks them a no-show after a minute) and 2 % are sent on to another
field after their service, where they wait again at the front of the line.

For every ticket, at its issue: the OLD estimate (``waits.estimate_wait_s``
with ``ahead_of``, what the kiosk printed before issue 20) and the NEW one:
the wait ``Queue.issue`` journaled on the ticket (the forecast, what the
citizen is told), then its real wait (first call - issue).  The figures
are learned as the core learns them (``forecast.learn_from_tickets`` over
the rows ``queries.recent_tickets`` gives): from the ten days before
(``HISTORY_DAYS``, the core's ``LEARN_DAYS``), each a day of the same shape
with another seed.

The shapes: quiet, ordinary, peak (a morning rush), paused (ordinary, the
counter 4, land only, paused for the second hour), long (land services
twice as long), burst (40 % priority for half an hour).  Five seeds each
by default: with three, a shape's MAE moves by a minute between runs of
other seeds.

Per shape: MAE old and new, the new one's mean signed error (bias_new,
> 0: told longer than it was), and how often the real wait fell in the
forecast's p10-p90 range.  Then ``name=value``:

  wait_mae_min               new, ordinary day, minutes
  wait_p90_abs_err_min       new, the p90 of |error| over all shapes
  share_within_5_min         new, |error| <= 5 min, over all shapes
  wait_mae_ratio_new_to_old  MAE new / MAE old over all shapes' tickets
  forecast_p10_p90_coverage  share of real waits inside the forecast's range (aim 0.80)
  forecast_500x60_ms         the core's play of a change (every waiting ticket and a
                             probe per field), 500 waiting, 60 counters, arrivals
                             expected (median of 21); _no_arrivals_ms without them
  forecast_issue_500x60_ms   the play at an issue: only the new ticket's probe, at
                             the end of the longest line

Exit 0 when measured, 2 when a shape measured no ticket.

    .venv/bin/python bench/wait.py
    WAIT_SEEDS=5 WAIT_SHAPES=ordinary,peak .venv/bin/python bench/wait.py
    .venv/bin/python bench/wait.py --chart docs/images/wait-estimate-vs-actual.png

``--chart`` also draws each ticket's told wait against its real one, old
and new side by side, for the ordinary day and the peak morning.
Env: WAIT_SEEDS, WAIT_SHAPES, WAIT_HISTORY (days learned from), WAIT_NO_SHOW,
WAIT_TRANSFER (shares), WAIT_ARRIVALS=0 (the forecast without expected
arrivals).
"""
from __future__ import annotations

import _util  # noqa: F401  (puts the repository first on sys.path)

import datetime as dt
import heapq
import math
import os
import random
import statistics
import sys
import time

from _util import emit, percentile

from kiosk import config
from kiosk.core.domain import DomainError, Queue
from kiosk.core.domain import waits
from kiosk.core.domain import forecast as forecast_mod
from kiosk.core.domain.forecast import Figures, ServiceFigure, forecast

TZ = dt.timezone(dt.timedelta(hours=7))
DAY0 = dt.datetime(2026, 11, 30, 7, 30, tzinfo=TZ).timestamp()   # a Monday
ISSUE_H = 4.0
# WAIT_ARRIVALS=0: the forecast without expected arrivals (queue as it stands).
ARRIVALS = os.environ.get("WAIT_ARRIVALS", "1") != "0"
PRIO_SHARE = 0.08
# Days of history each measured day learns from (the core: forecast.LEARN_DAYS).
HISTORY_DAYS = int(os.environ.get("WAIT_HISTORY", "10"))
# Called but never came (marked after a minute), and sent on to another
# field after their service: load the estimate does not see coming.
NO_SHOW = float(os.environ.get("WAIT_NO_SHOW", "0.03"))
TRANSFER = float(os.environ.get("WAIT_TRANSFER", "0.02"))
# field: (mean minutes, coefficient of variation, share of arrivals)
FIELDS = {"ho-tich": (6.0, 0.5, 0.35), "chung-thuc": (3.0, 0.4, 0.30),
          "dat-dai": (12.0, 0.6, 0.20), "kinh-doanh": (8.0, 0.5, 0.15)}
COUNTERS = {1: ["ho-tich", "chung-thuc"], 2: ["ho-tich"], 3: ["chung-thuc", "ho-tich"],
            4: ["dat-dai"], 5: ["dat-dai", "kinh-doanh"], 6: ["kinh-doanh", "dat-dai"],
            7: ["chung-thuc"], 8: ["ho-tich", "dat-dai", "chung-thuc", "kinh-doanh"]}


def flat(rate: float):
    return lambda h: rate


SHAPES: dict[str, dict] = {
    "quiet": {"rate": flat(25)},
    "ordinary": {"rate": lambda h: 62 if h < 2.5 else 50},
    "peak": {"rate": lambda h: 100 if h < 1 else 75 if h < 2 else 40},
    "paused": {"rate": lambda h: 62 if h < 2.5 else 50, "pauses": [(4, 1.0, 2.0)]},
    "long": {"rate": flat(45), "mean_x": {"dat-dai": 2.0}},
    "burst": {"rate": lambda h: 62 if h < 2.5 else 50, "burst": (1.0, 1.5, 0.40)},
}


def site(interleave: int = 3, fields=FIELDS, counters=COUNTERS) -> config.SiteConfig:
    return config.parse({
        "site": {"id": "bench", "commune": "Xã X", "centre": "TT X"},
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "open": "00:00", "close": "24:00"}],
        "fields": [{"code": f, "name_vi": f, "name_en": f, "prefix": chr(65 + i),
                    "minutes_per_citizen": fields[f][0] if isinstance(fields, dict) else 5,
                    "daily_quota": 999} for i, f in enumerate(fields)],
        "counters": [{"number": n, "name": f"Quầy {n}", "fields": fs} for n, fs in counters.items()],
        "priority": {"interleave": interleave},
    })


def arrivals(shape: dict, rnd: random.Random) -> list[tuple[float, str, str | None]]:
    """(time, field, priority) by thinning a Poisson process of the peak rate."""
    peak = max(shape["rate"](h / 10) for h in range(int(ISSUE_H * 10)))
    out, t = [], 0.0
    codes, weights = list(FIELDS), [v[2] for v in FIELDS.values()]
    while True:
        t += rnd.expovariate(peak / 3600)
        if t >= ISSUE_H * 3600:
            return out
        h = t / 3600
        if rnd.random() > shape["rate"](h) / peak:
            continue
        share = PRIO_SHARE
        b = shape.get("burst")
        if b and b[0] <= h < b[1]:
            share = b[2]
        prio = "cao-tuoi" if rnd.random() < share else None
        out.append((DAY0 + t, rnd.choices(codes, weights)[0], prio))


def service_s(shape: dict, field: str, at: float, rnd: random.Random) -> float:
    mean, cv, _ = FIELDS[field]
    mean *= 60 * shape.get("mean_x", {}).get(field, 1.0)
    if at - DAY0 >= 2 * 3600:
        mean *= 1.1
    s2 = math.log(1 + cv * cv)
    return rnd.lognormvariate(math.log(mean) - s2 / 2, math.sqrt(s2))


def play(cfg: config.SiteConfig, shape: dict, seed: int, figures: Figures | None):
    """One day.  Returns (records, services): records are (old_s, new_s,
    low, high, real_s) per ticket (estimates only when ``figures``);
    services are (field, called_at, seconds)."""
    rnd = random.Random(seed)
    q = Queue(cfg)
    q.figures = figures
    events: list[tuple[float, int, int, str, object]] = []
    n = 0

    def push(at: float, kind: str, data: object, rank: int = 1) -> None:
        nonlocal n
        n += 1
        heapq.heappush(events, (at, rank, n, kind, data))

    for at, f, p in arrivals(shape, rnd):
        push(at, "arrive", (f, p))
    for c, h0, h1 in shape.get("pauses", []):
        push(DAY0 + h0 * 3600, "pause", c, 0)
        push(DAY0 + h1 * 3600, "resume", c, 0)
    idle = set(COUNTERS)
    told: dict[str, tuple] = {}

    def call(c: int, now: float) -> bool:
        try:
            evs = q.call_next(c, now)
        except DomainError as e:
            if e.code not in ("empty", "not_open"):
                raise
            if q.state.counters[c].current is not None:
                q.finish(c, now)
            idle.add(c)
            return False
        tid = next(e["ticket_id"] for e in evs if e["kind"] == "ticket_called")
        t = q.state.tickets[tid]
        idle.discard(c)
        r = rnd.random()
        if r < NO_SHOW:                 # nobody comes: marked after a minute
            push(now + 60, "no_show", c)
            return True
        s = service_s(shape, t.field, now, rnd)
        if r < NO_SHOW + TRANSFER and not t.transfers:
            push(now + s, "transfer", c)
        else:
            push(now + s, "done", c)
        return True

    while events:
        now, _, _, kind, data = heapq.heappop(events)
        if kind == "arrive":
            f, p = data
            evs = q.issue(f, p, now)
            e = evs[-1]
            tid = e["ticket_id"]
            if figures is not None:
                t = q.state.tickets[tid]
                old = waits.estimate_wait_s(cfg, q.state, f, waits.ahead_of(q.state, t))
                # The new one is what the core journaled with the ticket
                # (Queue.issue's forecast), the very wait the citizen is told.
                told[tid] = (old, e["est_wait_s"], e["est_low_s"], e["est_high_s"]) \
                    if e["est_wait_s"] is not None else (old, old, old, old)
            for c in sorted(idle):
                if q.state.counters[c].status == "open":
                    call(c, now)
        elif kind == "done":
            call(data, now)
        elif kind == "no_show":
            q.no_show(data, now)
            call(data, now)
        elif kind == "transfer":
            t = q.state.tickets[q.state.counters[data].current]
            q.transfer(data, now, to_field=rnd.choice([f for f in FIELDS if f != t.field]))
            for c in sorted(idle):      # the transferred citizen waits again
                if q.state.counters[c].status == "open":
                    call(c, now)
            call(data, now)
        elif kind == "pause":
            q.pause(data, now)
        elif kind == "resume":
            q.resume(data, now)
            if data in idle:
                call(data, now)
    records = []
    for tid, (old, new, low, high) in told.items():
        t = q.state.tickets[tid]
        if t.first_called_at is not None:
            records.append((old, new, low, high, t.first_called_at - t.issued_at))
    # The day as the core's read side gives it to learning (queries.recent_tickets).
    rows = [("yesterday", t.issued_at, t.origin_field, t.priority is not None, t.field,
             t.called_at, t.finished_at if t.state in ("finished", "no_show") else None)
            for t in sorted(q.state.tickets.values(), key=lambda t: t.issued_at)]
    return records, rows


def learn(rows: list[tuple], with_arrivals: bool = True) -> Figures:
    """The core's own learning (``forecast.learn_from_tickets``) over "yesterday"."""
    figures = forecast_mod.learn_from_tickets(rows, TZ.utcoffset(None).total_seconds())
    if not with_arrivals:
        figures.arrivals_per_h = {}
    return figures


def bench_forecast_ms(with_arrivals: bool = True) -> tuple[float, float]:
    """500 waiting, 60 counters each with 3 of 8 fields, all serving;
    with 150 citizens an hour expected (10 % priority) when ``with_arrivals``.
    (the full play, the play at an issue), milliseconds."""
    rnd = random.Random(1)
    codes = [f"f{i}" for i in range(8)]
    counters = {n: (rnd.sample(codes, 3) if n > 1 else codes) for n in range(1, 61)}
    cfg = site(fields=codes, counters=counters)
    q = Queue(cfg)
    for i in range(560):
        q.issue(rnd.choice(codes), "cao-tuoi" if rnd.random() < 0.1 else None, DAY0 + i)
    for c in counters:
        q.call_next(c, DAY0 + 600)
    assert sum(len(v) for v in q.state.lines.values()) == 500
    figs = Figures({f: ServiceFigure(300, 150) for f in codes},
                   {(f, h): ServiceFigure(280, 140) for f in codes for h in range(7, 17)},
                   arrivals_per_h={(f, p, h): 150 / 8 * (0.1 if p else 0.9)
                                   for f in codes for p in (True, False) for h in range(7, 17)}
                   if with_arrivals else {})
    probes = [(f, False) for f in codes]
    longest = max(codes, key=lambda f: len(q.state.line(f, False)))

    def median_ms(play) -> float:
        times = []
        for _ in range(21):
            t0 = time.perf_counter()
            out = play()
            times.append(time.perf_counter() - t0)
        assert out
        return statistics.median(times) * 1000

    full = median_ms(lambda: forecast(cfg, q.state, figs, DAY0 + 700, probes=probes))
    issue = median_ms(lambda: forecast(cfg, q.state, figs, DAY0 + 700, probes=[(longest, False)],
                                       tickets=False))
    return full, issue


def chart(path: str, per_shape: dict[str, list[tuple]]) -> None:
    """Told against real, minutes: old and new, the ordinary day and the peak."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True)
    top = 0.0
    for ax, (col, title) in zip(axes, ((0, "Cũ: số người trước × TB ÷ số quầy (old)"),
                                       (1, "Mới: hàng đợi chạy trước (forecast)"))):
        for name, colour in (("ordinary", "#1f77b4"), ("peak", "#d62728")):
            recs = per_shape.get(name, [])
            real = [r[4] / 60 for r in recs]
            told = [r[col] / 60 for r in recs]
            mae = statistics.fmean(abs(a - b) for a, b in zip(told, real)) if recs else 0
            ax.scatter(real, told, s=5, alpha=0.35, color=colour,
                       label=f"{name}: MAE {mae:.1f} phút")
            top = max([top, *real, *told])
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("Thời gian chờ thực tế (phút)")
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.plot([0, top], [0, top], color="black", lw=1)
        ax.fill_between([0, top], [-5, top - 5], [5, top + 5], color="grey", alpha=0.15, lw=0)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
    axes[0].set_ylabel("Thời gian chờ đã báo lúc lấy số (phút)")
    fig.suptitle("Ước tính thời gian chờ so với thực tế (bench/wait.py; dải xám: ±5 phút)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


def main() -> int:
    seeds = int(os.environ.get("WAIT_SEEDS", "5"))
    names = os.environ.get("WAIT_SHAPES", ",".join(SHAPES)).split(",")
    cfg = site()
    all_recs: list[tuple] = []
    per_shape: dict[str, list[tuple]] = {}
    t0 = time.perf_counter()
    print(f"{'shape':10} {'tickets':>7} {'wait_avg':>8} {'mae_old':>7} {'mae_new':>7} "
          f"{'bias_new':>8} {'p90_new':>7} {'in_5min':>7} {'in_range':>8}  (minutes)")
    for name in names:
        shape = SHAPES[name]
        recs: list[tuple] = []
        for seed in range(seeds):
            history = []
            for k in range(HISTORY_DAYS):   # the days before, as the core keeps them
                _, rows = play(cfg, shape, 1000 + 100 * seed + k, None)
                history += [(f"d{k}", *r[1:]) for r in rows]
            got, _ = play(cfg, shape, seed, learn(history, with_arrivals=ARRIVALS))
            recs += got
        if not recs:
            print(f"{name}: no ticket measured", file=sys.stderr)
            return 2
        per_shape[name] = recs
        all_recs += recs
        err_new = [abs(r[1] - r[4]) / 60 for r in recs]
        print(f"{name:10} {len(recs):7d} {statistics.fmean(r[4] for r in recs) / 60:8.1f} "
              f"{statistics.fmean(abs(r[0] - r[4]) for r in recs) / 60:7.2f} "
              f"{statistics.fmean(err_new):7.2f} "
              f"{statistics.fmean(r[1] - r[4] for r in recs) / 60:8.2f} {percentile(err_new, 90):7.2f} "
              f"{sum(e <= 5 for e in err_new) / len(recs):7.2f} "
              f"{sum(r[2] <= r[4] <= r[3] for r in recs) / len(recs):8.2f}")
    print(f"({seeds} seeds per shape, {time.perf_counter() - t0:.1f} s)")
    err_all = [abs(r[1] - r[4]) / 60 for r in all_recs]
    figures: dict[str, float] = {}
    if "ordinary" in per_shape:
        figures["wait_mae_min"] = statistics.fmean(abs(r[1] - r[4]) for r in per_shape["ordinary"]) / 60
    figures["wait_p90_abs_err_min"] = percentile(err_all, 90)
    figures["share_within_5_min"] = sum(e <= 5 for e in err_all) / len(err_all)
    figures["wait_mae_ratio_new_to_old"] = (sum(abs(r[1] - r[4]) for r in all_recs)
                                            / sum(abs(r[0] - r[4]) for r in all_recs))
    figures["forecast_p10_p90_coverage"] = sum(r[2] <= r[4] <= r[3] for r in all_recs) / len(all_recs)
    figures["forecast_500x60_ms"], figures["forecast_issue_500x60_ms"] = bench_forecast_ms()
    figures["forecast_500x60_no_arrivals_ms"] = bench_forecast_ms(False)[0]
    if "--chart" in sys.argv:
        chart(sys.argv[sys.argv.index("--chart") + 1], per_shape)
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
