"""What goes on a ticket, as a list of print elements.  Pure: no Pillow, no I/O.

The renderer decides how each element becomes bytes (raster, TCVN-3 text or
one big image); this module only decides content and order, so the three
modes print the same ticket.
"""
from __future__ import annotations

import datetime as dt
import math
import unicodedata
from dataclasses import dataclass
from typing import Literal, Union

from kiosk import waitwords

Align = Literal["left", "center", "right"]
# Named text sizes; the renderer maps them to font pixels or printer modes.
Size = Literal["title", "heading", "body", "small"]

INSTRUCTION = "Vui lòng giữ phiếu và chờ gọi số"
REPRINT_MARK = "IN LẠI"
# Under the QR when it opens the ticket's phone page ([phone]).  Broken by
# hand where it reads well: at most 32 characters a line, what the 58 mm
# paper holds in the small size.
PHONE_NOTE = "Quét mã để xem lượt chờ\nvà đánh giá"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass
class TicketView:
    """What goes on paper for one ticket; the core fills it."""

    commune: str
    centre: str
    field_name_vi: str
    label: str
    priority_name_vi: str | None
    issued_at: dt.datetime
    ahead: int
    # The wait told at issue and its p10-p90 range, in minutes (docs/wait.md);
    # None: no open counter serves the field (all paused), no number promised.
    estimated_wait_min: float | None
    counters: list[str]
    ticket_id: str
    reprint: bool = False
    wait_low_min: float | None = None
    wait_high_min: float | None = None
    # What the QR carries (the ticket's phone address with [phone]; None:
    # the ticket id) and the line under it (None: no line).
    qr_data: str | None = None
    qr_note: str | None = None
    # False: the core's wait was malformed (logged by whoever built the
    # view); the ticket has no wait line rather than a wrong one.
    wait_said: bool = True

    def __post_init__(self) -> None:
        # Refuse here rather than print a garbled or misleading ticket.
        if self.issued_at.tzinfo is None:
            raise ValueError("TicketView.issued_at must be time-zone aware (site-local time)")
        if not self.label or not self.label.isascii() or not self.label.isprintable():
            raise ValueError(f"TicketView.label must be printable ASCII such as 'A013', got {self.label!r}")
        if self.ahead < 0:
            raise ValueError(f"TicketView.ahead must be >= 0, got {self.ahead}")
        for name in ("estimated_wait_min", "wait_low_min", "wait_high_min"):
            v = getattr(self, name)
            if v is not None and (not math.isfinite(v) or v < 0):
                raise ValueError(f"TicketView.{name} must be None or a finite number >= 0, got {v}")
        if (self.wait_low_min is None) != (self.wait_high_min is None) or (
                self.wait_low_min is not None and self.wait_low_min > self.wait_high_min):
            raise ValueError("TicketView.wait_low_min and wait_high_min must both be None or low <= high, "
                             f"got {self.wait_low_min}, {self.wait_high_min}")
        if not self.ticket_id.isascii():
            raise ValueError(f"TicketView.ticket_id must be ASCII, got {self.ticket_id!r}")


@dataclass(frozen=True)
class VText:
    """Vietnamese text: the part cheap printers garble.  Wrapped by the renderer."""

    text: str
    size: Size = "body"
    bold: bool = False
    align: Align = "center"
    invert: bool = False


@dataclass(frozen=True)
class Native:
    """ASCII text in the printer's own font; width/height are GS ! multipliers."""

    text: str
    width: int = 1
    height: int = 1
    bold: bool = False
    align: Align = "center"


@dataclass(frozen=True)
class Qr:
    data: str
    module: int = 5


@dataclass(frozen=True)
class Rule:
    """A thin separator across the paper."""


@dataclass(frozen=True)
class Feed:
    dots: int


@dataclass(frozen=True)
class Cut:
    pass


Element = Union[VText, Native, Qr, Rule, Feed, Cut]


def ahead_text(ahead: int) -> str:
    if ahead == 0:
        return "Không có ai đang chờ trước bạn"
    return f"Có {ahead} người đang chờ trước bạn"


WAIT_PREFIX = "Thời gian chờ dự kiến: "
# Every counter of the field paused at issue: the kiosk's screen says the same.
WAIT_PAUSED = "Các quầy đang tạm dừng, vui lòng chờ quầy mở lại"


def wait_text(minutes: float | None, low: float | None = None, high: float | None = None) -> str:
    """The wait told at issue, worded by kiosk.waitwords: "… khoảng 20 phút
    (15–35 phút)", the range only when wide; its no-break spaces keep each
    number with its unit when the renderer wraps the line."""
    if minutes is None:
        return WAIT_PAUSED
    return WAIT_PREFIX + waitwords.phrase(minutes, low, high)


def counters_text(counters: list[str]) -> str:
    return "Quầy phục vụ: " + ", ".join(counters)


def layout(view: TicketView, *, number_size: int, qr: bool = True, feed_before_cut: int = 4) -> list[Element]:
    """The ticket, top to bottom."""
    els: list[Element] = []
    if view.reprint:
        els.append(VText(REPRINT_MARK, "title", bold=True, invert=True))
        els.append(Feed(8))
    els += [
        VText(nfc(view.commune).upper(), "body", bold=True),
        VText(nfc(view.centre), "small"),
        Rule(),
        VText(nfc(view.field_name_vi), "heading", bold=True),
        Native(view.label, number_size, number_size, bold=True),
    ]
    if view.priority_name_vi:
        els.append(VText("Ưu tiên: " + nfc(view.priority_name_vi), "body", bold=True, invert=True))
    els += [
        Native(view.issued_at.strftime("%d/%m/%Y  %H:%M"), 1, 1),
        Feed(6),
        VText(ahead_text(view.ahead), "body"),
    ]
    if view.wait_said:
        els.append(VText(wait_text(view.estimated_wait_min, view.wait_low_min, view.wait_high_min), "body"))
    if view.counters:
        els.append(VText(counters_text([nfc(c) for c in view.counters]), "body"))
    els += [Rule(), VText(INSTRUCTION, "body", bold=True)]
    if qr:
        els.append(Qr(view.qr_data or view.ticket_id))
        if view.qr_note:
            els.append(VText(nfc(view.qr_note), "small"))
    els.append(Native(view.ticket_id, 1, 1))
    if view.reprint:
        els += [Feed(8), VText(REPRINT_MARK, "body", bold=True)]
    els += [Feed(feed_before_cut * 24), Cut()]
    return els
