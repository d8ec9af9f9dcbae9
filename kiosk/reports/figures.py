"""The report figures: pure computations over plain columns or rows.

No database, no files, no plotting here: the core's read side
(kiosk/core/read/period.py) turns the SQLite file into ``TicketColumns`` and
``RatingColumns``, this module groups them and
computes every figure that docs/reports.md defines, and ``output`` /
``charts`` format the result.  Tests feed hand-made ``TicketRow`` and
``RatingRow`` values straight in.

The definitions shared with the province's ranking (rates, nearest-rank
percentiles, the on-time rule) live in ``rates``; the numpy grouping that
keeps a month (150,000 tickets, every breakdown for the spreadsheet) in C
rather than one Python step per ticket per breakdown lives in ``grouping``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Any, Iterable, NamedTuple

import numpy as np

from kiosk.core.domain import ANOMALIES
from kiosk.core.read.period import (EXPIRED_BIT, FINISHED, NO_SHOW, PRIORITY, TRANSFERRED,
                                    RatingColumns, TicketColumns)
from kiosk.reports.grouping import GroupKeys, LocalTime, Samples, floats, not_none, sort_key, sums
from kiosk.reports.rates import Rates, served_on_time, share

log = logging.getLogger(__name__)

BREAKDOWNS = ("official", "counter", "field", "day", "hour")
# Why a press was kept but not counted: the domain's reasons, one home for them.
REASONS = ANOMALIES
EXPIRED = "day_closed"
# A wait told within this of the real one counts as close (bench/wait.py's
# share_within_5_min): 5 minutes.
EST_CLOSE_MS = 5 * 60 * 1000


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
    # The wait told at issue minus the real wait; None if not told or never called.
    est_err_s: float | None = None


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
    # "phone" for the citizen's phone page; anything else is a box's relay.
    source: str | None = None
    # A phone rating's reason codes (why not satisfied); none for a box.
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Level:
    code: str
    satisfied: bool


@dataclass(frozen=True, slots=True)
class Rules:
    """What the figures need from the site config, as plain values."""

    levels: tuple[Level, ...]            # best first
    # Field code -> the service target in minutes ([targets], else the
    # field's minutes_per_citizen), in config order: the on-time rule.
    service_min: dict[str, float]
    tz: dt.tzinfo
    reasons: tuple[str, ...] = ()        # [[rating.reasons]] codes, in config order
    # Field code -> the wait target in minutes ([targets]): the official pack.
    wait_min: dict[str, float] = field(default_factory=dict)
    # Level code -> its grade among Circular 01/2018's three levels.
    grades: dict[str, str] = field(default_factory=dict)


@dataclass
class Figures(Rates):
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
    # Counted ratings from the phone page, and how often each reason was
    # given with a counted phone rating (a rating may give several).
    phone: int = 0
    complaints: dict[str, int] = field(default_factory=dict)
    on_time: int = 0
    on_time_base: int = 0
    # The wait told at issue against the real one (docs/wait.md): tickets
    # told and called, the sum of |told - real| (ms), those within 5 minutes.
    est_n: int = 0
    est_abs_ms: int = 0
    est_within: int = 0

    @property
    def priority_share(self) -> float | None:
        return share(self.priority, self.issued)

    @property
    def est_mae(self) -> float | None:
        """Mean absolute error of the wait told, minutes."""
        return self.est_abs_ms / self.est_n / 60000 if self.est_n else None

    @property
    def est_within_5(self) -> float | None:
        return share(self.est_within, self.est_n)


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
    # The reasons' columns: config codes, then any met in the data the config no longer has.
    complaint_codes: tuple[str, ...] = ()


def ticket_columns(rows: Iterable[TicketRow]) -> TicketColumns:
    """Rows to columns, with the outcome bits as the read side's SQL derives them:
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
                    None if t.service_s is None else t.service_s * 1000,
                    None if t.est_err_s is None else round(t.est_err_s * 1000)))
    return _transpose(out, TicketColumns)


def rating_columns(rows: Iterable[RatingRow]) -> RatingColumns:
    """Rows to columns, one press per entry; a press with no field of its
    own takes its ticket's, as the read side's SQL does."""
    return _transpose([(r.counter, r.level, r.at, r.counted, r.reason, r.official,
                        r.field if r.field is not None else r.ticket_field, r.ticket_day,
                        r.ticket_issued_at, int(r.source == "phone"),
                        json.dumps(list(r.reasons)) if r.counted and r.source == "phone"
                        and r.reasons else None, 1) for r in rows], RatingColumns)


