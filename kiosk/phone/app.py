"""`phucvu phone`: the citizen's page on its own listener (docs/phone.md).

Only the routes of THE CONTRACT exist here: the ticket's page, its state,
its live stream and its rating, the page's two static files and /healthz.
Nothing of the staff console (no session, no cookie, no database): the page
is answered from the core's retained ``queue/tickets`` held in memory by
``PhoneBus``, so a flood of phones costs the core nothing.

Every address is checked first (the ticket's token, keyed with the site
secret); then the client's budget (``Limits``).  Every refusal is logged
and counted in ``phone/stats``.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from kiosk.config import SiteConfig
# The core's own limits and clean-up of a rating's reasons and comment: the
# page refuses in shape what the core would refuse.
from kiosk.core.domain.ratings import MAX_COMMENT, MAX_REASONS, clean_comment
from kiosk.phone import pages, token
from kiosk.phone.bus import NoReply, PhoneBus
from kiosk.phone.limits import Limits
from kiosk.phone.view import TICKET_ID, ticket_view

log = logging.getLogger("phucvu.phone")

STATIC = Path(__file__).resolve().parent / "static"
# The wait's words, one file with the console's, beside kiosk/waitwords.py.
WAITWORDS_JS = Path(__file__).resolve().parent.parent / "waitwords.js"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
REPLY_TIMEOUT_S = 5.0
# A comment line this often keeps the stream open through idle minutes.
PING_S = 15.0
MAX_BODY = 4096
ATTEMPT_RE = re.compile(r"[0-9a-f]{16,32}")
# Ratings passed to the core for one ticket, whoever sends them (this server's life).
RATINGS_PER_TICKET = 5
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; base-uri 'none'; form-action 'self'; "
                                 b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]
NO_STORE = {"cache-control": "no-store"}


class StrictHeaders:
    """Every answer, the 404s included, carries the page's security headers."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)
        await self.app(scope, receive, sending)


