"""`phucvu web`: the counter console, the head's dashboard and the admin pages.

A sibling of the core, never a database writer: it reads the SQLite file
read-only (waiting lists, the roster for PIN checks, reports) and changes
state only by commands on the bus as MQTT user ``web``, waiting for the
core's reply.  Live state is the core's retained topics and events, pushed
to browsers by Server-Sent Events, so no page polls.

Threads: paho's network thread receives; it hands everything to the asyncio
loop with ``call_soon_threadsafe`` and never touches a request or a stream.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import logging
import re
import secrets
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.lockout import Lockout

log = logging.getLogger("phucvu.web")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
# A browser's id for one press of a console button (console.js newRequestId).
_REQUEST_ID = re.compile(r"[0-9a-f]{16,32}")
ROLES_FOR = {"console": ("staff", "head", "admin"), "dashboard": ("head", "admin"),
             "admin": ("admin",)}
# What the browser's buttons may ask of a counter; the core checks the rest.
COUNTER_ACTIONS = set(contract.COUNTER_ACTIONS)
# Retained topics a page needs at once; events are only forwarded live.
LIVE_LEAVES = ("counter/+/state", "display/snapshot", "queue/summary", "printer/status",
               "presence/+", "event/alert", "event/call")


class WebError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ------------------------------------------------------------------ the bus side
class Bus:
    """The ``web`` MQTT login: retained state cache, SSE fan-out, command/reply."""

    def __init__(self, config: SiteConfig, password: str, host: str, port: int):
        self.config = config
        self.prefix = config.topic_prefix
        self.topics = contract.Topics(self.prefix)
        self.host, self.port = host, port
        self.retained: dict[str, Any] = {}
        self.streams: set[asyncio.Queue] = set()
        self.pending: dict[str, asyncio.Future] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connected = asyncio.Event()
        # The broker takes the login as client id anyway (one connection per login).
        self.client = contract.mqtt_client("web", username="web",
                                           password=password, prefix=self.prefix, device="web")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.client.connect_async(self.host, self.port, self.config.mqtt.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.publish(self.topics.presence("web"), contract.presence("web", "offline"),
                            qos=1, retain=True)
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            log.error("MQTT login as 'web' refused: %s", rc)
            return
        for leaf in LIVE_LEAVES + ("counter/+/reply", "core/reply"):
            client.subscribe(f"{self.prefix}/{leaf}", 1)
        contract.announce_online(client, self.prefix, "web", time.time())
        log.info("bus connected to %s:%s", self.host, self.port)
        if self.loop:
            self.loop.call_soon_threadsafe(self.connected.set)

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        log.warning("bus disconnected (%s); reconnecting", rc)

    def _on_message(self, client, userdata, msg):
        rel = msg.topic.removeprefix(self.prefix + "/")
        try:
            body = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            log.warning("ignoring non-JSON payload on %s", msg.topic)
            return
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._deliver, rel, body)

    def _deliver(self, rel: str, body: Any) -> None:
        if rel.endswith("/reply"):
            fut = self.pending.pop(str((body or {}).get("command_id")), None)
            if fut is not None and not fut.done():
                fut.set_result(body)
            return
        if not rel.startswith("event/"):
            self.retained[rel] = body
        line = json.dumps({"topic": rel, "body": body}, ensure_ascii=False)
        for q in list(self.streams):
            q.put_nowait(line)

    async def command(self, topic: str, payload: dict[str, Any], timeout: float,
                      command_id: str | None = None) -> dict[str, Any]:
        """Publish a command and wait for the core's reply to it.

        ``command_id`` names one action of a person: a browser that retries
        after a time-out sends the same one, and the core, which acts on an
        id once, answers it with the stored reply instead of acting again.
        """
        command_id = command_id or f"web-{uuid.uuid4().hex[:12]}"
        fut = asyncio.get_running_loop().create_future()
        self.pending[command_id] = fut
        self.client.publish(topic, contract.encode({"command_id": command_id, **payload}), qos=1)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise WebError(504, "Hệ thống lõi không trả lời; thử lại sau ít giây") from None
        finally:
            self.pending.pop(command_id, None)


# ------------------------------------------------------------------ the database side
class Reader:
    """Read-only queries on the core's SQLite file, one short connection each."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)

    def _store(self):
        from kiosk.core.store import Store
        return Store.reader(self.db_path)

    def official(self, code: str) -> dict[str, Any] | None:
        s = self._store()
        try:
            return s.official(code)
        finally:
            s.close()

    def officials(self) -> list[dict[str, Any]]:
        s = self._store()
        try:
            return s.officials()
        finally:
            s.close()

    def waiting(self, config: SiteConfig, day: str, counter: int) -> list[dict[str, Any]]:
        """Tickets this counter could call, in the order Next would call them.

        The domain's own rule (``Queue.call_order``: transfers to this
        counter, then its fields in their order, the priority interleave),
        not a second copy of it in SQL: the list starts with whom Next calls.
        """
        from kiosk.core.domain import Queue
        s = self._store()
        try:
            state = s.load_state([c.number for c in config.counters])
        finally:
            s.close()
        if state.day != day:
            return []
        return [{"label": t.label, "field": t.field, "priority": t.priority, "state": t.state,
                 "issued_at": t.issued_at, "to_counter": t.target_counter}
                for t in Queue(config, state).call_order(counter)]

    def anomalies(self, start: float, end: float) -> int:
        s = self._store()
        try:
            return s.conn.execute("SELECT count(*) FROM ratings WHERE counted = 0 AND at >= ? "
                                  "AND at < ?", (start, end)).fetchone()[0]
        finally:
            s.close()


