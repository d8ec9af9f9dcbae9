"""Grouping in C: the numpy machinery under ``figures.compute``.

A breakdown gives every group key a small integer code; counts are then one
``bincount`` and percentiles one stable sort per breakdown, so a month
(150,000 tickets, every breakdown for the spreadsheet) is grouped without a
Python step per ticket per breakdown.  Nothing here knows what a ticket or a
rating is: ``figures`` says what to count.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import numpy as np

from kiosk.reports.rates import nearest_rank


def floats(values: Sequence) -> np.ndarray:
    # None (SQL NULL) becomes NaN: "no value" for waits and services.
    return np.array(values, dtype=float) if len(values) else np.zeros(0)


def not_none(values: Sequence) -> np.ndarray:
    return np.array([v is not None for v in values], dtype=bool)


class GroupKeys:
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


class LocalTime:
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


def sums(codes: np.ndarray, groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per group: how many entries, or the sum of their (integer) weights."""
    if weights is not None:
        return np.bincount(codes, weights=weights.astype(np.int64), minlength=groups).astype(np.int64)
    return np.bincount(codes, minlength=groups)


class Samples:
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
            idx = np.minimum(start + nearest_rank(n, p) - 1, len(v) - 1)
            picked = v[idx] / 60
            result.append([float(x) if k else None for x, k in zip(picked.tolist(), n.tolist())])
        return result


def sort_key(key: Any, order: dict[str, int]) -> tuple:
    # Fields in config order (as the kiosk shows them), the rest by value;
    # the unattributed group (key None) goes last.
    if key is None:
        return (2, 0, "")
    if key in order:
        return (0, order[key], "")
    return (1, 0, key)
