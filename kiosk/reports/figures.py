"""The report figures: pure computations over plain columns or rows.

No database, no files, no plotting here: ``reader`` turns the SQLite file
into ``TicketColumns`` and ``RatingColumns``, this module groups them and
computes every figure that docs/reports.md defines, and ``output`` /
``charts`` format the result.  Tests feed hand-made ``TicketRow`` and
``RatingRow`` values straight in.

The figures are sums and percentiles over group codes done by numpy, so a
month (150,000 tickets, every breakdown for the spreadsheet) is grouped in
C rather than one Python step per ticket per breakdown.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from kiosk.core.domain import ANOMALIES

log = logging.getLogger(__name__)

BREAKDOWNS = ("official", "counter", "field", "day", "hour")
# Why a press was kept but not counted: the domain's reasons, one home for them.
REASONS = ANOMALIES
EXPIRED = "day_closed"


class ReportError(Exception):
    """A report that cannot be made; the message is meant for a person."""


class TicketRow(NamedTuple):
    # NamedTuples, not dataclasses: a month is 150,000 rows, and a tuple is
    # built in one step where a frozen dataclass sets each field in turn.
    day: str                      # service day in the site's time zone, "2026-11-27"
    field: str                    # field at the end (changes on transfer)
    origin_field: str             # field the citizen chose at the kiosk
    priority: str | None
    issued_at: float
    state: str
    counter: int | None           # counter that called it last
    transfers: int
    close_reason: str | None
    official: str | None          # official at the counter when last called
    wait_s: float | None          # first non-recall call - issue; None if never called
    service_s: float | None       # finish - last call, for finished tickets; else None


class RatingRow(NamedTuple):
    counter: int
    level: str
    at: float
    counted: int                  # 1: a rating; 0: an anomaly
    reason: str | None
    official: str | None
    field: str | None
    # The rated ticket's service day, issue time and field; None with no ticket.
    ticket_day: str | None
    ticket_issued_at: float | None
    ticket_field: str | None


@dataclass(frozen=True, slots=True)
class Level:
    code: str
    satisfied: bool


@dataclass(frozen=True, slots=True)
class Rules:
    """What the figures need from the site config, as plain values."""

    levels: tuple[Level, ...]            # best first
    minutes_per_citizen: dict[str, float]  # field code -> typical minutes, in config order
    tz: dt.tzinfo


@dataclass
class Figures:
    """Every figure for one group (or the total); minutes and fractions."""

    key: Any
    issued: int = 0
    served: int = 0
    no_show: int = 0
    expired: int = 0
    transferred: int = 0
    priority: int = 0
    wait_p50: float | None = None
    wait_p90: float | None = None
    service_p50: float | None = None
    service_p90: float | None = None
    levels: dict[str, int] = field(default_factory=dict)
    rated: int = 0
    satisfied: int = 0
    anomalies: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    on_time: int = 0
    on_time_base: int = 0

    @property
    def satisfaction(self) -> float | None:
        return _share(self.satisfied, self.rated)

    @property
    def rated_share(self) -> float | None:
        return _share(self.rated, self.served)

    @property
    def priority_share(self) -> float | None:
        return _share(self.priority, self.issued)

    @property
    def on_time_share(self) -> float | None:
        return _share(self.on_time, self.on_time_base)


@dataclass
class Breakdown:
    by: str
    groups: list[Figures]
    total: Figures


@dataclass
class Report:
    date_from: dt.date
    date_to: dt.date
    levels: tuple[Level, ...]   # config levels, then any unknown codes met in the data
    breakdowns: dict[str, Breakdown]
    warnings: list[str]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of values at or below it."""
    n = len(sorted_values)
    if n == 0:
        return None
    return sorted_values[_rank(n, p) - 1]