# ------------------------------------------------------------------ the web app
class Web:
    def __init__(self, config: SiteConfig, db_path: str | Path, bus: Bus):
        self.config = config
        self.bus = bus
        self.reader = Reader(db_path)
        self.db_path = Path(db_path)
        self.limiter = Lockout(config.web.login_attempts, config.web.lockout_s)
        self.timeout = config.web.command_timeout_s
        # Names the pages show, handed over once in a data attribute.
        self.site_json = json.dumps({
            "fields": [{"code": f.code, "name": f.name_vi, "prefix": f.prefix} for f in config.fields],
            "counters": [{"number": c.number, "name": c.name, "fields": list(c.fields)}
                         for c in config.counters],
            "priorities": {p.code: p.name_vi for p in config.priority.classes},
        }, ensure_ascii=False)

    # ---- helpers
    def today(self) -> dt.date:
        summary = self.bus.retained.get("queue/summary") or {}
        if summary.get("day"):
            return dt.date.fromisoformat(summary["day"])
        return dt.datetime.now(self.config.tz).date()

    def page(self, name: str, request: Request, **values: str) -> Response:
        """A template with {{key}} holes filled (escaped); the CSRF token goes in a meta tag."""
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        sess = request.session
        values = {"csrf": sess.get("csrf", ""), "centre": self.config.site.centre,
                  "commune": self.config.site.commune, "name": sess.get("name", ""),
                  "code": sess.get("code", ""), "role": sess.get("role", ""),
                  "counter": str(sess.get("counter") or ""), "site": self.site_json, **values}
        for k, v in values.items():
            text = text.replace("{{" + k + "}}", html.escape(v))
        return Response(text, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    def need(self, request: Request, area: str) -> dict[str, Any]:
        sess = request.session
        if not sess.get("code"):
            raise WebError(401, "Chưa đăng nhập")
        if sess.get("role") not in ROLES_FOR[area]:
            raise WebError(403, "Tài khoản này không có quyền mở trang này")
        return sess

    async def body(self, request: Request) -> dict[str, Any]:
        """A state-changing request: the session's CSRF token must come back in a header."""
        sent = request.headers.get("x-csrf-token", "")
        want = request.session.get("csrf", "")
        if not want or not secrets.compare_digest(sent, want):
            raise WebError(403, "Thiếu hoặc sai mã chống giả mạo (CSRF); tải lại trang")
        try:
            data = await request.json()
        except ValueError:
            raise WebError(400, "Yêu cầu không phải JSON") from None
        if not isinstance(data, dict):
            raise WebError(400, "Yêu cầu phải là một đối tượng JSON")
        return data

    def fresh_session(self, request: Request) -> None:
        request.session.clear()
        request.session["csrf"] = secrets.token_urlsafe(24)

    # ---- pages
    async def home(self, request: Request) -> Response:
        role = request.session.get("role")
        target = {"staff": "/console", "head": "/dashboard", "admin": "/admin"}.get(role, "/login")
        return RedirectResponse(target, 303)

    async def login_page(self, request: Request) -> Response:
        if not request.session.get("csrf"):
            self.fresh_session(request)
        options = "".join(f'<option value="{c.number}">{html.escape(c.name)}</option>'
                          for c in self.config.counters)
        resp = self.page("login.html", request)
        resp.body = resp.body.replace(b"<!--counters-->", options.encode())
        resp.headers["content-length"] = str(len(resp.body))
        return resp

    async def console_page(self, request: Request) -> Response:
        sess = self.need(request, "console")
        if not sess.get("counter"):
            raise WebError(403, "Đăng nhập lại và chọn quầy để mở bàn làm việc")
        return self.page("console.html", request)

    async def dashboard_page(self, request: Request) -> Response:
        self.need(request, "dashboard")
        return self.page("dashboard.html", request, today=self.today().isoformat())

    async def admin_page(self, request: Request) -> Response:
        self.need(request, "admin")
        return self.page("admin.html", request)

    # ---- login
    async def login(self, request: Request) -> Response:
        data = await self.body(request)
        code = str(data.get("code", "")).strip().lower()[:32]
        pin = str(data.get("pin", ""))
        client = request.client.host if request.client else "?"
        keys = (f"code:{code}", f"client:{client}")
        left = self.limiter.locked(*keys)
        if left > 0:
            raise WebError(429, f"Sai mã PIN quá nhiều lần; thử lại sau {int(left) + 1} giây")
        official = await asyncio.to_thread(self.reader.official, code) if code else None
        from kiosk.core.auth import pin_matches
        good = await asyncio.to_thread(pin_matches, official, pin)
        if not good:
            self.limiter.fail(*keys)
            log.warning("web login refused for code %r from %s", code, client)
            raise WebError(401, "Sai mã cán bộ hoặc mã PIN")
        self.limiter.succeed(*keys)
        counter = None
        if official["role"] == "staff" or data.get("counter"):
            try:
                counter = int(data.get("counter"))
                self.config.counter(counter)
            except (TypeError, ValueError, KeyError):
                raise WebError(400, "Chọn quầy làm việc") from None
            # Attribution: whatever this counter serves from now on is this official's.
            reply = await self.bus.command(self.bus.topics.core_command,
                                           {"action": "login", "official": code,
                                            "counter": counter, "source": "web"}, self.timeout)
            if not reply.get("ok"):
                raise WebError(409, _error_text(reply))
        self.fresh_session(request)
        request.session.update({"code": code, "name": official["name"], "role": official["role"],
                                "counter": counter})
        log.info("web login: %s (%s) counter %s", code, official["role"], counter)
        nxt = "/console" if counter and official["role"] == "staff" else \
            {"head": "/dashboard", "admin": "/admin"}.get(official["role"], "/console")
        return JSONResponse({"ok": True, "next": nxt})

    async def logout(self, request: Request) -> Response:
        await self.body(request)
        counter = request.session.get("counter")
        if counter and request.session.get("code"):
            await self.bus.command(self.bus.topics.core_command,
                                   {"action": "logout", "counter": counter, "source": "web"},
                                   self.timeout)
        self.fresh_session(request)
        return JSONResponse({"ok": True, "next": "/login"})

    # ---- live state
    async def state(self, request: Request) -> Response:
        self.need(request, "console")
        return JSONResponse({"retained": self.bus.retained, "me": self._me(request)})

    def _me(self, request: Request) -> dict[str, Any]:
        s = request.session
        return {"code": s.get("code"), "name": s.get("name"), "role": s.get("role"),
                "counter": s.get("counter")}

    async def events(self, request: Request) -> Response:
        self.need(request, "console")
        q: asyncio.Queue = asyncio.Queue()
        self.bus.streams.add(q)
        first = json.dumps({"topic": "*", "body": self.bus.retained}, ensure_ascii=False)

        async def stream():
            try:
                yield f"data: {first}\n\n"
                while True:
                    try:
                        line = await asyncio.wait_for(q.get(), 15)
                        yield f"data: {line}\n\n"
                    except asyncio.TimeoutError:
                        # A comment keeps proxies and the browser from dropping an idle stream.
                        yield ": ping\n\n"
            finally:
                self.bus.streams.discard(q)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def waiting(self, request: Request) -> Response:
        sess = self.need(request, "console")
        raw = request.query_params.get("counter") or sess.get("counter") or 0
        try:
            n = int(raw)
            counter = self.config.counter(n)
        except (ValueError, KeyError):
            raise WebError(404, f"Không có quầy số {raw}") from None
        rows = await asyncio.to_thread(self.reader.waiting, self.config, self.today().isoformat(),
                                       counter.number)
        return JSONResponse({"counter": n, "waiting": rows})

    # ---- counter commands
    async def counter_command(self, request: Request) -> Response:
        sess = self.need(request, "console")
        data = await self.body(request)
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
        reply = await self.bus.command(self.bus.topics.counter_command(n), payload, self.timeout,
                                       command_id=command_id)
        if not reply.get("ok"):
            return JSONResponse({"ok": False, "message": _error_text(reply), "reply": reply}, 409)
        return JSONResponse({"ok": True, "reply": reply})

    # ---- dashboard
    async def overview(self, request: Request) -> Response:
        self.need(request, "dashboard")
        day = self.today()
        start = dt.datetime.combine(day, dt.time(), self.config.tz).timestamp()
        anomalies = await asyncio.to_thread(self.reader.anomalies, start, start + 86400)
        return JSONResponse({"day": day.isoformat(), "anomalies": anomalies})

    def _period(self, request: Request) -> tuple[dt.date, dt.date]:
        q = request.query_params
        try:
            d_from = dt.date.fromisoformat(q.get("from") or self.today().isoformat())
            d_to = dt.date.fromisoformat(q.get("to") or d_from.isoformat())
        except ValueError:
            raise WebError(400, "Ngày phải có dạng YYYY-MM-DD") from None
        if d_to < d_from:
            raise WebError(400, "Ngày kết thúc phải sau ngày bắt đầu")
        if (d_to - d_from).days > 366:
            raise WebError(400, "Một báo cáo tối đa 366 ngày")
        return d_from, d_to

    async def chart(self, request: Request) -> Response:
        self.need(request, "dashboard")
        d_from, d_to = self._period(request)
        return await self._report(d_from, d_to, "official", "png", "image/png", inline=True)

    async def report(self, request: Request) -> Response:
        self.need(request, "dashboard")
        d_from, d_to = self._period(request)
        fmt = request.query_params.get("fmt", "xlsx")
        by = request.query_params.get("by", "official")
        types = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}
        if fmt not in types:
            raise WebError(400, "Định dạng báo cáo là xlsx hoặc csv")
        return await self._report(d_from, d_to, by, fmt, types[fmt], inline=False)

    async def _report(self, d_from, d_to, by, fmt, media, inline) -> Response:
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

    async def reprint(self, request: Request) -> Response:
        self.need(request, "dashboard")
        data = await self.body(request)
        ticket = str(data.get("ticket", "")).strip().upper()
        if not ticket:
            raise WebError(400, "Nhập số phiếu cần in lại, ví dụ A013")
        reply = await self.bus.command(self.bus.topics.core_command,
                                       {"action": "reprint", "ticket": ticket,
                                        "force": bool(data.get("force")), "source": "web"},
                                       self.timeout)
        if not reply.get("ok"):
            return JSONResponse({"ok": False, "message": _error_text(reply), "reply": reply}, 409)
        return JSONResponse({"ok": True, "reply": reply})

    # ---- admin: the roster
    async def officials(self, request: Request) -> Response:
        self.need(request, "admin")
        return JSONResponse({"officials": await asyncio.to_thread(self.reader.officials)})

    async def roster(self, request: Request) -> Response:
        sess = self.need(request, "admin")
        data = await self.body(request)
        action = request.path_params["action"]
        code = str(data.get("official", "")).strip().lower()
        if not code or len(code) > 32:
            raise WebError(400, "Nhập mã cán bộ (tối đa 32 ký tự)")
        payload: dict[str, Any] = {"action": f"official_{action}", "official": code,
                                   "source": f"web:{sess['code']}"}
        if action in ("add", "pin") and (data.get("pin") or action == "pin"):
            from kiosk.core.auth import hash_pin
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
        reply = await self.bus.command(self.bus.topics.core_command, payload, self.timeout)
        if not reply.get("ok"):
            return JSONResponse({"ok": False, "message": _error_text(reply), "reply": reply}, 409)
        return JSONResponse({"ok": True})


