"""Paging a long list on the wall: as many rows as fit, the rest in turn.

A centre with 30 or 60 counters cannot show them all at the readable size
(text at least 1/30 of the screen height: ``short_side``), and shrinking
them would make them unreadable from the back of the room.  So the column
shows as many rows as its height holds at that size, and the pages take
turns every ``PAGE_S`` seconds.  Pure arithmetic, no Kivy: the app
(wall.py) feeds it the heights its layout settled on.
"""
from __future__ import annotations

from dataclasses import dataclass


def short_side(width: float, height: float) -> float:
    """The short side of the largest 16:9 (or 9:16) picture the screen holds:
    what the wall's sizes are fractions of (``u`` is 1 % of it, the text's
    floor 1/30).  On a 16:9 TV it is the short side itself.  A squarer
    screen (4:3, 5:4) is as wide as a 16:9 TV of that width and taller: its
    letters are sized as on that TV, and the extra height holds more rows.
    Sized from its own short side instead, a 1024x768 monitor's letters were
    a third larger against its width than a TV's, and the three columns'
    names ran into one another."""
    short, long = min(width, height), max(width, height)
    return min(short, long * 9 / 16)


# Long enough to find one's counter on a page of a dozen rows, short enough
# that a full turn of five pages comes round within a minute.
PAGE_S = 8.0


@dataclass(frozen=True)
class Page:
    start: int          # index of the first row on this page
    stop: int           # one past the last
    per_page: int       # rows on a full page (the row height is set for these)
    number: int         # 0-based
    count: int          # pages in all

    @property
    def mark(self) -> str:
        """ "2/5" on a paged column, nothing when all rows fit."""
        return f"{self.number + 1}/{self.count}" if self.count > 1 else ""


def page(n: int, avail: float, min_row: float, spacing: float, elapsed: float,
         seconds: float = PAGE_S) -> Page:
    """The page of ``n`` rows shown ``elapsed`` seconds after paging started.

    Rows are at least ``min_row`` high with ``spacing`` between them.  Every
    page but the last is full (60 rows where 13 fit: 13, 13, 13, 13, 8), and
    the app sizes rows for a full page, so they keep one height from page to
    page.  Not balanced pages of 12 with taller rows: a taller row draws its
    figures bigger, and those squeeze the longest field names under the floor.
    """
    if n <= 0:
        return Page(0, 0, 0, 0, 1)
    fit = max(1, int((avail + spacing) // (min_row + spacing)))
    count = -(-n // fit)
    per = min(n, fit)
    number = int(max(0.0, elapsed) // seconds) % count
    start = number * per
    return Page(start, min(n, start + per), per, number, count)


# Portrait: the most of the shared height the counters take, so that the
# waiting fields keep three rows a page (a busy centre's 12 counters fit).
PORTRAIT_COUNTERS_MAX = 0.655


def portrait_share(counters: int, fields: int, avail: float, min_row: float, spacing: float,
                   field_lines: int = 2) -> float:
    """The counters' share of ``avail``, the height a portrait wall gives the
    counters and the waiting fields together (each with its title row).

    Both fit: each gets what its rows need at the readable size and the
    rest in proportion, so a small centre's five fields are not paged
    while four counters sit in tall rows.  Not both: the counters get what
    they need up to PORTRAIT_COUNTERS_MAX, the fields page in the rest.
    A field is ``field_lines`` rows of text (wall.py: 3 when its wait
    needs a line of its own).
    """
    if avail <= 0:
        return PORTRAIT_COUNTERS_MAX
    # +1 px: the rows must fit page()'s count exactly, not by rounding.
    need_c = min_row * (1 + max(1, counters)) + spacing * max(0, counters - 1) + 1
    need_w = min_row * (1 + field_lines * max(1, fields)) + spacing * max(0, fields - 1) + 1
    if need_c + need_w <= avail:
        return (need_c + (avail - need_c - need_w) * need_c / (need_c + need_w)) / avail
    return min(PORTRAIT_COUNTERS_MAX, need_c / avail)
