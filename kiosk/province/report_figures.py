"""The province's figures per centre, and the ranking (pure: no I/O).

The figures mean what they mean in a centre's own report and pack
(docs/reports.md): the rates, the percentiles, the on-time rule and the
Decision 766-style estimate are ``kiosk.reports.rates``, applied here to the
aggregated events with the targets and grades each centre sent in its
``site/info``.  docs/multi-site.md lists every column.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from kiosk.config import derive_grades
from kiosk.reports.rates import (Rates, case_counts, in_wait_target_base, percentile, satisfaction_estimate,
                                 served_on_time, share, within_wait_target)

VERY, FAIR, UNHAPPY = "rat-hai-long", "hai-long", "khong-hai-long"


@dataclass(frozen=True)
class TicketRow:
    site: str
    field: str | None           # the field served in
    state: str
    issued_at: float | None
    first_called_at: float | None
    last_called_at: float | None
    finished_at: float | None
    origin_field: str | None = None   # the field issued in: its wait target applies
    ticket_id: str | None = None
    expired_at: float | None = None   # when its day's close expired it (day_closed)


@dataclass(frozen=True)
class RatingRow:
    site: str
    level: str
    ticket_id: str | None = None


@dataclass(frozen=True)
class CaseRow:
    site: str
    case_id: int
    ticket_id: str | None
    status: str
    due_at: float
    closed_at: float | None


@dataclass(frozen=True)
class SiteFacts:
    site: str
    centre: str
    commune: str
    satisfied: frozenset[str]
    levels: frozenset[str]
    minutes_per_citizen: dict[str, float]
    # Each level's grade; None: derived from ``satisfied`` (fallback_grades).
    grades: dict[str, str] | None = None
    # Per field code, from site/info ``targets``; None: a site/info from
    # before the targets (no wait target known; service: minutes_per_citizen).
    wait_target: dict[str, float] | None = None
    service_target: dict[str, float] | None = None


def fallback_grades(levels: list[tuple[str, bool]]) -> dict[str, str]:
    """Grades for a site/info that sends none, from its levels in order: the
    site config's own rule for a level with no grade (``derive_grades``)."""
    return derive_grades([(code, ok, None) for code, ok in levels])


@dataclass
class SiteFigures(Rates):
    site: str
    centre: str
    commune: str
    issued: int = 0
    served: int = 0
    rated: int = 0
    satisfied: int = 0
    very: int = 0            # counted ratings graded rất hài lòng
    fair: int = 0            # hài lòng
    unhappy: int = 0         # không hài lòng
    on_time: int = 0
    on_time_base: int = 0
    within: int = 0
    within_base: int = 0
    cases: int = 0           # cases opened for tickets of the period
    cases_on_time: int = 0   # closed by their due time
    cases_decided: int = 0   # closed, or still open past their due time
    flagged: int = 0         # served tickets the 766 estimate counts against the centre
    waits: list[float] = field(default_factory=list)
    rank: int = 0
    # False until the site's site/info arrives: which levels are satisfied
    # is then unknown, and a rate would be a guess.
    known: bool = True
    # False for a site/info without targets: the within-target share is blank.
    has_wait_targets: bool = True

    @property
    def satisfaction(self) -> float | None:
        return super().satisfaction if self.known else None

    def _grade_share(self, n: int) -> float | None:
        return share(n, self.rated) if self.known else None

    @property
    def very_share(self) -> float | None:
        return self._grade_share(self.very)

    @property
    def fair_share(self) -> float | None:
        return self._grade_share(self.fair)

    @property
    def unhappy_share(self) -> float | None:
        return self._grade_share(self.unhappy)

    @property
    def within_share(self) -> float | None:
        return share(self.within, self.within_base) if self.has_wait_targets else None

    @property
    def cases_on_time_share(self) -> float | None:
        return share(self.cases_on_time, self.cases_decided)

    @property
    def estimate(self) -> float | None:
        return satisfaction_estimate(self.served, self.flagged)[0] if self.known else None

    @property
    def estimate_points(self) -> float | None:
        return satisfaction_estimate(self.served, self.flagged)[1] if self.known else None

    @property
    def wait_p50(self) -> float | None:
        return percentile(sorted(self.waits), 50)

    @property
    def wait_p90(self) -> float | None:
        return percentile(sorted(self.waits), 90)


@dataclass
class ProvinceReport:
    date_from: dt.date
    date_to: dt.date
    sites: list[SiteFigures]
    warnings: list[str]