def _error_text(reply: dict[str, Any]) -> str:
    err = reply.get("error") or {}
    return MESSAGES_VI.get(err.get("code"), err.get("message") or "Lỗi không rõ")


# What staff read when the core refuses; the core's English message is kept in the reply.
MESSAGES_VI = {
    "empty": "Không còn ai chờ ở quầy này",
    "no_current": "Quầy đang không phục vụ phiếu nào",
    "not_open": "Quầy đang tạm nghỉ; bấm Tiếp tục trước",
    "already_open": "Quầy đang mở",
    "not_waiting": "Phiếu này không ở trong hàng chờ",
    "already_called": "Phiếu này đã được gọi",
    "unknown_ticket": "Không có phiếu này trong hôm nay",
    "bad_transfer": "Không chuyển được phiếu tới đó",
    "unknown_field": "Không có lĩnh vực này",
    "unknown_counter": "Không có quầy này",
    "day_closed": "Ngày làm việc đã kết thúc",
    "unknown_official": "Không có cán bộ này",
    "already_printed": "Phiếu đã in; đánh dấu “In lại dù đã in” để in lần nữa",
    "bad_payload": "Yêu cầu không hợp lệ",
    "roster": "Không sửa được danh sách cán bộ",
}


def build_app(config: SiteConfig, db_path: str | Path, password: str, *,
              mqtt_host: str | None = None, mqtt_port: int | None = None,
              secret: str | None = None) -> Starlette:
    """The ASGI app; the bus connects when the app starts (lifespan)."""
    bus = Bus(config, password, mqtt_host or config.mqtt.host, mqtt_port or config.mqtt.port)
    web = Web(config, db_path, bus)

    def wrap(handler):
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except WebError as e:
                if e.status == 401 and request.method == "GET" and \
                        "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse("/login", 303)
                if "text/html" in request.headers.get("accept", "") and request.method == "GET":
                    return Response(_error_page(e.status, e.message), e.status,
                                    media_type="text/html; charset=utf-8")
                return JSONResponse({"ok": False, "message": e.message}, e.status)
        return run

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        bus.start(asyncio.get_running_loop())
        yield
        bus.stop()

    routes = [
        Route("/", wrap(web.home)),
        Route("/login", wrap(web.login_page)),
        Route("/console", wrap(web.console_page)),
        Route("/dashboard", wrap(web.dashboard_page)),
        Route("/admin", wrap(web.admin_page)),
        Route("/api/login", wrap(web.login), methods=["POST"]),
        Route("/api/logout", wrap(web.logout), methods=["POST"]),
        Route("/api/state", wrap(web.state)),
        Route("/api/events", wrap(web.events)),
        Route("/api/waiting", wrap(web.waiting)),
        Route("/api/counter/{n:int}/{action}", wrap(web.counter_command), methods=["POST"]),
        Route("/api/overview", wrap(web.overview)),
        Route("/api/chart.png", wrap(web.chart)),
        Route("/api/report", wrap(web.report)),
        Route("/api/reprint", wrap(web.reprint), methods=["POST"]),
        Route("/api/officials", wrap(web.officials)),
        Route("/api/officials/{action}", wrap(web.roster), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                             session_cookie="phucvu_session",
                             max_age=config.web.session_lifetime_s, same_site="strict")]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.web = web
    return app


