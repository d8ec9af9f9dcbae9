"""The dashboard's chart and report downloads: ``kiosk.reports.report_main``
run on the read-only file for a date range, its file sent back and deleted;
and the official pack (``kiosk.reports.pack.pack_main``) of a month, quarter
or year, as its PDF or its workbook."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from kiosk.config import SiteConfig
from kiosk.web import auth
from kiosk.web.bus import Bus
from kiosk.web.errors import WebError

log = logging.getLogger("phucvu.web")

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
# Each kind of pack: what its period looks like, and an example for a person.
PACK_KINDS = {"monthly": (re.compile(r"\d{4}-(0[1-9]|1[0-2])"), "tháng", "2026-11"),
              "quarterly": (re.compile(r"\d{4}-Q[1-4]"), "quý", "2026-Q4"),
              "yearly": (re.compile(r"\d{4}"), "năm", "2026")}


class Downloads:
    def __init__(self, config: SiteConfig, db_path: str | Path, bus: Bus):
        self.db_path = Path(db_path)
        self.bus = bus
        # One pack at a time: it reads a whole quarter or year, and this
        # machine's two cores also run the queue.
        self.pack_lock = asyncio.Lock()

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
        if fmt not in ("xlsx", "csv"):
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

    async def pack(self, request: Request) -> Response:
        """``?kind=monthly|quarterly|yearly&period=2026-Q4&format=pdf|xlsx``: the
        official pack of that period (the last complete one without ``period``),
        sent under a Vietnamese file name."""
        auth.need(request, "dashboard")
        q = request.query_params
        kind, period, fmt = q.get("kind", ""), q.get("period") or None, q.get("format", "pdf")
        if kind not in PACK_KINDS:
            raise WebError(400, "Chọn bộ báo cáo theo tháng, quý hoặc năm")
        if fmt not in ("pdf", "xlsx"):
            raise WebError(400, "Định dạng bộ báo cáo là pdf hoặc xlsx")
        shape, name, example = PACK_KINDS[kind]
        if period is not None and not shape.fullmatch(period):
            raise WebError(400, f"Kỳ báo cáo theo {name} ghi như {example}")
        from kiosk.reports.pack import PackError, pack_main, parse_period
        today = self.bus.today()
        try:
            _, _, label = parse_period(kind, period, today)
        except PackError:
            # The shape is right, so the period is in the future or far out of range.
            raise WebError(400, f"Kỳ {period} chưa bắt đầu hoặc không có trong sổ sách") from None
        tmp = Path(tempfile.mkdtemp(prefix="phucvu-pack-"))
        try:
            try:
                async with self.pack_lock:
                    paths = await asyncio.to_thread(pack_main, self.config, self.db_path,
                                                    kind=kind, period=period, out_dir=tmp,
                                                    today=today, formats=(fmt,))
            except PackError as e:
                # An unreadable or missing file: the pack's own one line says which.
                log.error("report pack %s %s refused: %s", kind, period, e)
                raise WebError(400, f"Không tạo được bộ báo cáo: {e}") from None
            path = next((Path(p) for p in paths if Path(p).suffix == f".{fmt}"), None)
            if path is None:
                log.error("pack_main wrote no .%s for %s %s: %s", fmt, kind, period, paths)
                raise WebError(500, f"Bộ báo cáo không có tệp {fmt.upper()}")
            data = path.read_bytes()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # The ASCII name pack_main chose for old browsers; the Vietnamese one
        # ("Báo cáo Quý IV-2026 - <site>.pdf") for every current one (RFC 6266).
        nice = f"Báo cáo {label.replace('/', '-')} - {self.config.site.id}.{fmt}"
        return Response(data, media_type=MEDIA[fmt], headers={
            "Content-Disposition": f'attachment; filename="{path.name}"; '
                                   f"filename*=UTF-8''{quote(nice)}",
            "Cache-Control": "no-store"})