class PhoneApp:
    def __init__(self, config: SiteConfig, bus: PhoneBus, secret: bytes):
        phone = config.phone
        assert phone is not None
        self.bus, self.secret = bus, secret
        self.limits = Limits(phone.requests_per_min, phone.streams_per_client)
        bus.clients = self.limits.clients
        self.per_ticket: dict[str, int] = {}
        self.static = {p.name: (p.read_bytes(), STATIC_TYPES[p.suffix])
                       for p in (*STATIC.iterdir(), WAITWORDS_JS) if p.suffix in STATIC_TYPES}

    # ------------------------------------------------------------ checks
    def client(self, request: Request) -> str:
        return request.client.host if request.client else "?"

    def tag(self, addr: str) -> str:
        """A short keyed hash of the address: for logs and the core, never the address."""
        return hmac.new(self.secret, addr.encode(), hashlib.sha256).hexdigest()[:8]

    def admit(self, request: Request, html: bool) -> tuple[str, Response | None]:
        """The ticket id, or the refusal: a bad token (404), then the client's budget (429)."""
        tid, tok = request.path_params["ticket_id"], request.path_params["token"]
        addr = self.client(request)
        if not TICKET_ID.fullmatch(tid) or not token.check(self.secret, tid, tok):
            self.bus.stats.refuse("bad_token")
            log.warning("bad token for %r from client %s", tid[:24], self.tag(addr))
            # A guess still costs the guesser a request of the budget.
            self.limits.allow(addr, time.monotonic())
            return tid, (HTMLResponse(pages.BAD_TOKEN, 404, headers=NO_STORE) if html else
                         JSONResponse({"ok": False, **pages.refusal("bad_token")}, 404, headers=NO_STORE))
        if not self.limits.allow(addr, time.monotonic()):
            return tid, self.too_many(addr, "rate_limited", html)
        return tid, None

    def too_many(self, addr: str, why: str, html: bool) -> Response:
        self.bus.stats.refuse(why)
        log.warning("refused (%s) client %s", why, self.tag(addr))
        headers = {**NO_STORE, "retry-after": "60"}
        if html:
            return HTMLResponse(pages.TOO_MANY, 429, headers=headers)
        return JSONResponse({"ok": False, **pages.refusal("rate_limited")}, 429, headers=headers)

    def state(self, tid: str) -> dict[str, Any]:
        return ticket_view(self.bus.config, self.bus.tickets, tid)

    # ------------------------------------------------------------ routes
    async def page(self, request: Request) -> Response:
        tid, refused = self.admit(request, html=True)
        if refused:
            return refused
        self.bus.stats.pages += 1
        return HTMLResponse(pages.ticket_page(tid.partition("-")[2]), headers=NO_STORE)

    async def state_json(self, request: Request) -> Response:
        tid, refused = self.admit(request, html=False)
        return refused or JSONResponse(self.state(tid), headers=NO_STORE)

    async def events(self, request: Request) -> Response:
        tid, refused = self.admit(request, html=False)
        if refused:
            return refused
        addr = self.client(request)
        if not self.limits.open_stream(addr):
            return self.too_many(addr, "streams", html=False)
        return StreamingResponse(self._stream(tid, addr), media_type="text/event-stream",
                                 headers={**NO_STORE, "x-accel-buffering": "no"})

    async def _stream(self, tid: str, addr: str):
        """The ticket's state now, then again whenever it changes."""
        try:
            seen = self.bus.version
            last = json.dumps(self.state(tid), ensure_ascii=False)
            yield f"retry: 3000\ndata: {last}\n\n"
            while not self.bus.closing:
                if not await self.bus.changed(seen, PING_S):
                    yield ": ping\n\n"
                    continue
                seen = self.bus.version
                now = json.dumps(self.state(tid), ensure_ascii=False)
                if now != last:
                    last = now
                    yield f"data: {now}\n\n"
        finally:
            self.limits.close_stream(addr)

    async def rating(self, request: Request) -> Response:
        tid, refused = self.admit(request, html=False)
        if refused:
            return refused
        addr = self.client(request)
        try:
            body = self.rating_body(await self.read_body(request))
        except ValueError as e:
            self.bus.stats.refuse("bad_request")
            log.warning("bad rating body for %s from client %s: %s", tid, self.tag(addr), e)
            return JSONResponse({"ok": False, **pages.refusal("bad_request")}, 400, headers=NO_STORE)
        # One ticket's holder cannot fill the core's anomaly table from many
        # addresses: a citizen needs one rating (and a retry after a time-out).
        sent = self.per_ticket.get(tid, 0)
        if sent >= RATINGS_PER_TICKET:
            return self.too_many(addr, "rate_limited", html=False)
        self.per_ticket[tid] = sent + 1
        if len(self.per_ticket) > 20000:        # other days' tickets: forgotten
            self.per_ticket = {k: v for k, v in self.per_ticket.items() if k[:8] == tid[:8]}
        self.bus.stats.ratings_sent += 1
        try:
            attempt = body.pop("attempt", None)
            reply = await self.bus.rate({"ticket_id": tid, "token": request.path_params["token"],
                                         **body, "client": self.tag(addr)}, REPLY_TIMEOUT_S,
                                        key=f"{tid}:{attempt}" if attempt else None)
        except NoReply as e:
            log.error("no phone/reply to %s (ticket %s) within %.0f s", e, tid, REPLY_TIMEOUT_S)
            return JSONResponse({"ok": False, **pages.refusal("no_reply")}, 504, headers=NO_STORE)
        if reply.get("ok"):
            log.info("rating %s of %s counted=%s", reply.get("rating_id"), tid, reply.get("counted"))
            return JSONResponse({"ok": True, "counted": bool(reply.get("counted"))}, headers=NO_STORE)
        err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        code = str(err.get("code") or "refused")
        self.bus.stats.refuse("core_refused")
        log.info("rating %s of %s refused by the core: %s", reply.get("rating_id"), tid, code)
        return JSONResponse({"ok": False, **pages.refusal(code, err.get("message"))}, 409,
                            headers=NO_STORE)

    @staticmethod
    async def read_body(request: Request) -> bytes:
        """The request's body, refused (ValueError) past MAX_BODY without reading it all."""
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise ValueError(f"body over {MAX_BODY} bytes")
        return raw

    @staticmethod
    def rating_body(raw: bytes) -> dict[str, Any]:
        """The page's ``{level, reasons, comment}``, checked for shape; the core judges the rest."""
        if len(raw) > MAX_BODY:
            raise ValueError(f"body over {MAX_BODY} bytes")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not JSON") from None
        if not isinstance(data, dict) or set(data) - {"level", "reasons", "comment", "attempt"}:
            raise ValueError("expected an object with level, reasons, comment, attempt")
        level = data.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 255:
            raise ValueError("level must be a whole number from 1")
        out: dict[str, Any] = {"level": level}
        reasons = data.get("reasons") or []
        if not isinstance(reasons, list) or len(reasons) > MAX_REASONS or not all(
                isinstance(r, str) and 0 < len(r) <= 32 for r in reasons) or len(set(reasons)) < len(reasons):
            raise ValueError(f"reasons must be at most {MAX_REASONS} distinct codes")
        if reasons:
            out["reasons"] = reasons
        comment = data.get("comment") or None
        if comment is not None and not isinstance(comment, str):
            raise ValueError("comment must be text")
        comment = clean_comment(comment)
        if comment is not None and len(comment) > MAX_COMMENT:
            raise ValueError(f"comment over {MAX_COMMENT} characters")
        if comment:
            out["comment"] = comment
        # The page's one random key for its rating, sent again with a retry
        # after a time-out, so the core takes it as the same rating.
        attempt = data.get("attempt")
        if attempt is not None:
            if not isinstance(attempt, str) or not ATTEMPT_RE.fullmatch(attempt):
                raise ValueError("attempt must be 16 to 32 hex digits")
            out["attempt"] = attempt
        return out

    async def static_file(self, request: Request) -> Response:
        found = self.static.get(request.path_params["name"])
        if found is None:
            return not_found(request)
        # Cached a few minutes: a new version reaches phones soon enough.
        return Response(found[0], media_type=found[1], headers={"cache-control": "max-age=300"})

    async def healthz(self, request: Request) -> Response:
        ok = self.bus.connected
        return JSONResponse({"ok": ok, "bus": "connected" if ok else "disconnected",
                             "tickets": self.bus.tickets is not None}, 200 if ok else 503,
                            headers=NO_STORE)


