"""The admin pages' endpoints: the site config (read, save, restore, history)
and the printer and voice tests.

Reading is for the head and admins (area ``settings``), changing for admins
only.  A save is the core's ``config_apply`` (THE CONTRACT, docs/mqtt.md):
the web checks the whole config with the same model first, so a mistake is
shown next to its input and nothing goes to the core; the core checks again,
refuses what would strand people, writes the file and publishes
``config/site``, which this console then runs on (kiosk/web/bus.py).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.config import FIELD_ICONS, SiteConfig
from kiosk.web import auth, settings
from kiosk.web.bus import Bus
from kiosk.web.errors import WebError, error_text
from kiosk.web.pages import site_names
from kiosk.web.reader import Reader

log = logging.getLogger("phucvu.web")

# How long a save waits for the core's config/site after its reply, so the
# page reloads what the core now runs, not the version before.
SITE_WAIT_S = 3.0
VOICE_TEXT_MAX = 200


class AdminApi:
    def __init__(self, bus: Bus, reader: Reader):
        self.bus = bus
        self.reader = reader

    @property
    def config(self) -> SiteConfig:
        return self.bus.config

    async def site(self, request: Request) -> Response:
        """The names a console shows, after a config change (common.js)."""
        auth.need(request, "console")
        return JSONResponse(site_names(self.config))

    async def current(self, request: Request) -> Response:
        sess = auth.need(request, "settings")
        site = self.bus.current_site()
        return JSONResponse({
            "version": site.get("version"), "hash": site.get("hash"), "by": site.get("by"),
            "at": self._when(site.get("at")), "config": site["config"],
            "from_core": bool(self.bus.site), "icons": list(FIELD_ICONS),
            "voice_sample": self.voice_sample(),
            "can_edit": sess["role"] == "admin"})

    async def apply(self, request: Request) -> Response:
        sess = auth.need(request, "admin")
        data = await auth.change(request)
        base = str(data.get("base", ""))
        edits = data.get("edits")
        if not isinstance(edits, dict) or not base:
            raise WebError(400, "Yêu cầu lưu cần base và edits")
        site = self.bus.current_site()
        try:
            whole = settings.merge(site["config"], edits)
        except ValueError as e:
            raise WebError(400, f"Không lưu được: {e}") from None
        errors = settings.validate(whole)
        if errors:
            # Nothing reaches the core: the page shows each next to its input.
            return JSONResponse({"ok": False, "code": "config_invalid",
                                 "message": "Có mục chưa hợp lệ; xem dòng đỏ bên cạnh ô",
                                 "errors": errors}, 422)
        reply = await self.bus.ask(self.bus.topics.core_command,
                                   {"action": "config_apply", "by": sess["code"], "base": base,
                                    "config": whole})
        return await self._answer(reply, whole)

    async def restore(self, request: Request) -> Response:
        sess = auth.need(request, "admin")
        data = await auth.change(request)
        try:
            version = int(data.get("version"))
        except (TypeError, ValueError):
            raise WebError(400, "Chọn một phiên bản để khôi phục") from None
        reply = await self.bus.ask(self.bus.topics.core_command,
                                   {"action": "config_restore", "by": sess["code"],
                                    "version": version})
        return await self._answer(reply, self.bus.current_site()["config"])

    async def _answer(self, reply: dict[str, Any], sent: dict[str, Any]) -> Response:
        if not reply.get("ok"):
            err = reply.get("error") or {}
            body = {"ok": False, "code": err.get("code"), "message": error_text(reply),
                    "detail": err.get("message", ""), "reasons": err.get("reasons") or [],
                    "keys": err.get("keys") or [],
                    "errors": [e for x in err.get("errors") or []
                               for e in settings.placed(str(x.get("loc", "")),
                                                        str(x.get("message", "")), sent)]}
            return JSONResponse(body, 409)
        if reply.get("hash") and not await self.bus.site_hash(reply["hash"], SITE_WAIT_S):
            log.warning("config version %s saved, but its config/site has not arrived",
                        reply.get("version"))
        return JSONResponse({"ok": True, "version": reply.get("version"), "hash": reply.get("hash"),
                             "changes": reply.get("changes") or [],
                             "effects": reply.get("effects") or []})

    async def history(self, request: Request) -> Response:
        auth.need(request, "settings")
        rows = await asyncio.to_thread(self.reader.config_versions)
        names = {o["code"]: o["name"] for o in await asyncio.to_thread(self.reader.officials)}
        current = self.bus.current_site().get("hash")
        return JSONResponse({"versions": [
            {"version": r["version"], "at": self._when(r["at"]), "by": r["by"],
             "who": self._who(r["by"], names), "hash": r["hash"],
             "changes": r["changes"], "current": r["hash"] == current} for r in rows]})

    @staticmethod
    def _who(by: str, names: dict[str, str]) -> str:
        # "file": the core took the site file as it found it (a hand edit, `phucvu config`).
        if by == "file":
            return "tệp cấu hình"
        return f"{names[by]} ({by})" if by in names else str(by)

    def _when(self, at: Any) -> str:
        """dd/mm/yyyy HH:MM in the site's zone, as the centre reads its clock."""
        if not isinstance(at, (int, float)):
            return ""
        return dt.datetime.fromtimestamp(at, self.config.tz).strftime("%d/%m/%Y %H:%M")

    # ---- the devices
    async def device_test(self, request: Request) -> Response:
        sess = auth.need(request, "admin")
        data = await auth.change(request)
        what = request.path_params["what"]
        payload: dict[str, Any] = {"by": sess["code"]}
        if what == "print":
            payload["action"] = "print_test"
        elif what == "voice":
            text = " ".join(str(data.get("text") or self.voice_sample()).split())
            if not text or len(text) > VOICE_TEXT_MAX:
                raise WebError(400, f"Câu đọc thử dài 1 đến {VOICE_TEXT_MAX} ký tự")
            payload.update(action="voice_test", text=text)
        else:
            raise WebError(404, f"Không có thử nghiệm {what!r}")
        reply = await self.bus.ask(self.bus.topics.core_command, payload)
        if not reply.get("ok"):
            return JSONResponse({"ok": False, "message": error_text(reply), "reply": reply}, 409)
        return JSONResponse({"ok": True, "reply": reply})

    def voice_sample(self) -> str:
        """A call as the hall hears it: the first field's first number at the first counter."""
        c = self.config
        try:
            return c.announcer.template.format(number=f"{c.fields[0].prefix}001",
                                               counter=c.counters[0].number)
        except (KeyError, IndexError, ValueError):
            return f"Mời công dân có số thứ tự {c.fields[0].prefix}001 đến quầy số {c.counters[0].number}"
