"""Satisfaction ratings: the window finishing a ticket opens, and the judge of each press.

Finishing a ticket at a counter opens a rating window there.  The first
press made inside it is that ticket's rating; every other press is kept
with the reason it does not count (``ANOMALIES``).  Presses are judged on
when they were made, not when they arrived: a box's press is placed on the
core's clock by ``clocks.map_press`` (docs/reports.md, "Judged on the
press").

A citizen may also rate a served ticket from the phone page (its QR):
``RatingJudge.phone_refusal`` and ``RatingJudge.phone`` judge that rating on
the same ticket.  Whichever of box and phone comes first is the ticket's
rating; the other is kept as ``extra_press``.

``RatingJudge`` decides (what an event says); ``open_window``,
``close_window``, ``record_press`` and ``record_phone`` are what those
events do to a counter, called from ``events.apply``.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from kiosk.config import RatingSection
from kiosk.core.domain.clocks import Stamp, elapsed, map_press
from kiosk.core.domain.state import FINISHED, Counter, QueueState, Ticket

# Why a press was kept but not counted (see docs/reports.md), in the order
# reports show them; kiosk/reports/figures.py takes this very tuple.
ANOMALIES = ("no_window", "after_window", "extra_press", "too_fast", "bad_level")

# Where a counted rating came from (``Ticket.rated``; the rating row's
# ``source`` is "phone" for the phone page, the relay's name for a box).
BOX, PHONE = "box", "phone"
# What a phone rating may carry (docs/mqtt.md, ``phone/rating``): the
# reason that takes a comment, and the limits a page must keep to.
OTHER_REASON = "khac"
MAX_REASONS = 12
MAX_COMMENT = 200


class RatingJudge:
    """The site's ``[rating]`` rules over the queue state: windows, press times, verdicts."""

    def __init__(self, rules: RatingSection, state: QueueState):
        self.rules = rules
        self.state = state

    def stamp(self, mono: float, press: tuple | None) -> tuple[Stamp, dict[str, float]]:
        """When a key or button was pressed, and the clock offsets its message taught.

        ``press`` is the box's link and clock (see ``map_press``); without
        it, the press is placed at ``mono``, its arrival.
        """
        if press is None:
            return Stamp(mono), {}
        return map_press(self.state.links, press, mono, self.rules.max_drift_ppm)

    def opening(self, now: float, mono: float,
                stamped: tuple[Stamp, dict[str, float]]) -> dict[str, Any]:
        """What a ``ticket_finished`` event says about the window it opens."""
        # The window opens when the key was pressed, not when it arrived.
        opened, taught = stamped
        return {"window_until": round(now - (mono - opened.mono) + self.rules.window_s, 3),
                "mono": mono, "opened": opened.to_list(), "clocks": taught}

    def window(self, counter: Counter, mono: float) -> dict[str, Any] | None:
        """The open window at a counter: ticket and seconds left, or None."""
        if counter.rating_ticket is None or counter.rating_done or counter.rating_opened is None:
            return None
        left = counter.rating_opened.mono + self.rules.window_s - mono
        if left < 0:
            return None
        return {"ticket_id": counter.rating_ticket, "left_s": left}

    def press(self, counter: Counter, level: int, now: float, mono: float,
              press: tuple | None, *, rating_id: str, source: str,
              device_time_ms: int | None, received_at: float | None) -> dict[str, Any]:
        """The ``rating_pressed`` event of one press at ``counter``: counted or an anomaly.

        The first press made inside the window that finishing a ticket there
        opened is that ticket's rating.  Every other press is kept with its
        reason and never counted: a button the site has no level for
        (``bad_level``), a press faster than a person after the previous one
        at this counter (``too_fast``), a press with no window or made before
        it opened (``no_window``), after it (``after_window``), or a second
        press for a ticket already rated (``extra_press``).
        """
        levels = self.rules.levels
        pressed, taught = self.stamp(mono, press)
        reason, ticket = self._verdict(counter, level, pressed)
        wait_s, service_s = _times(ticket)
        # A rating belongs to whoever served the ticket (nobody, if nobody
        # was logged in); a press with no ticket to whoever sits at the
        # counter now (nobody at an unattended counter).
        official = ticket.official if ticket is not None else counter.official
        late = mono - pressed.mono
        return dict(rating_id=rating_id, counter=counter.number, level_index=level,
                    level=levels[level - 1].code if 1 <= level <= len(levels) else f"level-{level}",
                    ticket_id=ticket.id if ticket else None, counted=reason is None, reason=reason,
                    official=official, field=ticket.field if ticket else None,
                    wait_s=wait_s, service_s=service_s, source=source,
                    device_time_ms=device_time_ms, received_at=received_at,
                    pressed_at=round(now - late, 3), delivered_late=late > self.rules.late_after_s,
                    mono=mono, pressed=pressed.to_list(), clocks=taught)

    def _verdict(self, counter: Counter, level: int,
                 pressed: Stamp) -> tuple[str | None, Ticket | None]:
        """Why the press does not count (None: it counts), and the ticket it is about."""
        rules = self.rules
        opened = counter.rating_opened
        ticket = self.state.tickets.get(counter.rating_ticket) if counter.rating_ticket else None
        since = elapsed(opened, pressed) if opened is not None and ticket is not None else None
        # A mapped press against a window another source opened may be off
        # by the mapping's error; the doubt goes to the citizen.
        slack = rules.clock_tolerance_s if (
            opened is not None and pressed.link is not None and pressed.link != opened.link) else 0.0
        if not 1 <= level <= len(rules.levels):
            return "bad_level", ticket
        if counter.last_press is not None and \
                0 <= elapsed(counter.last_press, pressed) < rules.min_press_interval_s:
            return "too_fast", ticket
        if since is None or since < -slack:
            return "no_window", None
        if since > rules.window_s + slack:
            return "after_window", ticket
        if counter.rating_done or ticket.rated is not None:
            # Rated already: by a press here, or from the citizen's phone.
            return "extra_press", ticket
        return None, ticket

    # ------------------------------------------------------------ phone
    def phone_refusal(self, ticket: Ticket | None, ticket_id: str, level: int,
                      reasons: list[str], comment: str | None) -> tuple[str, str] | None:
        """Why a phone rating is refused and not kept, or None: (code, detail).

        Only what is no rating at all: no such ticket today, a ticket not
        served yet, or reasons and a comment that break the contract.
        """
        if ticket is None:
            return "unknown_ticket", f"no ticket {ticket_id} today"
        if ticket.state != FINISHED:
            return "not_finished", f"ticket {ticket.label} is {ticket.state}, not served yet"
        known = {r.code for r in self.rules.reasons}
        levels = self.rules.levels
        if len(reasons) > MAX_REASONS:
            return "bad_reason", f"{len(reasons)} reasons, at most {MAX_REASONS}"
        if unknown := [r for r in reasons if r not in known]:
            return "bad_reason", f"unknown reason {unknown[0]!r} (the site has {sorted(known)})"
        if len(set(reasons)) != len(reasons):
            return "bad_reason", "a reason given twice"
        if reasons and 1 <= level <= len(levels) and levels[level - 1].satisfied:
            return "bad_reason", f"reasons go only with a level that is not satisfied, not {level}"
        if comment is not None:
            if OTHER_REASON not in reasons:
                return "bad_reason", f"a comment goes only with the reason {OTHER_REASON!r}"
            if len(comment) > MAX_COMMENT:
                return "bad_reason", f"comment of {len(comment)} characters, at most {MAX_COMMENT}"
            if any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in comment):
                return "bad_reason", "control characters in the comment"
        return None

    def phone(self, ticket: Ticket, level: int, now: float, *, window_min: int | None,
              day_closed: bool, rating_id: str, reasons: list[str], comment: str | None,
              client: str) -> dict[str, Any]:
        """The ``rating_pressed`` event of a phone rating ``phone_refusal`` let through.

        It counts unless the level does not exist (``bad_level``), the phone
        window is over (``after_window``: ``window_min`` after the finish,
        or the day is closed) or the ticket is rated already
        (``extra_press``), the order a box's press is judged in.  It belongs
        to whoever served the ticket, at the counter that finished it.
        """
        levels = self.rules.levels
        reason = None
        if not 1 <= level <= len(levels):
            reason = "bad_level"
        elif day_closed or (window_min is not None and ticket.finished_at is not None
                            and now - ticket.finished_at > window_min * 60):
            reason = "after_window"
        elif ticket.rated is not None:
            reason = "extra_press"
        wait_s, service_s = _times(ticket)
        return dict(rating_id=rating_id, counter=ticket.counter, level_index=level,
                    level=levels[level - 1].code if reason != "bad_level" else f"level-{level}",
                    ticket_id=ticket.id, counted=reason is None, reason=reason,
                    official=ticket.official, field=ticket.field, wait_s=wait_s,
                    service_s=service_s, source=PHONE, device_time_ms=None, received_at=None,
                    pressed_at=now, delivered_late=False, reasons=list(reasons),
                    comment=comment, client=client)