def _error_page(status: int, message: str) -> str:
    return (f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>Lỗi {status}</title>'
            f'<link rel="stylesheet" href="/static/app.css"><main class="error">'
            f'<h1>Lỗi {status}</h1><p>{html.escape(message)}</p>'
            f'<p><a href="/login">Đăng nhập</a> · <a href="/">Trang chính</a></p></main></html>')


def main(config_path: str, *, db_path: str, mqtt_password_file: str, host: str | None = None,
         port: int | None = None, mqtt_port: int | None = None) -> int:
    """``phucvu web``: serve the console until stopped.  Returns an exit code."""
    import uvicorn

    from kiosk import config as config_mod
    cfg = config_mod.load(config_path)
    if not Path(db_path).exists():
        log.error("database %s does not exist; start the core first", db_path)
        return 2
    password = contract.read_password(mqtt_password_file)
    app = build_app(cfg, db_path, password, mqtt_port=mqtt_port)
    bind_host, bind_port = host or cfg.web.host, port or cfg.web.port
    _feed_systemd(app, f"serving http://{bind_host}:{bind_port}/")
    log.info("web console on http://%s:%s/", bind_host, bind_port)
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning",
                timeout_graceful_shutdown=2)
    return 0


def _feed_systemd(app: Any, status: str) -> None:
    """Type=notify and WatchdogSec= under systemd (kiosk/sdnotify.py); a no-op elsewhere.

    The pings are a task on the server's own event loop, so a handler that
    blocks the loop stops them and systemd restarts the console.
    """
    from contextlib import asynccontextmanager

    from kiosk.sdnotify import Notifier
    notify = Notifier()
    if not notify.enabled:
        return
    inner = app.router.lifespan_context

    async def ping() -> None:
        while True:
            notify.watchdog()
            await asyncio.sleep(notify.wake_every(5.0))

    @asynccontextmanager
    async def lifespan(a: Any):
        async with inner(a) as state:
            task = asyncio.get_running_loop().create_task(ping())
            notify.ready(status)
            try:
                yield state
            finally:
                notify.stopping()
                task.cancel()

    app.router.lifespan_context = lifespan