def _rank(n, p):
    # ceil(p/100 * n) in integers where p is whole (50, 90): float products
    # such as 0.7 * 10 = 7.000000000000001 would move a rank by one.
    if float(p).is_integer():
        return np.maximum(1, (int(p) * n + 99) // 100)
    return np.maximum(1, np.ceil(p / 100 * n).astype(np.int64))


# A ticket's outcome as bits of one integer (the reader's SQL packs the
# same bits): one value per ticket to hand over instead of five.
FINISHED, EXPIRED_BIT, NO_SHOW, PRIORITY, TRANSFERRED = 1, 2, 4, 8, 16


class TicketColumns(NamedTuple):
    """The tickets as columns: what the reader hands over for a month.  A key
    column no wanted breakdown uses may be all None (the reader does not
    fetch it).  Times are whole milliseconds, or None."""

    day: Sequence
    field: Sequence
    origin_field: Sequence
    issued_at: Sequence
    counter: Sequence
    official: Sequence
    outcome: Sequence             # FINISHED | EXPIRED_BIT | NO_SHOW | PRIORITY | TRANSFERRED
    wait_ms: Sequence
    service_ms: Sequence


def ticket_columns(rows: Iterable[TicketRow]) -> TicketColumns:
    """Rows to columns, with the outcome bits as reader.py's SQL derives them:
    expired means closed at the end of the day, never served; no-show means
    marked so at a counter and not expired."""
    out = []
    for t in rows:
        expired = t.close_reason == EXPIRED
        bits = ((FINISHED if t.state == "finished" else 0) | (EXPIRED_BIT if expired else 0)
                | (NO_SHOW if not expired and t.state == "no_show" else 0)
                | (PRIORITY if t.priority is not None else 0)
                | (TRANSFERRED if t.transfers > 0 else 0))
        out.append((t.day, t.field, t.origin_field, t.issued_at, t.counter, t.official, bits,
                    None if t.wait_s is None else t.wait_s * 1000,
                    None if t.service_s is None else t.service_s * 1000))
    return _transpose(out, TicketColumns)


class RatingColumns(NamedTuple):
    """The presses as columns: ``n`` identical presses per entry (the reader
    groups them when no time is read), times cut to the quarter hour (all
    the figures need of them: the local day and hour)."""

    counter: Sequence
    level: Sequence
    at: Sequence
    counted: Sequence
    reason: Sequence
    official: Sequence
    field: Sequence               # the press's field, else its ticket's
    ticket_day: Sequence
    ticket_issued_at: Sequence
    n: Sequence                   # how many such presses


def _transpose(rows: list, kind):
    return kind(*zip(*rows)) if rows else kind(*([()] * len(kind._fields)))


def _floats(values: Sequence) -> np.ndarray:
    # None (SQL NULL) becomes NaN: "no value" for waits and services.
    return np.array(values, dtype=float) if len(values) else np.zeros(0)


def _not_none(values: Sequence) -> np.ndarray:
    return np.array([v is not None for v in values], dtype=bool)


class _Keys:
    """One breakdown's group keys, each given a small integer code.

    Tickets (both sides) and presses share the codes, so every group's
    figures are sums over one index: numpy's bincount does a month's
    grouping in C instead of one Python step per ticket.
    """

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}

    def codes(self, values: Sequence) -> np.ndarray:
        index = self.index
        if isinstance(values, np.ndarray):
            # Hours: numpy finds the distinct ones and each value's place.
            distinct, inverse = np.unique(values, return_inverse=True)
            keys = distinct.tolist()
            for key in keys:
                index.setdefault(key, len(index))
            return np.array([index[k] for k in keys], dtype=np.int64)[inverse]
        # dict.fromkeys finds the distinct keys at C speed; the per-value
        # lookup is then a C-level map with no Python frame per ticket.
        for key in dict.fromkeys(values):
            index.setdefault(key, len(index))
        return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))

    def add(self, key: Any) -> None:
        self.index.setdefault(key, len(self.index))