def clean_comment(comment: str | None) -> str | None:
    """A comment as stored: NFC (a phone may send decomposed Vietnamese),
    trimmed; an empty one is none."""
    if comment is None:
        return None
    text = unicodedata.normalize("NFC", comment).strip()
    return text or None


def _times(ticket: Ticket | None) -> tuple[float | None, float | None]:
    """The rated ticket's wait and service, in seconds (None where unknown)."""
    wait_s = service_s = None
    if ticket is not None and ticket.called_at is not None:
        wait_s = max(0.0, ticket.called_at - ticket.issued_at)
        if ticket.finished_at is not None:
            service_s = max(0.0, ticket.finished_at - ticket.called_at)
    return wait_s, service_s


def open_window(counter: Counter, ticket_id: str, e: dict, window_s: float) -> None:
    """A ``ticket_finished`` event opens the counter's window for that ticket."""
    counter.rating_ticket, counter.rating_done = ticket_id, False
    if "opened" in e:
        counter.rating_opened = Stamp.of(e["opened"])
    else:  # journals before press-time judging: a monotonic deadline
        counter.rating_opened = Stamp(e["window_until"] - window_s)


def close_window(counter: Counter) -> None:
    counter.rating_ticket, counter.rating_opened, counter.rating_done = None, None, False


def record_press(counter: Counter, e: dict) -> None:
    """A ``rating_pressed`` event: the last press here (a real button), and a counted rating."""
    if e.get("reason") != "bad_level":
        counter.last_press = Stamp.of(e["pressed"]) if "pressed" in e else Stamp(e["mono"])
    if e["counted"]:
        counter.rating_done = True


def record_phone(s: QueueState, e: dict) -> None:
    """A phone rating's event: counted, it ends the box's window for that
    ticket at the counter that finished it (the lights go out; a press
    there now is an extra one)."""
    counter = s.counters.get(e["counter"])
    if e["counted"] and counter is not None and counter.rating_ticket == e["ticket_id"]:
        counter.rating_done = True
