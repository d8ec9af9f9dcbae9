"""The official pack's figures: pure computations over a period's columns.

``figures.compute`` gives the per-official, per-counter and per-field counts
(levels, ratings, anomalies and their reasons, on-time); this module adds
what the pack asks besides (docs/reports.md, "Targets" and "The official
pack"): the within-wait-target shares per field and per hour of issue, the
longest waits, the Circular's three levels, the follow-up cases and the
Decision 766-style estimate.  The rules themselves are in ``rates`` (the
province uses the same functions).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from kiosk.core.read.period import FINISHED, Period
from kiosk.reports.figures import Figures, Report, Rules, compute
from kiosk.reports.grouping import GroupKeys, LocalTime, floats, sort_key, sums
from kiosk.reports.pack_text import PACK_BREAKDOWNS
from kiosk.reports.rates import (GRADES, case_counts, in_wait_target_base, satisfaction_estimate,
                                 served_on_time, share, three_levels, within_wait_target)



@dataclass
class WaitTarget:
    """Within-target counts of one group (a field, an hour of issue, the centre)."""

    key: Any
    base: int = 0          # tickets the share is over (rates.in_wait_target_base)
    within: int = 0        # of them, called within the target

    @property
    def missed(self) -> int:
        return self.base - self.within

    @property
    def share(self) -> float | None:
        return share(self.within, self.base)


@dataclass(frozen=True)
class LongWait:
    ticket_id: str
    label: str
    day: str
    field: str             # the field the citizen chose (whose queue they waited in)
    counter: int | None    # the counter that last called the ticket
    official: str | None
    issued_at: float
    minutes: float


@dataclass
class Estimate:
    """Decision 766's satisfaction group, as the centre can estimate it from visits."""

    served: int = 0
    flagged: int = 0             # each served ticket once
    rated_bad_or_case: int = 0   # served, rated "not satisfied" or with a case
    late: int = 0                # served over the service target
    share: float | None = None
    points: float | None = None  # fraction of the group's points (rates.satisfaction_estimate)


@dataclass
class PackFigures:
    date_from: dt.date
    date_to: dt.date
    made_at: float
    report: Report
    grades: dict[str, str]
    wait_total: WaitTarget
    wait_by_field: list[WaitTarget]
    hours: list[WaitTarget]      # every local hour of issue with tickets in the base
    longest: list[LongWait]
    cases: list
    case_counts: dict[str, int]
    estimate: Estimate
    warnings: list[str] = field(default_factory=list)

    @property
    def hours_missed(self) -> list[WaitTarget]:
        """The hours of issue in which the wait target was missed at least once."""
        return [h for h in self.hours if h.missed]

    @property
    def cases_on_time_share(self) -> float | None:
        return share(self.case_counts["on_time"], self.case_counts["base"])

    def three(self, f: Figures) -> dict[str, int]:
        return three_levels(f.levels, self.grades)


def grade_share(counts: dict[str, int], grade: str) -> float | None:
    return share(counts[grade], sum(counts[g] for g in GRADES))


def _late(service_ms: np.ndarray, fields, rules: Rules) -> np.ndarray:
    """Served over the service target of the field served in (rates.served_on_time).
    A field the config no longer has has no target: not late (the on-time
    share leaves it out too); a negative time (the clock went back) is 0."""
    typical = np.fromiter(map(rules.service_min.get, fields, repeat(np.nan)), dtype=float,
                          count=len(service_ms))
    service = np.maximum(service_ms / 1000, 0.0)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(typical) & ~np.isnan(service) & ~served_on_time(service, typical)


