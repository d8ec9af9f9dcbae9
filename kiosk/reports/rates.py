"""The definitions every report shares (docs/reports.md, "Figures").

A centre's report (``figures``) and the province's ranking
(``kiosk/province/report.py``) both take their rates, their percentiles and
the on-time rule from here, so "satisfaction" or "wait p90" means the same
number whether a head of centre or the province reads it.
"""
from __future__ import annotations

import numpy as np

from kiosk.config import GRADES
from kiosk.core.domain.cases import on_time as _case_on_time


def share(part: int, whole: int) -> float | None:
    """A rate; None (shown as "—", never 0 %) when nothing was there to count."""
    return part / whole if whole else None


def nearest_rank(n, p):
    """⌈p/100 · n⌉, at least 1: the rank of the p-th percentile among n values.

    ``n`` may be an int or a numpy array of group sizes.
    """
    # In integers where p is whole (50, 90): float products such as
    # 0.7 * 10 = 7.000000000000001 would move a rank by one.
    if float(p).is_integer():
        return np.maximum(1, (int(p) * n + 99) // 100)
    return np.maximum(1, np.ceil(p / 100 * n).astype(np.int64))


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of values at or below it."""
    n = len(sorted_values)
    if n == 0:
        return None
    return sorted_values[nearest_rank(n, p) - 1]


def served_on_time(service_s, target_min):
    """A served ticket is on time when its service took at most the service
    target of the field it was served in (``SiteConfig.service_target_min``:
    ``[targets]``, else the field's ``minutes_per_citizen``).  Works on
    numbers and on numpy arrays alike."""
    return service_s <= target_min * 60


def within_wait_target(wait_s, target_min):
    """Called within the wait target: the first non-recall call came at most
    ``target_min`` (``SiteConfig.wait_target_min`` of the field the citizen
    chose at the kiosk) after issue.  Numbers or numpy arrays; NaN (never
    called) is never within."""
    return wait_s <= target_min * 60


def in_wait_target_base(wait_s, unseen_s, target_min):
    """Which tickets the within-target share is over (docs/reports.md, "Targets").

    ``wait_s``: issue to first call, NaN when never called; ``unseen_s``:
    for a ticket never called and closed with the day, issue to the day's
    close, else NaN.  A called ticket is always in the base; a ticket never
    called is in it (as a miss) when it had waited past the target before
    the day closed: a citizen who gave up after 45 minutes was not served
    within 30, but one who left after 5 is no figure of the queue.  Tickets
    still waiting (a day not closed yet) are in no base.
    """
    called = ~np.isnan(np.asarray(wait_s, dtype=float))
    with np.errstate(invalid="ignore"):
        missed = np.asarray(unseen_s, dtype=float) > np.asarray(target_min, dtype=float) * 60
    return called | (~called & missed)


def three_levels(levels: dict[str, int], grades: dict[str, str]) -> dict[str, int]:
    """Counted ratings per site level → per grade of the Circular's three.

    A level the site config no longer has counts as not satisfied, as it
    does in the satisfaction rate."""
    out = dict.fromkeys(GRADES, 0)
    for code, n in levels.items():
        out[grades.get(code, "khong-hai-long")] += n
    return out


def closed_on_time(closed_at: float | None, due_at: float) -> bool:
    """A follow-up case is closed on time when it was closed at or before its
    due time: the core's own rule (kiosk/core/domain/cases.on_time, what
    event/case says), so the pack and the bus never disagree.  (Imported
    once: a quarter's pack asks this of some 50,000 cases.)"""
    return _case_on_time({"closed_at": closed_at, "due_at": due_at}) is True


def case_counts(cases, now: float) -> dict[str, int]:
    """The follow-up cases' figures (rows with ``status``, ``due_at``,
    ``closed_at``): ``cases``, ``closed``, ``on_time`` (closed at or before
    due), ``late`` (closed after due), ``open`` (not closed), ``overdue``
    (not closed and past due at ``now``), and ``base``: the cases whose
    outcome is known at ``now`` (closed, or past due), the share's
    denominator, so a case still within its deadline is not counted late."""
    out = dict.fromkeys(("cases", "closed", "on_time", "late", "open", "overdue", "base"), 0)
    for c in cases:
        out["cases"] += 1
        if c.status == "closed":
            out["closed"] += 1
            out["on_time" if closed_on_time(c.closed_at, c.due_at) else "late"] += 1
        else:
            out["open"] += 1
            out["overdue"] += c.due_at < now
    out["base"] = out["closed"] + out["overdue"]
    return out


class Rates:
    """The rates of one group's counts, for a dataclass that has the fields
    ``served``, ``rated``, ``satisfied``, ``on_time`` and ``on_time_base``."""

    served: int
    rated: int
    satisfied: int
    on_time: int
    on_time_base: int

    @property
    def satisfaction(self) -> float | None:
        return share(self.satisfied, self.rated)

    @property
    def rated_share(self) -> float | None:
        return share(self.rated, self.served)

    @property
    def on_time_share(self) -> float | None:
        return share(self.on_time, self.on_time_base)


# Decision 766/QĐ-TTg (2022): the satisfaction group earns its full points
# when at least this share of served cases was neither rated dissatisfied,
# complained about nor overdue, and points in proportion below it.
FULL_SCORE_SHARE = 0.90


def satisfaction_estimate(served: int, flagged: int) -> tuple[float | None, float | None]:
    """The centre's own Decision 766-style estimate (docs/reports.md).

    ``flagged``: served tickets rated at a "not satisfied" level, or with a
    follow-up case, or served over their service target; each counted once.
    Returns (share not flagged, fraction of the group's points earned):
    the fraction is 1 at ``FULL_SCORE_SHARE`` or more, share ÷ 0.9 below;
    both None when nothing was served.
    """
    good = share(served - flagged, served)
    if good is None:
        return None, None
    return good, min(1.0, good / FULL_SCORE_SHARE)