def compute(tickets: list[TicketRow], ratings: list[RatingRow], facts: dict[str, SiteFacts],
            date_from: dt.date, date_to: dt.date, cases: list[CaseRow] = (),
            now: float | None = None) -> ProvinceReport:
    """Figures per site and the ranking.

    ``ratings`` are the counted ones of the period, ``cases`` those opened
    for its tickets; ``now`` decides which open cases are already late
    (None: none is).
    """
    warnings: list[str] = []
    out: dict[str, SiteFigures] = {
        s: SiteFigures(s, f.centre, f.commune, has_wait_targets=f.wait_target is not None)
        for s, f in facts.items()}

    def row(site: str) -> SiteFigures:
        if site not in out:
            warnings.append(f"site {site}: no site/info received yet; shown by its id, "
                            "without satisfaction levels or targets")
            out[site] = SiteFigures(site, site, "", known=False, has_wait_targets=False)
        return out[site]

    def grade(site: str, level: str) -> str:
        f = facts[site]
        if f.grades is not None and level in f.grades:
            return f.grades[level]
        return FAIR if level in f.satisfied else UNHAPPY

    # Served tickets each check counts against the centre, once per ticket.
    flagged: dict[str, set[str]] = {}
    late: dict[str, set[str]] = {}
    unknown_fields: dict[str, set[str]] = {}
    no_target: dict[str, set[str]] = {}
    served_ids: dict[str, set[str]] = {}
    for t in tickets:
        f = row(t.site)
        known = facts.get(t.site)
        f.issued += 1
        wait_s = unseen_s = math.nan
        if t.first_called_at is not None and t.issued_at is not None:
            wait_s = max(0.0, t.first_called_at - t.issued_at)
            f.waits.append(wait_s / 60)
        elif t.expired_at is not None and t.issued_at is not None:
            unseen_s = t.expired_at - t.issued_at
        # The pack's rule (rates.in_wait_target_base): every called ticket,
        # and a ticket never called that its day's close found past the target.
        if (t.issued_at is not None and known is not None and known.wait_target is not None
                and not (math.isnan(wait_s) and math.isnan(unseen_s))):
            target = known.wait_target.get(t.origin_field or "")
            if target is None:
                no_target.setdefault(t.site, set()).add(str(t.origin_field))
            elif in_wait_target_base(wait_s, unseen_s, target):
                f.within_base += 1
                f.within += bool(within_wait_target(wait_s, target))
        if t.state != "finished":
            continue
        f.served += 1
        served_ids.setdefault(t.site, set()).add(t.ticket_id or f"#{f.served}")
        if known is None:
            continue
        targets = known.service_target if known.service_target is not None else known.minutes_per_citizen
        typical = targets.get(t.field or "")
        if typical is None:
            unknown_fields.setdefault(t.site, set()).add(str(t.field))
        elif t.finished_at is not None and t.last_called_at is not None:
            f.on_time_base += 1
            if served_on_time(max(0.0, t.finished_at - t.last_called_at), typical):
                f.on_time += 1
            else:
                late.setdefault(t.site, set()).add(t.ticket_id or f"#{f.served}")
    for site, fields in sorted(unknown_fields.items()):
        warnings.append(f"site {site}: served tickets in fields its site/info does not list "
                        f"({', '.join(sorted(fields))}) are left out of the on-time share")
    for site, fields in sorted(no_target.items()):
        warnings.append(f"site {site}: tickets issued in fields without a wait target in its site/info "
                        f"({', '.join(sorted(fields))}) are left out of the within-target share")
    for site, ids in late.items():
        flagged.setdefault(site, set()).update(ids)

    unknown_levels: dict[str, set[str]] = {}
    for r in ratings:
        f = row(r.site)
        f.rated += 1
        known = facts.get(r.site)
        if known is None:
            continue
        if r.level in known.satisfied:
            f.satisfied += 1
        elif r.level not in known.levels:
            unknown_levels.setdefault(r.site, set()).add(r.level)
        g = grade(r.site, r.level)
        attr = {VERY: "very", FAIR: "fair"}.get(g, "unhappy")
        setattr(f, attr, getattr(f, attr) + 1)
        if g == UNHAPPY and r.ticket_id in served_ids.get(r.site, ()):
            flagged.setdefault(r.site, set()).add(r.ticket_id)
    for site, levels in sorted(unknown_levels.items()):
        warnings.append(f"site {site}: ratings at levels its site/info does not list "
                        f"({', '.join(sorted(levels))}) count as not satisfied")

    per_site: dict[str, list[CaseRow]] = {}
    for c in cases:
        per_site.setdefault(c.site, []).append(c)
        if c.ticket_id in served_ids.get(c.site, ()):
            flagged.setdefault(c.site, set()).add(c.ticket_id)
    for site, rows in per_site.items():
        # The pack's own count (rates.case_counts): closed by the due time,
        # over the cases whose outcome is known at ``now``.
        counts = case_counts(rows, float("-inf") if now is None else now)
        f = row(site)
        f.cases, f.cases_on_time, f.cases_decided = counts["cases"], counts["on_time"], counts["base"]
    for site, ids in flagged.items():
        row(site).flagged = len(ids)

    def key(f: SiteFigures) -> tuple:
        # Missing figures rank last: (True, 0) sorts after every (False, x).
        est, sat, within = f.estimate, f.satisfaction, f.within_share
        return ((est is None, -(est or 0)), (sat is None, -(sat or 0)),
                (within is None, -(within or 0)), f.site)

    ranked = sorted(out.values(), key=key)
    for i, f in enumerate(ranked, start=1):
        f.rank = i
    return ProvinceReport(date_from, date_to, ranked, warnings)
