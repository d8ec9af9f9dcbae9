"""When each waiting ticket will be called: the queue played forward.

``forecast`` copies the lines and the counters' priority streaks, then
plays the calls ahead with the domain's own rule (``selection.order``, the
one ``Queue.call_next`` takes the first ticket of): the open counter that is
free first calls, its service takes the field's mean (for that hour of the
day where the figures have one), and so on until every line is empty or no
open counter serves what is left.  Citizens still to come are played too
when the figures expect them (``Figures.arrivals_per_h``, by field,
priority and hour): evenly spaced at the expected rate, they go ahead of
the ticket when they are priority, and take a shared counter that ranks
their field first.

A counter busy with a ticket is free after the expected rest of that
service given the time it has taken so far: ``mean - spent`` while that is
longer than ``sd² / mean``, else ``sd² / mean`` (the mean rest of a gamma
distribution's long tail, a service already longer than usual is not
"about to end").  Paused and closed counters call nobody.

The range: each counter's free time carries the variance of the services
played on it (its current rest counts ``sd²``; an expected citizen's
``sd² + mean²``, as they may not come).  A ticket called at a
counter gets that variance divided by the number of open counters serving
its line: in a pool of m counters the k-th call comes after about k/m
services on each, and the pool's sum of completions has m times one
counter's variance, so the call time has 1/m of it.  ``low``/``high`` are
mean ∓ 1.28 σ (p10–p90 of a normal), ``low`` never before ``now``.

Probes: "if a citizen of this field took a ticket now" (the kiosk's tile,
the wall's line per field, the ticket being issued).  A probe is a ticket
issued now, after every real one in its line and before every expected
one; the first counter that would call it gives its time, and it takes no
service, so it moves no other ticket nor another probe.

``learn`` makes the figures from recent days: each field's service mean
and spread, by hour of the day where an hour had ``MIN_PER_HOUR``
services, and the citizens per hour by field, priority and hour.

Pure: no clock, no I/O; about 2 µs per call played (bench/wait.py).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Iterable

from kiosk.config import SiteConfig
from kiosk.core.domain import selection
from kiosk.core.domain.state import OPEN, Counter, QueueState, Ticket

Z90 = 1.2816  # the normal's p90 in σ
# An hour of the day gets its own service figure from this many services.
MIN_PER_HOUR = 15
# A "service" longer than this many times its field's median is a counter
# left called over lunch, not a citizen: it would teach a false mean.
OUTLIER_X_MEDIAN = 8
# The live window is trusted alone from this many services (figures_from_state).
PRIOR_N = 5
# How many of the latest service days the figures are learned from.
LEARN_DAYS = 10


@dataclass(frozen=True)
class ServiceFigure:
    """A field's service time, seconds: mean and standard deviation."""
    mean_s: float
    sd_s: float