def _transpose(rows: list, kind):
    return kind(*zip(*rows)) if rows else kind(*([()] * len(kind._fields)))


def compute(tickets: Iterable[TicketRow] | TicketColumns,
            ratings: Iterable[RatingRow] | RatingColumns, rules: Rules,
            date_from: dt.date, date_to: dt.date,
            breakdowns: Iterable[str] = BREAKDOWNS,
            present: dict[str, Iterable[Any]] | None = None,
            percentiles: bool = True) -> Report:
    """Group the rows of the period and compute every figure for each group.

    Tickets and ratings must already be those of the period (the read side
    selects them), as rows or as columns; grouping rules are in
    docs/reports.md.  ``present`` names groups that get a row even with no
    ticket or press (by breakdown, e.g. the officials on duty in the period).
    """
    wanted = list(breakdowns)
    for by in wanted:
        if by not in BREAKDOWNS:
            raise ReportError(f"unknown breakdown {by!r} (expected one of {', '.join(BREAKDOWNS)})")
    T = tickets if isinstance(tickets, TicketColumns) else ticket_columns(tickets)
    R = ratings if isinstance(ratings, RatingColumns) else rating_columns(ratings)
    local = LocalTime(rules.tz)
    warnings: list[str] = []

    # ------------------------------------------------------------ tickets
    n_t = len(T.wait_ms)
    wait = floats(T.wait_ms) / 1000
    service = floats(T.service_ms) / 1000
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
    est_err = np.abs(floats(T.est_err_ms))
    told = ~np.isnan(est_err)
    est_err[~told] = 0.0
    est_close = told & (est_err <= EST_CLOSE_MS)
    timed = finished & ~np.isnan(service)
    typical = np.fromiter(map(rules.service_min.get, T.field, repeat(np.nan)),
                          dtype=float, count=n_t)
    unknown = timed & np.isnan(typical)
    on_time_base = timed & ~unknown
    with np.errstate(invalid="ignore"):
        on_time = on_time_base & served_on_time(service, typical)
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
    has_ticket = not_none(R.ticket_day)
    r_day: list = list(R.ticket_day)
    r_hour = np.zeros(n_r, np.int64)
    hour = np.zeros(n_t, np.int64)
    if "hour" in wanted:
        hour = local.hours(floats(T.issued_at))
    if n_r and ("day" in wanted or "hour" in wanted):
        t_issued = floats(R.ticket_issued_at)
        t_issued[np.isnan(t_issued)] = 0.0
        ticket_hour = local.hours(t_issued)
        pressed_day, pressed_hour = local.days_and_hours(floats(R.at))
        r_hour = np.where(has_ticket, ticket_hour, pressed_hour)
        # Presses tied to no ticket are few: only they take the day pressed.
        for i in np.flatnonzero(~has_ticket).tolist():
            r_day[i] = pressed_day[i]
    counted = np.array(R.counted, dtype=bool) if n_r else np.zeros(0, bool)
    presses = np.array(R.n, dtype=np.int64) if n_r else np.zeros(0, np.int64)
    levels = list(rules.levels)
    level_index = {lv.code: i for i, lv in enumerate(levels)}
    unknown_levels: dict[str, int] = {}
    # A month has 100,000 press entries and a level the config dropped is
    # rare: walk them one by one only when one of their distinct codes is
    # unknown.
    if not level_index.keys() >= dict.fromkeys(R.level).keys():
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
    # Only the anomalies (a few % of the presses) have a reason to look up.
    for i in np.flatnonzero(~counted).tolist():
        reason, k = R.reason[i] or "unknown", R.n[i]
        if reason not in reason_index:
            unknown_reasons[reason] = unknown_reasons.get(reason, 0) + k
            reason_index[reason] = len(reasons)
            reasons.append(reason)
        r_reason[i] = reason_index[reason]
    for reason, n in sorted(unknown_reasons.items()):
        warnings.append(f"{n} anomalous press(es) with unknown reason {reason!r}: counted in the "
                        "anomaly total only")
    complaint_codes, complained = _complaints(R.complaints, rules.reasons, warnings)
    for w in warnings:
        log.warning("report %s..%s: %s", date_from, date_to, w)
    good = counted & satisfied_idx[r_level] if n_r else np.zeros(0, bool)
    anomaly = ~counted
    from_phone = counted & (np.array(R.phone, dtype=bool) if n_r else np.zeros(0, bool))

    def group_figures(keys: list, t_issue: np.ndarray, t_outcome: np.ndarray,
                      r_keys: np.ndarray) -> list[Figures]:
        g = len(keys)
        issued = sums(t_issue, g)
        prio = sums(t_issue, g, priority)
        moved = sums(t_issue, g, transferred)
        served = sums(t_outcome, g, finished)
        gone = sums(t_outcome, g, expired)
        absent = sums(t_outcome, g, no_show)
        base = sums(t_outcome, g, on_time_base)
        ontime = sums(t_outcome, g, on_time)
        e_n, e_abs, e_close = sums(t_issue, g, told), sums(t_issue, g, est_err), sums(t_issue, g, est_close)
        w50, w90 = waits.percentiles(t_issue, g) if waits else ([None] * g,) * 2
        s50, s90 = services.percentiles(t_outcome, g) if services else ([None] * g,) * 2
        by_level = sums(r_keys[counted] * n_levels + r_level[counted], g * n_levels,
                         presses[counted]).reshape(g, n_levels)
        rated = by_level.sum(axis=1)
        happy = sums(r_keys, g, presses * good)
        odd = sums(r_keys, g, presses * anomaly)
        n_reasons = len(reasons)
        by_reason = sums(r_keys[anomaly] * n_reasons + r_reason[anomaly], g * n_reasons,
                          presses[anomaly]).reshape(g, n_reasons)
        phoned = sums(r_keys, g, presses * from_phone)
        said = [dict.fromkeys(complaint_codes, 0) for _ in range(g)]
        for row, codes in complained:       # few: counted phone ratings with reasons
            for code in codes:
                said[r_keys[row]][code] += int(presses[row])
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
                reasons=why, phone=int(phoned[i]), complaints=said[i],
                on_time=int(ontime[i]), on_time_base=int(base[i]),
                est_n=int(e_n[i]), est_abs_ms=int(e_abs[i]), est_within=int(e_close[i])))
        return out

    # The official pack shows no percentile: it skips the sorts (a quarter
    # is 450,000 waits and services).
    waits, services = (Samples(wait), Samples(service)) if percentiles else (None, None)
    zeros_t, zeros_r = np.zeros(n_t, np.int64), np.zeros(n_r, np.int64)
    total = group_figures(["total"], zeros_t, zeros_t, zeros_r)[0]
    field_order = {code: i for i, code in enumerate(rules.service_min)}
    sources = {
        "official": (T.official, T.official, R.official),
        "counter": (T.counter, T.counter, R.counter),
        "field": (T.origin_field, T.field, R.field),
        "day": (T.day, T.day, r_day),
        "hour": (hour, hour, r_hour),
    }
    result: dict[str, Breakdown] = {}
    for by in wanted:
        keys = GroupKeys()
        issue_side, outcome_side, press_side = sources[by]
        t_issue = keys.codes(issue_side)
        t_outcome = t_issue if outcome_side is issue_side else keys.codes(outcome_side)
        r_keys = keys.codes(press_side)
        for key in (present or {}).get(by, ()):
            keys.add(key)
        figures = group_figures(list(keys.index), t_issue, t_outcome, r_keys)
        order = field_order if by == "field" else {}
        figures.sort(key=lambda f: sort_key(f.key, order))
        result[by] = Breakdown(by, figures, total)
    return Report(date_from, date_to, tuple(levels), result, warnings, tuple(complaint_codes))


def _complaints(column, known: tuple[str, ...],
                warnings: list[str]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The reason codes to show (the config's, then unknown ones met) and,
    per press entry with reasons, its codes.  A code the config no longer
    has keeps its own column and a warning, as a level does."""
    codes = list(known)
    rows: list[tuple[int, list[str]]] = []
    unknown: dict[str, int] = {}
    # compress() skips the entries without reasons (nearly all) in C.
    for i, text in compress(enumerate(column), column):
        said = [c for c in json.loads(text) if isinstance(c, str)]
        for c in said:
            if c not in codes:
                codes.append(c)
                unknown[c] = 0
            if c in unknown:
                unknown[c] += 1
        rows.append((i, said))
    for c, n in sorted(unknown.items()):
        warnings.append(f"reason {c!r} given with {n} phone rating(s), which the site config no "
                        "longer has: shown in its own column")
    return codes, rows
