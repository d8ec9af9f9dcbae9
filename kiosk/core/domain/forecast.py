"""When each waiting ticket will be called: the queue played forward.

``forecast`` copies the lines and the counters' priority streaks, then
plays the calls ahead with the domain's own rule (``selection.order``, the
one ``Queue.call_next`` takes the first ticket of): the open counter that is
free first calls, its service takes the field's mean (for that hour of the
day where the figures have one), and so on until every line is empty or no
open counter serves what is left.  No arrivals are assumed: a priority
citizen who comes later still goes ahead (what the bench measures).

A counter busy with a ticket is free after the expected rest of that
service given the time it has taken so far: ``mean - spent`` while that is
longer than ``sd² / mean``, else ``sd² / mean`` (the mean rest of a gamma
distribution's long tail, a service already longer than usual is not
"about to end").  Paused and closed counters call nobody.

The range: each counter's free time carries the variance of the services
played on it (its current rest counts ``sd²``).  A ticket called at a
counter gets that variance divided by the number of open counters serving
its line: in a pool of m counters the k-th call comes after about k/m
services on each, and the pool's sum of completions has m times one
counter's variance, so the call time has 1/m of it.  ``low``/``high`` are
mean ∓ 1.28 σ (p10–p90 of a normal), ``low`` never before ``now``.

Pure: no clock, no I/O; about 2 µs per call played (bench/wait.py).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from kiosk.config import SiteConfig
from kiosk.core.domain import selection
from kiosk.core.domain.state import OPEN, Counter, QueueState

Z90 = 1.2816  # the normal's p90 in σ


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

    def at(self, field_code: str, t: float) -> ServiceFigure:
        if self.by_hour:
            hour = int((t + self.utc_offset_s) // 3600) % 24
            f = self.by_hour.get((field_code, hour))
            if f is not None:
                return f
        return self.fields[field_code]


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
    The spread is ``cv`` × mean where the window is too short to tell."""
    out = {}
    for f in config.fields:
        window = list(state.service_times.get(f.code, ()))
        if window:
            mean = sum(window) / len(window)
        else:
            mean = f.minutes_per_citizen * 60
        if len(window) >= 5:
            sd = math.sqrt(sum((x - mean) ** 2 for x in window) / (len(window) - 1))
        else:
            sd = cv * mean
        out[f.code] = ServiceFigure(mean, sd)
    return Figures(out)


def remaining_s(fig: ServiceFigure, spent_s: float) -> float:
    """The expected rest of a service that has taken ``spent_s`` so far."""
    tail = fig.sd_s ** 2 / fig.mean_s if fig.mean_s > 0 else 0.0
    return max(fig.mean_s - max(0.0, spent_s), tail)


def forecast(config: SiteConfig, state: QueueState, figures: Figures,
             now: float) -> dict[str, Forecast]:
    """Every waiting ticket that an open counter will call, by ticket id.

    A ticket no open counter can reach (its field's counters all paused)
    is left out: the caller says "after a counter reopens".
    """
    # A shadow state: copied lines and streaks, the tickets shared (read only).
    shadow = QueueState(tickets=state.tickets,
                        lines={k: list(v) for k, v in state.lines.items() if v})
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
    out: dict[str, Forecast] = {}
    while heap:
        free_at, no = heap[0]
        t = next(selection.order(config, shadow, no), None)
        if t is None:
            # Nothing it can call now, nor later: no arrivals are played.
            heapq.heappop(heap)
            continue
        shadow.dequeue(t)
        counter = shadow.counters[no]
        counter.priority_streak = counter.priority_streak + 1 if t.priority else 0
        sigma = math.sqrt(var[no] / pools.get(shadow.line_of(t)[0], 1))
        out[t.id] = Forecast(free_at, max(now, free_at - Z90 * sigma), free_at + Z90 * sigma, no)
        fig = figures.at(t.field, free_at)
        var[no] += fig.sd_s ** 2
        heapq.heapreplace(heap, (free_at + fig.mean_s, no))
    return out


def _pool_sizes(config: SiteConfig, shadow: QueueState) -> dict[str | int, int]:
    """How many open counters take from each line (a field, or a counter's own)."""
    sizes: dict[str | int, int] = {}
    for cfg in config.counters:
        if cfg.number in shadow.counters:
            sizes[cfg.number] = 1
            for f in cfg.fields:
                sizes[f] = sizes.get(f, 0) + 1
    return sizes