@dataclass
class Figures:
    """Per-field service figures, and per (field, local hour) where there
    was enough data to learn one.  ``utc_offset_s``: local time's offset,
    for the hour of day."""
    fields: dict[str, ServiceFigure]
    by_hour: dict[tuple[str, int], ServiceFigure] = field(default_factory=dict)
    utc_offset_s: float = 7 * 3600
    # Citizens expected per hour by (field, priority, local hour): the ones
    # still to come, who may go ahead (priority) or take a shared counter
    # that ranks their field first.  Empty: none are played.
    arrivals_per_h: dict[tuple[str, bool, int], float] = field(default_factory=dict)

    def hour(self, t: float) -> int:
        return int((t + self.utc_offset_s) // 3600) % 24

    def at(self, field_code: str, t: float) -> ServiceFigure:
        if self.by_hour:
            f = self.by_hour.get((field_code, self.hour(t)))
            if f is not None:
                return f
        f = self.fields.get(field_code)
        if f is None:
            # A ticket of a field the config no longer has (taken out while
            # its citizens wait): the mean of the others, not a crash.
            known = list(self.fields.values()) or [ServiceFigure(300.0, 180.0)]
            f = ServiceFigure(sum(x.mean_s for x in known) / len(known),
                              sum(x.sd_s for x in known) / len(known))
        return f

    def next_arrival(self, field_code: str, priority: bool, t: float, first: bool,
                     until: float) -> float | None:
        """The next expected arrival after ``t`` (half a gap after ``t``
        for the first one, so the count by any time is rounded, not floored)."""
        while t < until:
            rate = self.arrivals_per_h.get((field_code, priority, self.hour(t)), 0.0)
            if rate > 0:
                return t + (0.5 if first else 1.0) * 3600 / rate
            t, first = (t // 3600 + 1) * 3600, True   # the next hour
        return None


@dataclass(frozen=True)
class Forecast:
    """A waiting ticket's expected call time and its p10-p90 range (epoch s)."""
    call_at: float
    low: float
    high: float
    counter: int


def figures_from_state(config: SiteConfig, state: QueueState, cv: float = 0.6) -> Figures:
    """Figures from the live window of recent services (``SERVICE_WINDOW``
    per field), the configured minutes per citizen where there is none.

    Until the window holds ``PRIOR_N`` services, the configured minutes
    count as that many services more, shrinking as real ones come: one
    service finished in a second (a wrong key) would else tell a whole
    line "dưới 1 phút".  The spread is ``cv`` × mean until then.
    """
    out = {}
    for f in config.fields:
        window = list(state.service_times.get(f.code, ()))
        prior = max(0, PRIOR_N - len(window))
        mean = (sum(window) + prior * f.minutes_per_citizen * 60) / (len(window) + prior)
        if len(window) >= PRIOR_N:
            sd = math.sqrt(sum((x - mean) ** 2 for x in window) / (len(window) - 1))
        else:
            sd = cv * mean
        out[f.code] = ServiceFigure(mean, sd)
    return Figures(out)


def learn(services: Iterable[tuple[str, float, float]],
          issued: Iterable[tuple[str, float, str, bool]],
          utc_offset_s: float = 7 * 3600, min_per_hour: int = MIN_PER_HOUR) -> Figures:
    """Figures from recent days.

    ``services``: (field, called_at, seconds) of each call that ended in a
    service or a no-show: what a call costs its counter, so a day with many
    no-shows moves faster than its services alone say.
    ``issued``: (day, issued_at, field, priority) of every ticket.  A
    day's hour counts for the part of it that day was issuing (its first
    to its last ticket), so the half hour after an 07:30 opening is not
    taken for a quiet hour; the rate is the mean over the days that issued.

    Transfers are not played as arrivals: tried (a transfer at the front of
    the line it is sent to, at the rate learned), bench/wait.py's MAE did
    not move (0.561 against 0.565 of the old estimate's).
    """
    hour = Figures({}, utc_offset_s=utc_offset_s).hour
    by_f: dict[str, list[float]] = {}
    rows = [(f, at, s) for f, at, s in services if s > 0]
    for f, _, s in rows:
        by_f.setdefault(f, []).append(s)
    limit = {f: OUTLIER_X_MEDIAN * sorted(xs)[len(xs) // 2] for f, xs in by_f.items()}
    by_f, by_h = {}, {}
    for f, at, s in rows:
        if s <= limit[f]:
            by_f.setdefault(f, []).append(s)
            by_h.setdefault((f, hour(at)), []).append(s)

    day_span: dict[str, tuple[float, float]] = {}
    issued = list(issued)
    for day, at, _, _ in issued:
        a, b = day_span.get(day, (at, at))
        day_span[day] = (min(a, at), max(b, at))
    rates: dict[tuple[str, bool, int], float] = {}
    for day, at, f, prio in issued:
        first, last = day_span[day]
        start = at - (at + utc_offset_s) % 3600
        exposure = (min(last, start + 3600) - max(first, start)) / 3600
        key = (f, prio, hour(at))
        # An hour issued for under a quarter is counted as a quarter: one
        # early citizen is not a rush.
        rates[key] = rates.get(key, 0.0) + 1 / max(exposure, 0.25) / len(day_span)
    return Figures({f: _figure(xs) for f, xs in by_f.items()},
                   {k: _figure(xs) for k, xs in by_h.items() if len(xs) >= min_per_hour},
                   utc_offset_s, rates)


def _figure(xs: list[float]) -> ServiceFigure:
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return ServiceFigure(mean, sd)


def learn_from_tickets(rows: Iterable[tuple], utc_offset_s: float) -> Figures:
    """``learn`` over the read side's ``recent_tickets`` rows: (day,
    issued_at, origin_field, priority?, field, called_at, ended_at)."""
    rows = list(rows)
    return learn([(f, called, done - called) for _, _, _, _, f, called, done in rows
                  if called is not None and done is not None],
                 [(day, at, origin, bool(prio)) for day, at, origin, prio, *_ in rows],
                 utc_offset_s)


def with_live(config: SiteConfig, state: QueueState, learned: Figures | None) -> Figures:
    """The learned figures, with the live window (or the configured minutes
    per citizen) for a field that has no history: a new field, a new centre."""
    live = figures_from_state(config, state)
    if learned is None:
        return live
    fields = {**live.fields, **{k: v for k, v in learned.fields.items() if k in live.fields}}
    return Figures(fields, learned.by_hour, learned.utc_offset_s, learned.arrivals_per_h)


def remaining_s(fig: ServiceFigure, spent_s: float) -> float:
    """The expected rest of a service that has taken ``spent_s`` so far."""
    tail = fig.sd_s ** 2 / fig.mean_s if fig.mean_s > 0 else 0.0
    return max(fig.mean_s - max(0.0, spent_s), tail)


def probe_id(field_code: str, priority: bool = False) -> str:
    """The key of a probe's forecast: ``?field`` or ``?field+`` (priority)."""
    return f"?{field_code}{'+' if priority else ''}"


def forecast(config: SiteConfig, state: QueueState, figures: Figures,
             now: float, horizon_s: float = 12 * 3600,
             probes: Iterable[tuple[str, bool]] = (), tickets: bool = True) -> dict[str, Forecast]:
    """Every waiting ticket that an open counter will call, by ticket id,
    and each probe (field, priority) by ``probe_id``.

    A ticket or probe no open counter can reach (its field's counters all
    paused) is left out: the caller says "when a counter reopens".
    Expected arrivals (``Figures.arrivals_per_h``) are played as tickets
    issued later, up to ``horizon_s`` ahead.  ``tickets=False``: only the
    probes are wanted, and the play stops once they are all called.
    """
    probes = list(dict.fromkeys(probes))
    # A shadow state: copied lines and streaks; the tickets read only, or a
    # copy of the index when probes or expected arrivals are added to it.
    copy = bool(figures.arrivals_per_h or probes)
    shadow = QueueState(tickets=dict(state.tickets) if copy else state.tickets,
                        lines={k: list(v) for k, v in state.lines.items() if v})
    shadow.issue_seq = state.issue_seq
    heap: list[tuple[float, int]] = []
    var: dict[int, float] = {}
    for cfg in config.counters:
        c = state.counters.get(cfg.number)
        if c is None or c.status != OPEN:
            continue
        shadow.counters[cfg.number] = Counter(cfg.number, priority_streak=c.priority_streak)
        free_at, v = now, 0.0
        if c.current is not None:
            t = state.tickets[c.current]
            fig = figures.at(t.field, t.called_at if t.called_at is not None else now)
            spent = now - t.called_at if t.called_at is not None else 0.0
            free_at, v = now + remaining_s(fig, spent), fig.sd_s ** 2
        heap.append((free_at, cfg.number))
        var[cfg.number] = v
    heapq.heapify(heap)
    pools = _pool_sizes(config, shadow)
    real_left = sum(len(v) for k, v in shadow.lines.items() if k[0] in pools) if tickets else 0
    probes_left = 0
    for f, prio in probes:
        if f in pools:
            # Issued now: after every real ticket, before every expected one.
            p = Ticket(id=probe_id(f, prio), day="", field=f, origin_field=f, number=-1, label="",
                       priority="?" if prio else None, seq=state.issue_seq + 1, issued_at=now)
            shadow.tickets[p.id] = p
            shadow.enqueue(p)
            probes_left += 1
    shadow.issue_seq += 1
    coming = _Arrivals(figures, shadow, now, now + horizon_s)
    out: dict[str, Forecast] = {}
    while heap and (real_left or probes_left):
        free_at, no = heap[0]
        coming.issue_until(free_at)
        t = next(selection.order(config, shadow, no), None)
        if t is None:
            wake = coming.next_for(config.counter(no).fields)
            if wake is None:
                heapq.heappop(heap)     # nothing now, nor coming
            else:
                heapq.heapreplace(heap, (wake, no))
            continue
        shadow.dequeue(t)
        if t.number:                    # a real ticket or a probe, not one expected
            if t.number > 0:
                real_left -= 1 if tickets else 0
            if tickets or t.number < 0:
                sigma = math.sqrt(var[no] / pools.get(shadow.line_of(t)[0], 1))
                out[t.id] = Forecast(free_at, max(now, free_at - Z90 * sigma),
                                     free_at + Z90 * sigma, no)
            if t.number < 0:            # a probe takes no time and leaves no streak
                probes_left -= 1
                continue
        counter = shadow.counters[no]
        counter.priority_streak = counter.priority_streak + 1 if t.priority else 0
        fig = figures.at(t.field, free_at)
        # An expected citizen may not come: counted as Poisson, its service
        # adds E[S²] (a compound Poisson sum's variance), not only Var S.
        var[no] += fig.sd_s ** 2 + (0.0 if t.number else fig.mean_s ** 2)
        heapq.heapreplace(heap, (free_at + fig.mean_s, no))
    return out


class _Arrivals:
    """The expected arrivals, issued into the shadow state as time goes on:
    tickets numbered 0 (no real ticket has number 0), after every real one
    in line (``seq``)."""

    def __init__(self, figures: Figures, shadow: QueueState, now: float, until: float):
        self.figures, self.shadow, self.until = figures, shadow, until
        self.seq = shadow.issue_seq
        self.next: dict[tuple[str, bool], float] = {}
        for f, prio, _ in figures.arrivals_per_h:
            if (f, prio) not in self.next:
                at = figures.next_arrival(f, prio, now, True, until)
                if at is not None:
                    self.next[(f, prio)] = at
        # (time, an index into keys): the ties never compare the keys.
        self.keys = list(self.next)
        self.heap = [(at, i) for i, at in enumerate(self.next.values())]
        heapq.heapify(self.heap)

    def issue_until(self, t: float) -> None:
        while self.heap and self.heap[0][0] <= t:
            at, i = self.heap[0]
            f, prio = self.keys[i]
            self.seq += 1
            ticket = Ticket(id=f"~{self.seq}", day="", field=f, origin_field=f, number=0,
                            label="", priority="~" if prio else None, seq=self.seq,
                            issued_at=at)
            self.shadow.tickets[ticket.id] = ticket
            self.shadow.enqueue(ticket)
            later = self.figures.next_arrival(f, prio, at, False, self.until)
            if later is None:
                heapq.heappop(self.heap)
                del self.next[(f, prio)]
            else:
                heapq.heapreplace(self.heap, (later, i))
                self.next[(f, prio)] = later

    def next_for(self, fields: list[str]) -> float | None:
        """When the next citizen for one of these fields is expected."""
        times = [at for (f, _), at in self.next.items() if f in fields]
        return min(times) if times else None


def _pool_sizes(config: SiteConfig, shadow: QueueState) -> dict[str | int, int]:
    """How many open counters take from each line (a field, or a counter's own)."""
    sizes: dict[str | int, int] = {}
    for cfg in config.counters:
        if cfg.number in shadow.counters:
            sizes[cfg.number] = 1
            for f in cfg.fields:
                sizes[f] = sizes.get(f, 0) + 1
    return sizes
