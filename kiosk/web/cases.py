"""The head's follow-up cases (THE CONTRACT, docs/console.md "Follow-up
cases"): every counted "not satisfied" rating opens one in the core; the
dashboard lists the open ones by due time, reminds as the deadline nears,
and the head marks them looked into or closes them with a note.

Reading is ``kiosk.core.read`` on the read-only file (kiosk/web/reader.py);
every change is the core's ``case_update`` command, sent with the session's
official code as ``by`` and answered with the core's reply.  Only the head
and admins (area ``dashboard``) reach any of it: a case names the official
a citizen was unhappy with, and carries the citizen's own comment.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.config import SiteConfig
from kiosk.core.domain import cases as case_rules
from kiosk.core.read import ReadError
from kiosk.web import auth
from kiosk.web.bus import Bus
from kiosk.web.errors import WebError, error_text
from kiosk.web.reader import Reader

log = logging.getLogger("phucvu.web")

# What the head may set; the core decides which transitions are allowed.
STATUSES = ("looked_into", "closed")
STATUS_VI = {"open": "Mới", "looked_into": "Đã xem xét", "closed": "Đã đóng"}
# The closed list reaches this far back (by closing time).
CLOSED_DAYS = 30
# A closed case is looked for among cases rated this far back: a case is due
# within [cases] deadline_days (at most 60 working days), and one left open
# far longer than that is rare enough to be worth a year's look, no more.
CLOSED_LOOKBACK_DAYS = 365
# A browser's id for one press of a button (dashboard.js newRequestId).
_REQUEST_ID = re.compile(r"[0-9a-f]{16,32}")


class Cases:
    def __init__(self, bus: Bus, reader: Reader):
        self.bus = bus
        self.reader = reader
        # The clock "overdue" and "due soon" are judged by (a seam: a test moves it on).
        self.clock = time.time

    @property
    def config(self) -> SiteConfig:
        # The bus's: the core's config/site replaces it while the web runs.
        return self.bus.config

    async def listing(self, request: Request) -> Response:
        """``?view=open`` (default): open and looked-into cases by due time,
        with the count line; ``?view=closed``: those closed in the last 30 days."""
        auth.need(request, "dashboard")
        view = request.query_params.get("view", "open")
        if view not in ("open", "closed"):
            raise WebError(400, "Chọn danh sách 'open' hoặc 'closed'")
        now = self.clock()
        today = dt.datetime.fromtimestamp(now, self.config.tz).date()
        try:
            if view == "open":
                rows = await asyncio.to_thread(self.reader.cases,
                                               statuses=("open", "looked_into"))
            else:
                since = (today - dt.timedelta(days=CLOSED_LOOKBACK_DAYS)).isoformat()
                rows = await asyncio.to_thread(self.reader.cases, day_from=since,
                                               statuses=("closed",))
                rows = [r for r in rows if (r["closed_at"] or 0) >= now - CLOSED_DAYS * 86400]
                rows.sort(key=lambda r: (-(r["closed_at"] or 0), -r["id"]))
            names = {o["code"]: o["name"] for o in await asyncio.to_thread(self.reader.officials)}
        except ReadError as e:
            # A file from before schema 9 (the core migrates it when it starts) or a damaged one.
            log.error("cases not readable: %s", e)
            raise WebError(503, "Không đọc được danh sách phản ánh; xem nhật ký của phucvu web") from None
        cases = [self.shown(r, names, now) for r in rows]
        body: dict[str, Any] = {"view": view, "cases": cases,
                                "remind_hours": self.config.cases.remind_hours,
                                "deadline_days": self.config.cases.deadline_days}
        if view == "open":
            body["summary"] = summary(cases)
        else:
            late = sum(1 for c in cases if c["on_time"] is False)
            body["summary"] = (f"{len(cases)} phản ánh đã đóng trong {CLOSED_DAYS} ngày qua, "
                               f"{late} đóng trễ hạn") if cases else \
                f"Chưa đóng phản ánh nào trong {CLOSED_DAYS} ngày qua"
        return JSONResponse(body)

    async def update(self, request: Request) -> Response:
        """The head's "Đã xem xét" or "Đóng": the core's ``case_update``."""
        sess = auth.need(request, "dashboard")
        data = await auth.change(request)
        case = int(request.path_params["n"])
        status = data.get("status")
        if status not in STATUSES:
            raise WebError(400, "Trạng thái mới là 'looked_into' (đã xem xét) hoặc 'closed' (đóng)")
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            raise WebError(400, "Ghi chú phải là chữ")
        payload: dict[str, Any] = {"action": "case_update", "case": case, "status": status,
                                   "by": sess["code"]}
        if note is not None:
            # Sent as typed: the core cleans it (NFC, stripped) and refuses an
            # empty one for closing, so there is one rule and one message.
            payload["note"] = note
        request_id = data.get("request_id")
        command_id = None
        if isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id):
            # A retry after "no answer" sends the same id: the core answers it
            # from its stored reply instead of refusing a second transition.
            command_id = f"web-{sess['code']}-{request_id}"
        reply = await self.bus.ask(self.bus.topics.core_command, payload, command_id=command_id)
        if not reply.get("ok"):
            return JSONResponse({"ok": False, "message": error_text(reply), "reply": reply}, 409)
        return JSONResponse({"ok": True, "case": reply.get("case")})

    # ---- what the page shows of a case
    def shown(self, row: dict[str, Any], names: dict[str, str], now: float) -> dict[str, Any]:
        """One case as the page shows it: names instead of codes, times in
        the site's zone, and whether it is overdue or due soon at ``now``."""
        c = self.config
        closed = row["status"] == "closed"
        due = row["due_at"]
        overdue = not closed and now > due
        soon = not closed and not overdue and due - now <= c.cases.remind_hours * 3600
        return {
            "id": row["id"], "ticket_id": row["ticket_id"],
            "ticket": (row["ticket_id"] or "").rsplit("-", 1)[-1] or "—",
            "day": row["day"], "field": row["field"], "field_name": self._field(row["field"]),
            "counter": row["counter"], "counter_name": self._counter(row["counter"]),
            "official": row["official"],
            "official_name": names.get(row["official"], row["official"]) if row["official"]
            else "Không xác định",
            "level": row["level"], "level_name": self._level(row["level"]),
            "source": row["source"],
            "source_name": "Điện thoại" if row["source"] == "phone" else "Hộp bấm tại quầy",
            "reasons": self._reasons(row["reasons"]), "comment": row.get("comment") or "",
            "status": row["status"], "status_name": STATUS_VI.get(row["status"], row["status"]),
            "opened": self.when(row["opened_at"]), "due": self.when(due),
            "looked": self.when(row["looked_at"]), "closed": self.when(row["closed_at"]),
            "closed_by": row["closed_by"],
            "closed_by_name": names.get(row["closed_by"], row["closed_by"] or ""),
            "note": row["note"] or "",
            "overdue": overdue, "soon": soon,
            # The core's own rule, as on event/case and in the pack.
            "on_time": case_rules.on_time(row) if closed else None,
            "due_in": due_in(due - now) if not closed else "",
        }

    def when(self, at: float | None) -> str:
        """dd/mm/yyyy HH:MM in the site's zone, as the centre reads its clock."""
        if not isinstance(at, (int, float)):
            return ""
        return dt.datetime.fromtimestamp(at, self.config.tz).strftime("%d/%m/%Y %H:%M")

    def _field(self, code: str | None) -> str:
        f = next((f for f in self.config.fields if f.code == code), None)
        # A field since removed from the config keeps its code on the page.
        return f.name_vi if f else (code or "—")

    def _counter(self, number: int) -> str:
        k = next((k for k in self.config.counters if k.number == number), None)
        return k.name if k else f"Quầy {number}"

    def _level(self, code: str) -> str:
        lv = next((lv for lv in self.config.rating.levels if lv.code == code), None)
        return lv.name_vi if lv else code

    def _reasons(self, raw: Any) -> list[str]:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return [raw]
        names = {r.code: r.name_vi for r in self.config.rating.reasons}
        return [names.get(code, code) for code in raw or []]


def due_in(left_s: float) -> str:
    """How long until (or since) the due time, in the largest whole unit."""
    s = abs(left_s)
    if s >= 2 * 86400:
        amount = f"{int(s // 86400)} ngày"
    elif s >= 3600:
        amount = f"{int(s // 3600)} giờ"
    else:
        amount = f"{max(1, int(s // 60))} phút"
    return f"còn {amount}" if left_s >= 0 else f"quá hạn {amount}"


def summary(cases: list[dict[str, Any]]) -> str:
    """The count line above the open list: "3 phản ánh đang mở, 1 quá hạn"."""
    if not cases:
        return "Không có phản ánh nào đang mở"
    overdue = sum(1 for c in cases if c["overdue"])
    soon = sum(1 for c in cases if c["soon"])
    text = f"{len(cases)} phản ánh đang mở, {overdue} quá hạn"
    return text + (f", {soon} sắp đến hạn" if soon else "")
