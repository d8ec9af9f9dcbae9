"""The report figures: pure computations over plain rows.

No database, no files, no plotting here: ``reader`` turns the SQLite file
into ``TicketRow`` and ``RatingRow`` values, this module groups them and
computes every figure that docs/reports.md defines, and ``output`` /
``charts`` format the result.  Tests feed hand-made rows straight in.

One pass over the rows feeds every requested breakdown at once, so the
spreadsheet (all five breakdowns) costs one read and one pass, not five.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

log = logging.getLogger(__name__)

BREAKDOWNS = ("official", "counter", "field", "day", "hour")
# Why a press was kept but not counted; the engine's reasons, in report order.
REASONS = ("no_window", "after_window", "extra_press", "too_fast")
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
    rank = max(1, math.ceil(p / 100 * n))
    return sorted_values[rank - 1]


class _Acc:
    """Running sums for one group; percentiles need the raw samples."""

    __slots__ = ("f", "waits", "services")

    def __init__(self, key: Any, level_codes: Iterable[str]):
        self.f = Figures(key=key, levels={c: 0 for c in level_codes},
                         reasons={r: 0 for r in REASONS})
        self.waits: list[float] = []
        self.services: list[float] = []

    def finish(self) -> Figures:
        f = self.f
        self.waits.sort()
        self.services.sort()
        f.wait_p50, f.wait_p90 = _minutes(percentile(self.waits, 50)), _minutes(percentile(self.waits, 90))
        f.service_p50 = _minutes(percentile(self.services, 50))
        f.service_p90 = _minutes(percentile(self.services, 90))
        return f


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _sort_key(key: Any, order: dict[str, int]) -> tuple:
    # Fields in config order (as the kiosk shows them), the rest by value;
    # the unattributed group (key None) goes last.
    if key is None:
        return (2, 0, "")
    if key in order:
        return (0, order[key], "")
    return (1, 0, key)


def compute(tickets: Iterable[TicketRow], ratings: Iterable[RatingRow], rules: Rules,
            date_from: dt.date, date_to: dt.date,
            breakdowns: Iterable[str] = BREAKDOWNS,
            present: dict[str, Iterable[Any]] | None = None) -> Report:
    """Group the rows of the period and compute every figure for each group.

    Tickets and ratings must already be those of the period (the reader
    selects them); grouping rules are in docs/reports.md.  ``present`` names
    groups that get a row even with no ticket or press (by breakdown, e.g.
    the officials on duty in the period).
    """
    wanted = list(breakdowns)
    for by in wanted:
        if by not in BREAKDOWNS:
            raise ReportError(f"unknown breakdown {by!r} (expected one of {', '.join(BREAKDOWNS)})")
    tz = rules.tz
    levels = list(rules.levels)
    known_levels = {lv.code for lv in levels}
    satisfied_codes = {lv.code for lv in levels if lv.satisfied}
    warnings: list[str] = []
    accs: dict[str, dict[Any, _Acc]] = {by: {} for by in wanted}
    total = _Acc("total", [lv.code for lv in levels])
    level_order = [lv.code for lv in levels]

    def acc(by: str, key: Any) -> _Acc:
        group = accs[by].get(key)
        if group is None:
            group = accs[by][key] = _Acc(key, level_order)
        return group

    for by, keys in (present or {}).items():
        if by in accs:
            for key in keys:
                acc(by, key)

    # ------------------------------------------------------------ tickets
    hours: dict[int, int] = {}

    def hour_of(ts: float) -> int:
        # Every UTC offset in use is a whole number of quarter hours, so the
        # local hour is constant over an epoch-aligned quarter: one time zone
        # conversion per quarter instead of one per ticket.
        q = int(ts // 900)
        h = hours.get(q)
        if h is None:
            h = hours[q] = dt.datetime.fromtimestamp(q * 900, tz).hour
        return h

    tables = [(by, accs[by]) for by in wanted]
    unknown_fields: dict[str, int] = {}
    negative = 0
    for t in tickets:
        hour = hour_of(t.issued_at)
        wait = t.wait_s
        if wait is not None and wait < 0:
            negative += 1
            wait = 0.0
        finished = t.state == "finished"
        service = t.service_s
        on_time: bool | None = None
        if finished and service is not None:
            if service < 0:
                negative += 1
                service = 0.0
            typical = rules.minutes_per_citizen.get(t.field)
            if typical is None:
                unknown_fields[t.field] = unknown_fields.get(t.field, 0) + 1
            else:
                on_time = service <= typical * 60
        expired = t.close_reason == EXPIRED
        no_show = not expired and t.state == "no_show"
        groups_issue = [total]
        groups_outcome = [total]
        for by, table in tables:
            # Issue side (who came, for what): origin field; outcome side
            # (what became of them): the field served in.  The other
            # breakdowns use one key for both.
            if by == "official":
                ki = ko = t.official
            elif by == "counter":
                ki = ko = t.counter
            elif by == "field":
                ki, ko = t.origin_field, t.field
            elif by == "day":
                ki = ko = t.day
            else:
                ki = ko = hour
            gi = table.get(ki)
            if gi is None:
                gi = acc(by, ki)
            groups_issue.append(gi)
            go = gi if ko == ki else (table.get(ko) or acc(by, ko))
            groups_outcome.append(go)
        for g in groups_issue:
            f = g.f
            f.issued += 1
            if t.priority is not None:
                f.priority += 1
            if t.transfers > 0:
                f.transferred += 1
            if wait is not None:
                g.waits.append(wait)
        for g in groups_outcome:
            f = g.f
            if finished:
                f.served += 1
            elif expired:
                f.expired += 1
            elif no_show:
                f.no_show += 1
            if service is not None:
                g.services.append(service)
            if on_time is not None:
                f.on_time_base += 1
                if on_time:
                    f.on_time += 1
    for code, n in sorted(unknown_fields.items()):
        warnings.append(f"{n} served ticket(s) in field {code!r}, which the site config no longer "
                        "has: left out of the on-time share")
    if negative:
        warnings.append(f"{negative} wait or service time(s) were negative (the wall clock went "
                        "back); counted as 0 minutes")

    # ------------------------------------------------------------ ratings
    unknown_levels: dict[str, int] = {}
    unknown_reasons: dict[str, int] = {}
    for r in ratings:
        if r.ticket_day is not None:
            day, hour = r.ticket_day, hour_of(r.ticket_issued_at)
        else:
            local = dt.datetime.fromtimestamp(r.at, tz)
            day, hour = local.date().isoformat(), local.hour
        field_code = r.field if r.field is not None else r.ticket_field
        groups = [total]
        for by, table in tables:
            if by == "official":
                k = r.official
            elif by == "counter":
                k = r.counter
            elif by == "field":
                k = field_code
            elif by == "day":
                k = day
            else:
                k = hour
            groups.append(table.get(k) or acc(by, k))
        if r.counted:
            if r.level not in known_levels:
                unknown_levels[r.level] = unknown_levels.get(r.level, 0) + 1
            good = r.level in satisfied_codes
            for g in groups:
                f = g.f
                f.rated += 1
                f.levels[r.level] = f.levels.get(r.level, 0) + 1
                if good:
                    f.satisfied += 1
        else:
            reason = r.reason or "unknown"
            if reason not in REASONS:
                unknown_reasons[reason] = unknown_reasons.get(reason, 0) + 1
            for g in groups:
                f = g.f
                f.anomalies += 1
                f.reasons[reason] = f.reasons.get(reason, 0) + 1
    for code, n in sorted(unknown_levels.items()):
        warnings.append(f"{n} counted rating(s) at level {code!r}, which the site config no longer "
                        "has: shown in their own column, counted as not satisfied")
        levels.append(Level(code, False))
    for reason, n in sorted(unknown_reasons.items()):
        warnings.append(f"{n} anomalous press(es) with unknown reason {reason!r}: counted in the "
                        "anomaly total only")
    for w in warnings:
        log.warning("report %s..%s: %s", date_from, date_to, w)

    all_codes = [lv.code for lv in levels]
    field_order = {code: i for i, code in enumerate(rules.minutes_per_citizen)}
    tot = total.finish()
    tot.levels = {c: tot.levels.get(c, 0) for c in all_codes}
    result: dict[str, Breakdown] = {}
    for by in wanted:
        order = field_order if by == "field" else {}
        figures = [accs[by][k].finish() for k in sorted(accs[by], key=lambda k: _sort_key(k, order))]
        for f in figures:
            f.levels = {c: f.levels.get(c, 0) for c in all_codes}
        result[by] = Breakdown(by, figures, tot)
    return Report(date_from, date_to, tuple(levels), result, warnings)
