"""The dashboard's chart and report downloads: ``kiosk.reports.report_main``
run on the read-only file for a date range, its file sent back and deleted."""
from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from kiosk.config import SiteConfig
from kiosk.web import auth
from kiosk.web.bus import Bus
from kiosk.web.errors import WebError

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8"}


class Downloads:
    def __init__(self, config: SiteConfig, db_path: str | Path, bus: Bus):
        self.db_path = Path(db_path)
        self.bus = bus

    @property
    def config(self) -> SiteConfig:
        # The bus's: the core's config/site replaces it while the web runs.
        return self.bus.config

    async def chart(self, request: Request) -> Response:
        auth.need(request, "dashboard")
        d_from, d_to = self._period(request)
        return await self._report(d_from, d_to, "official", "png", "image/png", inline=True)

    async def report(self, request: Request) -> Response:
        auth.need(request, "dashboard")
        d_from, d_to = self._period(request)
        fmt = request.query_params.get("fmt", "xlsx")
        by = request.query_params.get("by", "official")
        if fmt not in MEDIA:
            raise WebError(400, "Định dạng báo cáo là xlsx hoặc csv")
        return await self._report(d_from, d_to, by, fmt, MEDIA[fmt], inline=False)

    def _period(self, request: Request) -> tuple[dt.date, dt.date]:
        """``from`` and ``to`` of the query (both default to the service day), at most 366 days."""
        q = request.query_params
        try:
            d_from = dt.date.fromisoformat(q.get("from") or self.bus.today().isoformat())
            d_to = dt.date.fromisoformat(q.get("to") or d_from.isoformat())
        except ValueError:
            raise WebError(400, "Ngày phải có dạng YYYY-MM-DD") from None
        if d_to < d_from:
            raise WebError(400, "Ngày kết thúc phải sau ngày bắt đầu")
        if (d_to - d_from).days > 366:
            raise WebError(400, "Một báo cáo tối đa 366 ngày")
        return d_from, d_to

    async def _report(self, d_from: dt.date, d_to: dt.date, by: str, fmt: str, media: str,
                      inline: bool) -> Response:
        # Imported here: matplotlib loads when a head first asks for a report, not at start.
        from kiosk.reports import ReportError, report_main
        tmp = Path(tempfile.mkdtemp(prefix="phucvu-web-"))
        out = tmp / f"phucvu-{by}-{d_from}-{d_to}.{fmt}"
        try:
            path = await asyncio.to_thread(report_main, self.config, self.db_path, date_from=d_from,
                                           date_to=d_to, by=by, fmt=fmt, out=str(out))
        except ReportError as e:
            raise WebError(400, str(e)) from None
        data = Path(path).read_bytes()
        Path(path).unlink()
        tmp.rmdir()
        disp = "inline" if inline else "attachment"
        return Response(data, media_type=media, headers={
            "Content-Disposition": f'{disp}; filename="{out.name}"', "Cache-Control": "no-store"})
