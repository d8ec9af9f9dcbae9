"""The JSON and SSE endpoints under /api/: login, the live state, the
counter buttons, the dashboard's count and reprint, the roster.

Every change goes to the core as a command on the bus (``Bus.ask``)
and answers with the core's reply; reads come from the retained state
(kiosk/web/bus.py) or the read-only file (kiosk/web/reader.py).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
import unicodedata
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.core.auth import hash_pin
from kiosk.web import auth
from kiosk.web import figures as figures_mod
from kiosk.web.bus import Bus
from kiosk.web.errors import WebError, error_text
from kiosk.web.reader import Reader

log = logging.getLogger("phucvu.web")

# A browser's id for one press of a console button (console.js newRequestId).
_REQUEST_ID = re.compile(r"[0-9a-f]{16,32}")
# What the browser's buttons may ask of a counter; the core checks the rest.
COUNTER_ACTIONS = set(contract.COUNTER_ACTIONS)


def _answer(reply: dict[str, Any], *, echo: bool = True) -> Response:
    """The core's reply to a button: 200 (with the reply if ``echo``), or 409
    with the refusal in Vietnamese and the reply."""
    if not reply.get("ok"):
        return JSONResponse({"ok": False, "message": error_text(reply), "reply": reply}, 409)
    return JSONResponse({"ok": True, "reply": reply} if echo else {"ok": True})


class Api:
    def __init__(self, config: SiteConfig, bus: Bus, reader: Reader):
        self.bus = bus
        self.reader = reader
        self.pins = auth.PinCheck(config, reader)
        # The clock the wait alert measures against (a seam: a test moves it on).
        self.clock = time.time

    @property
    def config(self) -> SiteConfig:
        # The bus's: the core's config/site replaces it while the web runs.
        return self.bus.config

    # ---- login
    async def login(self, request: Request) -> Response:
        data = await auth.change(request)
        code = str(data.get("code", "")).strip().lower()[:32]
        client = request.client.host if request.client else "?"
        official = await self.pins.official(code, str(data.get("pin", "")), client)
        counter = None
        if official["role"] == "staff" or data.get("counter"):
            try:
                counter = int(data.get("counter"))
                self.config.counter(counter)
            except (TypeError, ValueError, KeyError):
                raise WebError(400, "Chọn quầy làm việc") from None
            # Attribution: whatever this counter serves from now on is this official's.
            reply = await self.bus.ask(self.bus.topics.core_command,
                                             {"action": "login", "official": code,
                                              "counter": counter, "source": "web"})
            if not reply.get("ok"):
                raise WebError(409, error_text(reply))
        auth.fresh_session(request)
        request.session.update({"code": code, "name": official["name"], "role": official["role"],
                                "counter": counter})
        log.info("web login: %s (%s) counter %s", code, official["role"], counter)
        # Staff always have a counter here, so their home is the console.
        return JSONResponse({"ok": True, "next": auth.HOME_FOR.get(official["role"], "/console")})

    async def logout(self, request: Request) -> Response:
        await auth.change(request)
        counter = request.session.get("counter")
        if counter and request.session.get("code"):
            await self.bus.ask(self.bus.topics.core_command,
                                     {"action": "logout", "counter": counter, "source": "web"})
        auth.fresh_session(request)
        return JSONResponse({"ok": True, "next": "/login"})

    # ---- live state
    async def state(self, request: Request) -> Response:
        auth.need(request, "console")
        return JSONResponse({"retained": self.bus.retained, "me": auth.me(request)})

    async def events(self, request: Request) -> Response:
        sess = auth.need(request, "console")
        # Case events go only to those who may see cases (the dashboard's roles).
        private = sess["role"] in auth.ROLES_FOR["dashboard"]
        return StreamingResponse(self.bus.stream(private), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def waiting(self, request: Request) -> Response:
        sess = auth.need(request, "console")
        raw = request.query_params.get("counter") or sess.get("counter") or 0
        try:
            n = int(raw)
            counter = self.config.counter(n)
        except (ValueError, KeyError):
            raise WebError(404, f"Không có quầy số {raw}") from None
        rows = await asyncio.to_thread(self.reader.waiting, self.config,
                                       self.bus.today().isoformat(), counter.number)
        return JSONResponse({"counter": n, "waiting": rows})

    # ---- counter commands
    async def counter(self, request: Request) -> Response:
        sess = auth.need(request, "console")
        data = await auth.change(request)
        n = int(request.path_params["n"])
        action = request.path_params["action"]
        if action not in COUNTER_ACTIONS:
            raise WebError(404, f"Không có thao tác {action!r}")
        # Staff drive only the counter they logged in at; admins may pause any.
        if sess["role"] != "admin" and sess.get("counter") != n:
            raise WebError(403, f"Bạn đang làm việc ở quầy {sess.get('counter')}, không phải quầy {n}")
        if sess["role"] == "admin" and sess.get("counter") != n and action not in ("pause", "resume"):
            raise WebError(403, "Quản trị chỉ tạm dừng hoặc mở lại quầy khác")
        payload: dict[str, Any] = {"action": action, "source": f"web:{sess['code']}"}
        if action == "call":
            payload["number"] = str(data.get("number", "")).strip().upper()
        if action == "transfer":
            if data.get("to_counter"):
                try:
                    payload["to_counter"] = int(data["to_counter"])
                except (TypeError, ValueError):
                    raise WebError(400, "Quầy nhận phải là một số") from None
            else:
                payload["to_field"] = str(data.get("to_field", ""))
        request_id = data.get("request_id")
        command_id = None
        if isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id):
            command_id = f"web-{sess['code']}-{request_id}"
        reply = await self.bus.ask(self.bus.topics.counter_command(n), payload,
                                         command_id=command_id)
        return _answer(reply)

    # ---- dashboard
    async def overview(self, request: Request) -> Response:
        auth.need(request, "dashboard")
        day = self.bus.today()
        start = dt.datetime.combine(day, dt.time(), self.config.tz).timestamp()
        figures = await asyncio.to_thread(self.reader.today, self.config, day.isoformat(),
                                          start, start + 86400)
        return JSONResponse({
            "day": day.isoformat(), "anomalies": figures["anomalies"],
            "kpis": figures["kpis"], "estimate_error": figures["estimate_error"],
            "satisfaction": figures["satisfaction"],
            "alerts": figures_mod.alerts(self.config, self.bus.retained, figures["oldest"],
                                         self.clock())})

    async def reprint(self, request: Request) -> Response:
        auth.need(request, "dashboard")
        data = await auth.change(request)
        ticket = str(data.get("ticket", "")).strip().upper()
        if not ticket:
            raise WebError(400, "Nhập số phiếu cần in lại, ví dụ A013")
        reply = await self.bus.ask(self.bus.topics.core_command,
                                         {"action": "reprint", "ticket": ticket,
                                          "force": bool(data.get("force")), "source": "web"})
        return _answer(reply)

    # ---- admin: the roster
    async def officials(self, request: Request) -> Response:
        # The head sees the roster on the settings pages, read-only.
        auth.need(request, "settings")
        return JSONResponse({"officials": await asyncio.to_thread(self.reader.officials)})

    async def roster(self, request: Request) -> Response:
        sess = auth.need(request, "admin")
        data = await auth.change(request)
        action = request.path_params["action"]
        code = str(data.get("official", "")).strip().lower()
        if not code or len(code) > 32:
            raise WebError(400, "Nhập mã cán bộ (tối đa 32 ký tự)")
        payload: dict[str, Any] = {"action": f"official_{action}", "official": code,
                                   "source": f"web:{sess['code']}"}
        if action in ("add", "pin") and (data.get("pin") or action == "pin"):
            try:
                # The PIN is hashed here; only the hash crosses the bus.
                payload["pin_hash"] = await asyncio.to_thread(hash_pin, str(data.get("pin", "")))
            except ValueError:
                raise WebError(400, "Mã PIN gồm 4 đến 12 chữ số") from None
        if action == "add":
            name = unicodedata.normalize("NFC", str(data.get("name", "")).strip())
            role = str(data.get("role", "staff"))
            if not name:
                raise WebError(400, "Nhập họ tên cán bộ")
            if role not in ("staff", "head", "admin"):
                raise WebError(400, "Vai trò là staff, head hoặc admin")
            payload.update(name=name, role=role)
        elif action == "active":
            payload["active"] = bool(data.get("active"))
        elif action != "pin":
            raise WebError(404, f"Không có thao tác {action!r}")
        reply = await self.bus.ask(self.bus.topics.core_command, payload)
        return _answer(reply, echo=False)