def not_found(request: Request, exc: Exception | None = None) -> Response:
    """Anything that is not a route of the page, whatever the method."""
    if request.url.path.startswith("/t/") and not request.url.path.endswith("/rating") \
            and request.method == "GET":
        return HTMLResponse(pages.NOT_FOUND, 404, headers=NO_STORE)
    return PlainTextResponse("Không tìm thấy / Not found\n", 404, headers=NO_STORE)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    # 405 too: a wrong method on a page's address is as absent as any other.
    return not_found(request, exc)


def build_app(config: SiteConfig, password: str, secret: bytes, *, mqtt_host: str | None = None,
              mqtt_port: int | None = None) -> Starlette:
    """The ASGI app; its bus connects when the app starts (lifespan)."""
    bus = PhoneBus(config, password, mqtt_host or config.mqtt.host, mqtt_port or config.mqtt.port)
    phone = PhoneApp(config, bus, secret)

    @asynccontextmanager
    async def lifespan(app):
        bus.start(asyncio.get_running_loop())
        yield
        bus.stop()

    t = "/t/{ticket_id}/{token}"
    routes = [
        Route(t, phone.page, methods=["GET"]),
        Route(t + "/state", phone.state_json, methods=["GET"]),
        Route(t + "/events", phone.events, methods=["GET"]),
        Route(t + "/rating", phone.rating, methods=["POST"]),
        Route("/static/phone/{name}", phone.static_file, methods=["GET"]),
        Route("/healthz", phone.healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _http_error, 405: _http_error})
    app.add_middleware(StrictHeaders)
    app.state.bus, app.state.phone = bus, phone
    return app


class StartError(Exception):
    """Why ``phucvu phone`` cannot start, in one line for a person."""


def prepare(config: SiteConfig, mqtt_password_file: str) -> tuple[str, bytes]:
    """The bus password and the site secret, or StartError saying what is wrong."""
    from kiosk.contract import PayloadError, read_password
    if config.phone is None:
        raise StartError("the site config has no [phone] section; add one with public_url "
                         "(docs/config.md, docs/phone.md) or do not start the phone page")
    try:
        password = read_password(mqtt_password_file)
    except PayloadError as e:
        raise StartError(str(e)) from None
    try:
        secret = token.load_or_create(config.phone.secret_file)
    except token.SecretError as e:
        raise StartError(str(e)) from None
    return password, secret


def serve(config: SiteConfig, password: str, secret: bytes, *, mqtt_host: str | None = None,
          mqtt_port: int | None = None) -> None:
    """``phucvu phone``: serve the citizen's page until stopped (``prepare`` first)."""
    import uvicorn

    from kiosk.sdnotify import feed_asgi
    Server = _server_class()
    phone = config.phone
    assert phone is not None
    app = build_app(config, password, secret, mqtt_host=mqtt_host, mqtt_port=mqtt_port)
    feed_asgi(app, f"serving http://{phone.host}:{phone.port}/ for {phone.public_url}")
    log.info("phone page on http://%s:%s/ (the tickets' QR open %s/t/...)", phone.host, phone.port,
             phone.public_url)
    server = Server(uvicorn.Config(app, host=phone.host, port=phone.port, log_level="warning",
                                   timeout_graceful_shutdown=2, access_log=False))
    server.run()


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, ending the open streams when told to stop."""

        def handle_exit(self, sig, frame) -> None:
            self.config.app.state.bus.close_streams()
            super().handle_exit(sig, frame)
    return Server