class _Local:
    """Local day and hour of epoch times, one time zone lookup per quarter hour.

    Every UTC offset in use is a whole number of quarter hours, so the local
    date and hour are constant over an epoch-aligned quarter.
    """

    def __init__(self, tz: dt.tzinfo):
        self.tz = tz
        self.cache: dict[int, tuple[str, int]] = {}

    def _quarters(self, ts: np.ndarray) -> tuple[list[tuple[str, int]], np.ndarray]:
        quarters, inverse = np.unique((ts // 900).astype(np.int64), return_inverse=True)
        local = []
        for q in quarters.tolist():
            got = self.cache.get(q)
            if got is None:
                at = dt.datetime.fromtimestamp(q * 900, self.tz)
                got = self.cache[q] = (at.date().isoformat(), at.hour)
            local.append(got)
        return local, inverse

    def hours(self, ts: np.ndarray) -> np.ndarray:
        if not len(ts):
            return np.zeros(0, np.int64)
        local, inverse = self._quarters(ts)
        return np.array([h for _, h in local], dtype=np.int64)[inverse]

    def days_and_hours(self, ts: np.ndarray) -> tuple[list[str], np.ndarray]:
        if not len(ts):
            return [], np.zeros(0, np.int64)
        local, inverse = self._quarters(ts)
        days = np.array([d for d, _ in local], dtype=object)[inverse].tolist()
        return days, np.array([h for _, h in local], dtype=np.int64)[inverse]


def _sums(codes: np.ndarray, groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per group: how many entries, or the sum of their (integer) weights."""
    if weights is not None:
        return np.bincount(codes, weights=weights.astype(np.int64), minlength=groups).astype(np.int64)
    return np.bincount(codes, minlength=groups)


class _Samples:
    """Waits or services (NaN: no sample), sorted once for every breakdown."""

    def __init__(self, values: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        self.order = self.order[~np.isnan(values[self.order])]
        self.sorted = values[self.order]

    def percentiles(self, codes: np.ndarray, groups: int,
                    ps: tuple[int, ...] = (50, 90)) -> list[list[float | None]]:
        """Nearest-rank percentiles per group, in minutes."""
        # A stable sort by group keeps each group's samples in value order;
        # on 16-bit codes numpy sorts by radix, in linear time.
        c = codes[self.order].astype(np.int16 if groups < 2**15 else np.int64)
        by_group = np.argsort(c, kind="stable")
        v = self.sorted[by_group]
        n = np.bincount(c, minlength=groups)
        start = np.concatenate(([0], np.cumsum(n)[:-1])).astype(np.int64)
        result = []
        for p in ps:
            if not len(v):
                result.append([None] * groups)
                continue
            idx = np.minimum(start + _rank(n, p) - 1, len(v) - 1)
            picked = v[idx] / 60
            result.append([float(x) if k else None for x, k in zip(picked.tolist(), n.tolist())])
        return result


def _sort_key(key: Any, order: dict[str, int]) -> tuple:
    # Fields in config order (as the kiosk shows them), the rest by value;
    # the unattributed group (key None) goes last.
    if key is None:
        return (2, 0, "")
    if key in order:
        return (0, order[key], "")
    return (1, 0, key)


def compute(tickets: Iterable[TicketRow] | TicketColumns,
            ratings: Iterable[RatingRow] | RatingColumns, rules: Rules,
            date_from: dt.date, date_to: dt.date,
            breakdowns: Iterable[str] = BREAKDOWNS,
            present: dict[str, Iterable[Any]] | None = None) -> Report:
    """Group the rows of the period and compute every figure for each group.

    Tickets and ratings must already be those of the period (the reader
    selects them), as rows or as columns; grouping rules are in
    docs/reports.md.  ``present`` names groups that get a row even with no
    ticket or press (by breakdown, e.g. the officials on duty in the period).
    """
    wanted = list(breakdowns)
    for by in wanted:
        if by not in BREAKDOWNS:
            raise ReportError(f"unknown breakdown {by!r} (expected one of {', '.join(BREAKDOWNS)})")
    T = tickets if isinstance(tickets, TicketColumns) else ticket_columns(tickets)
    R = (ratings if isinstance(ratings, RatingColumns)
         else _transpose([(r.counter, r.level, r.at, r.counted, r.reason, r.official,
                           r.field if r.field is not None else r.ticket_field, r.ticket_day,
                           r.ticket_issued_at, 1) for r in ratings], RatingColumns))
    local = _Local(rules.tz)
    warnings: list[str] = []

    # ------------------------------------------------------------ tickets
    n_t = len(T.wait_ms)
    wait = _floats(T.wait_ms) / 1000
    service = _floats(T.service_ms) / 1000
    bits = np.array(T.outcome, dtype=np.int64) if n_t else np.zeros(0, np.int64)
    finished = (bits & FINISHED) != 0
    expired = (bits & EXPIRED_BIT) != 0
    no_show = (bits & NO_SHOW) != 0
    priority = (bits & PRIORITY) != 0
    transferred = (bits & TRANSFERRED) != 0
    with np.errstate(invalid="ignore"):
        neg_wait = wait < 0
        neg_service = service < 0
    negative = int(neg_wait.sum() + neg_service.sum())
    wait[neg_wait] = 0.0
    service[neg_service] = 0.0
    timed = finished & ~np.isnan(service)
    typical = np.fromiter(map(rules.minutes_per_citizen.get, T.field, repeat(np.nan)),
                          dtype=float, count=n_t)
    unknown = timed & np.isnan(typical)
    on_time_base = timed & ~unknown
    with np.errstate(invalid="ignore"):
        on_time = on_time_base & (service <= typical * 60)
    if unknown.any():
        missing: dict[str, int] = {}
        for f in np.array(T.field, dtype=object)[unknown].tolist():
            missing[f] = missing.get(f, 0) + 1
        for code, n in sorted(missing.items()):
            warnings.append(f"{n} served ticket(s) in field {code!r}, which the site config no "
                            "longer has: left out of the on-time share")
    if negative:
        warnings.append(f"{negative} wait or service time(s) were negative (the wall clock went "
                        "back); counted as 0 minutes")

    # ------------------------------------------------------------ ratings
    n_r = len(R.at)
    has_ticket = _not_none(R.ticket_day)
    r_day: list = list(R.ticket_day)
    r_hour = np.zeros(n_r, np.int64)
    hour = np.zeros(n_t, np.int64)
    if "hour" in wanted:
        hour = local.hours(_floats(T.issued_at))
    if n_r and ("day" in wanted or "hour" in wanted):
        t_issued = np.array([x if x is not None else 0.0 for x in R.ticket_issued_at], dtype=float)
        ticket_hour = local.hours(t_issued)
        pressed_day, pressed_hour = local.days_and_hours(_floats(R.at))
        r_hour = np.where(has_ticket, ticket_hour, pressed_hour)
        r_day = [d if d is not None else p for d, p in zip(r_day, pressed_day)]
    counted = np.array(R.counted, dtype=bool) if n_r else np.zeros(0, bool)
    presses = np.array(R.n, dtype=np.int64) if n_r else np.zeros(0, np.int64)
    levels = list(rules.levels)
    level_index = {lv.code: i for i, lv in enumerate(levels)}
    unknown_levels: dict[str, int] = {}
    for code, c, k in zip(R.level, counted.tolist(), R.n):
        if c and code not in level_index:
            unknown_levels[code] = unknown_levels.get(code, 0) + k
    for code, n in sorted(unknown_levels.items()):
        warnings.append(f"{n} counted rating(s) at level {code!r}, which the site config no "
                        "longer has: shown in their own column, counted as not satisfied")
        level_index[code] = len(levels)
        levels.append(Level(code, False))
    satisfied_idx = np.array([lv.satisfied for lv in levels], dtype=bool)
    n_levels = len(levels)
    # Anomalies of a level the config dropped are still anomalies; the
    # level only matters for counted presses.
    r_level = np.fromiter(map(level_index.get, R.level, repeat(0)), dtype=np.int64, count=n_r)
    reasons = list(REASONS)
    reason_index = {r: i for i, r in enumerate(reasons)}
    unknown_reasons: dict[str, int] = {}
    r_reason = np.zeros(n_r, np.int64)
    for i, (reason, c, k) in enumerate(zip(R.reason, counted.tolist(), R.n)):
        if c:
            continue
        reason = reason or "unknown"
        if reason not in reason_index:
            unknown_reasons[reason] = unknown_reasons.get(reason, 0) + k
            reason_index[reason] = len(reasons)
            reasons.append(reason)
        r_reason[i] = reason_index[reason]
    for reason, n in sorted(unknown_reasons.items()):
        warnings.append(f"{n} anomalous press(es) with unknown reason {reason!r}: counted in the "
                        "anomaly total only")
    for w in warnings:
        log.warning("report %s..%s: %s", date_from, date_to, w)
    good = counted & satisfied_idx[r_level] if n_r else np.zeros(0, bool)
    anomaly = ~counted

    def group_figures(keys: list, t_issue: np.ndarray, t_outcome: np.ndarray,
                      r_keys: np.ndarray) -> list[Figures]:
        g = len(keys)
        issued = _sums(t_issue, g)
        prio = _sums(t_issue, g, priority)
        moved = _sums(t_issue, g, transferred)
        served = _sums(t_outcome, g, finished)
        gone = _sums(t_outcome, g, expired)
        absent = _sums(t_outcome, g, no_show)
        base = _sums(t_outcome, g, on_time_base)
        ontime = _sums(t_outcome, g, on_time)
        w50, w90 = waits.percentiles(t_issue, g)
        s50, s90 = services.percentiles(t_outcome, g)
        by_level = _sums(r_keys[counted] * n_levels + r_level[counted], g * n_levels,
                         presses[counted]).reshape(g, n_levels)
        rated = by_level.sum(axis=1)
        happy = _sums(r_keys, g, presses * good)
        odd = _sums(r_keys, g, presses * anomaly)
        n_reasons = len(reasons)
        by_reason = _sums(r_keys[anomaly] * n_reasons + r_reason[anomaly], g * n_reasons,
                          presses[anomaly]).reshape(g, n_reasons)
        out = []
        for i, key in enumerate(keys):
            why = {r: int(by_reason[i, j]) for j, r in enumerate(reasons)
                   if j < len(REASONS) or by_reason[i, j]}
            out.append(Figures(
                key=key, issued=int(issued[i]), served=int(served[i]), no_show=int(absent[i]),
                expired=int(gone[i]), transferred=int(moved[i]), priority=int(prio[i]),
                wait_p50=w50[i], wait_p90=w90[i], service_p50=s50[i], service_p90=s90[i],
                levels={lv.code: int(by_level[i, j]) for j, lv in enumerate(levels)},
                rated=int(rated[i]), satisfied=int(happy[i]), anomalies=int(odd[i]),
                reasons=why, on_time=int(ontime[i]), on_time_base=int(base[i])))
        return out

    waits, services = _Samples(wait), _Samples(service)
    zeros_t, zeros_r = np.zeros(n_t, np.int64), np.zeros(n_r, np.int64)
    total = group_figures(["total"], zeros_t, zeros_t, zeros_r)[0]
    field_order = {code: i for i, code in enumerate(rules.minutes_per_citizen)}
    sources = {
        "official": (T.official, T.official, R.official),
        "counter": (T.counter, T.counter, R.counter),
        "field": (T.origin_field, T.field, R.field),
        "day": (T.day, T.day, r_day),
        "hour": (hour, hour, r_hour),
    }
    result: dict[str, Breakdown] = {}
    for by in wanted:
        keys = _Keys()
        issue_side, outcome_side, press_side = sources[by]
        t_issue = keys.codes(issue_side)
        t_outcome = t_issue if outcome_side is issue_side else keys.codes(outcome_side)
        r_keys = keys.codes(press_side)
        for key in (present or {}).get(by, ()):
            keys.add(key)
        figures = group_figures(list(keys.index), t_issue, t_outcome, r_keys)
        order = field_order if by == "field" else {}
        figures.sort(key=lambda f: _sort_key(f.key, order))
        result[by] = Breakdown(by, figures, total)
    return Report(date_from, date_to, tuple(levels), result, warnings)
