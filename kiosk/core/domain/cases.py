"""Follow-up cases: every counted "not satisfied" rating opens one, and the
head of the centre looks into it and closes it (docs/reports.md,
"Follow-up cases").

Pure: the rules only.  The case is opened by the rating's own event (it
carries ``case_due``, decided here, so a replay of the journal gives the same
case whatever the config says later) and stored by its projection in the
rating's transaction; a change is a ``case_updated`` event the engine
commits with the command's reply (kiosk/core/commands_cases.py).
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from kiosk.config import WEEKDAYS, SiteConfig
from kiosk.core.domain.errors import DomainError

OPEN, LOOKED_INTO, CLOSED = "open", "looked_into", "closed"
STATUSES = (OPEN, LOOKED_INTO, CLOSED)
# The grade (Circular 01/2018's three levels) whose counted ratings open a case.
UNHAPPY = "khong-hai-long"
MAX_NOTE = 1000
# What the head reads when a change is refused, by code (docs/mqtt.md, core/command).
MESSAGES = {
    "unknown_case": "Không tìm thấy phản ánh số {case}.",
    "bad_transition": "Phản ánh số {case} đang ở trạng thái “{now}”, không chuyển sang “{to}” được.",
    "note_required": "Cần ghi kết quả xử lý trước khi đóng phản ánh số {case}.",
    "bad_note": "Ghi chú không hợp lệ: {why}.",
}
STATUS_VI = {OPEN: "chưa xử lý", LOOKED_INTO: "đang xem xét", CLOSED: "đã đóng"}


def due_at(config: SiteConfig, rated_at: float) -> float:
    """When a case opened by a rating at ``rated_at`` is due: the last close
    (site time) of the ``[cases] deadline_days``-th working day after the
    rating's local day.  A working day is a weekday in any ``[[hours]]``
    session's days, and closes at the latest ``close`` among that weekday's
    sessions (a Saturday morning session closes at noon, say)."""
    closes: dict[str, int] = {}
    # A site whose [[hours]] is empty opens only by its fields' own hours.
    sessions = config.hours or [s for f in config.fields for s in (f.hours or [])]
    for s in sessions:
        for wd in s.days:
            closes[wd] = max(closes.get(wd, 0), s.close_minute())
    if not closes:      # no hours at all: every day is a working day, due at its end
        closes = {wd: 24 * 60 for wd in WEEKDAYS}
    day = config.local_time(rated_at).date()
    left = config.cases.deadline_days
    while left:
        day += dt.timedelta(days=1)
        if WEEKDAYS[day.weekday()] in closes:
            left -= 1
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=config.tz)
    return (midnight + dt.timedelta(minutes=closes[WEEKDAYS[day.weekday()]])).timestamp()


def opening(config: SiteConfig, rating: dict[str, Any], now: float) -> dict[str, Any]:
    """What a ``rating_pressed`` event adds about its case: ``case_due`` when
    it is counted at a level graded "không hài lòng", nothing otherwise."""
    if rating.get("counted") and config.rating.grades().get(rating.get("level")) == UNHAPPY:
        return {"case_due": due_at(config, now)}
    return {}


def clean_note(note: str | None) -> str | None:
    """A note as stored: NFC (a browser may send decomposed Vietnamese),
    line breaks as ``\n`` (a form's text area sends ``\r\n``), trimmed; an
    empty one is none.  Too long or with control characters (a line break or
    a tab aside) is ``bad_note``."""
    if note is None:
        return None
    text = unicodedata.normalize("NFC", note.replace("\r\n", "\n")).strip()
    if len(text) > MAX_NOTE:
        raise refusal("bad_note", why=f"dài {len(text)} ký tự, tối đa {MAX_NOTE}")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise refusal("bad_note", why="có ký tự điều khiển")
    return text or None


def update(case: dict[str, Any] | None, case_id: int, status: str, note: str | None,
           by: str | None, now: float) -> dict[str, Any]:
    """The ``case_updated`` event's data for a change the head asked for, or
    a ``DomainError`` (unknown_case, bad_transition, note_required, bad_note).

    ``open → looked_into``, ``open → closed``, ``looked_into → closed``;
    nothing leaves ``closed``.  A note is required to close (it is the
    case's closing note) and optional to look into (kept in the case's log).
    """
    if case is None:
        raise refusal("unknown_case", case=case_id)
    current = case["status"]
    if status not in (LOOKED_INTO, CLOSED) or current == CLOSED or current == status:
        raise refusal("bad_transition", case=case_id, now=STATUS_VI.get(current, current),
                      to=STATUS_VI.get(status, status))
    text = clean_note(note)
    if status == CLOSED and text is None:
        raise refusal("note_required", case=case_id)
    return {"case": case_id, "status": status, "note": text, "by": by or None}


def updated(case: dict[str, Any], e: dict[str, Any]) -> dict[str, Any]:
    """The case's values after its ``case_updated`` event ``e`` (what the
    projection writes, kiosk/core/projection.py)."""
    new = {**case, "status": e["status"], "updated_at": e["at"]}
    if e["status"] == LOOKED_INTO:
        new["looked_at"] = e["at"]
    else:
        new.update(closed_at=e["at"], closed_by=e["by"], note=e["note"])
    return new


def on_time(case: dict[str, Any]) -> bool | None:
    """Whether a closed case was closed by its due time; None while it is not closed."""
    if case.get("closed_at") is None:
        return None
    return case["closed_at"] <= case["due_at"]


def refusal(code: str, **details: Any) -> DomainError:
    return DomainError(code, MESSAGES[code].format(**details), **details)