def compute_pack(period: Period, rules: Rules, date_from: dt.date, date_to: dt.date,
                 now: float) -> PackFigures:
    """Every figure of the pack for one period, as of ``now`` (cases' overdue)."""
    report = compute(period.tickets, period.ratings, rules, date_from, date_to,
                     PACK_BREAKDOWNS, present={"official": period.on_duty}, percentiles=False)
    warnings = list(report.warnings)
    T = period.tickets
    n = len(T.wait_ms)
    wait = floats(T.wait_ms) / 1000
    wait[wait < 0] = 0.0       # the wall clock went back: 0 minutes, as figures.compute says

    # ------------------------------------------------ within the wait target
    # Called tickets from the columns; tickets never called from the few
    # rows the read side gives for them (rates.in_wait_target_base decides
    # which of those are in the base, as misses).
    target = np.fromiter(map(rules.wait_min.get, T.origin_field, repeat(np.nan)),
                         dtype=float, count=n)
    known = ~np.isnan(target)
    base = known & in_wait_target_base(wait, np.full(n, np.nan), target)
    with np.errstate(invalid="ignore"):
        within = base & within_wait_target(wait, target)
    u_field = [f for f, _, _ in period.unseen]
    u_target = np.fromiter(map(rules.wait_min.get, u_field, repeat(np.nan)), dtype=float,
                           count=len(u_field))
    u_base = ~np.isnan(u_target) & in_wait_target_base(
        np.full(len(u_field), np.nan), floats([s for _, _, s in period.unseen]), u_target)
    unknown = sorted({f for f, k in zip(T.origin_field, known.tolist()) if not k}
                     | {f for f, k in zip(u_field, np.isnan(u_target).tolist()) if k})
    if unknown:
        warnings.append(f"tickets of field(s) {', '.join(unknown)}, which the site config no "
                        "longer has: left out of the within-target share")
    keys = GroupKeys()
    for code in rules.wait_min:    # every field of the config has a row, even with no ticket
        keys.add(code)
    codes, u_codes = keys.codes(T.origin_field), keys.codes(u_field)
    g = len(keys.index)
    f_base = sums(codes, g, base) + sums(u_codes, g, u_base)
    f_within = sums(codes, g, within)
    by_field = [WaitTarget(k, int(f_base[i]), int(f_within[i])) for k, i in keys.index.items()
                if k in rules.wait_min]
    order = {code: i for i, code in enumerate(rules.wait_min)}
    by_field.sort(key=lambda w: sort_key(w.key, order))
    local = LocalTime(rules.tz)
    hour = local.hours(floats(T.issued_at))
    u_hour = local.hours(floats([at for _, at, _ in period.unseen]))
    h_base = sums(hour, 24, base) + sums(u_hour, 24, u_base)
    h_within = sums(hour, 24, within)
    hours = [WaitTarget(h, int(h_base[h]), int(h_within[h])) for h in range(24) if h_base[h]]
    total = WaitTarget("total", int(base.sum() + u_base.sum()), int(within.sum()))

    # ------------------------------------------------ Decision 766 estimate
    bits = np.array(T.outcome, dtype=np.int64) if n else np.zeros(0, np.int64)
    finished = (bits & FINISHED) != 0
    late = _late(floats(T.service_ms), T.field, rules) & finished
    # The flagged served tickets (rated "not satisfied" or with a case) come
    # from the read side as (field, service ms); those also late are
    # counted once.
    bad_late = _late(floats([ms for _, ms in period.flagged]), [f for f, _ in period.flagged],
                     rules)
    est = Estimate(served=int(finished.sum()), rated_bad_or_case=len(period.flagged),
                   late=int(late.sum()))
    est.flagged = est.late + est.rated_bad_or_case - int(bad_late.sum())
    est.share, est.points = satisfaction_estimate(est.served, est.flagged)

    longest = [LongWait(tid, label, day, fld, counter, official, issued_at,
                        max(0.0, wait_s) / 60)
               for tid, label, day, fld, counter, official, issued_at, wait_s in period.longest]
    return PackFigures(date_from, date_to, now, report, dict(rules.grades), total, by_field,
                       hours, longest, list(period.cases), case_counts(period.cases, now), est,
                       warnings)
