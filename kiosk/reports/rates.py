"""The definitions every report shares (docs/reports.md, "Figures").

A centre's report (``figures``) and the province's ranking
(``kiosk/province/report.py``) both take their rates, their percentiles and
the on-time rule from here, so "satisfaction" or "wait p90" means the same
number whether a head of centre or the province reads it.
"""
from __future__ import annotations

import numpy as np


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


def served_on_time(service_s, typical_min):
    """A served ticket is on time when its service took at most the field's
    ``minutes_per_citizen``.  Works on numbers and on numpy arrays alike."""
    return service_s <= typical_min * 60


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
