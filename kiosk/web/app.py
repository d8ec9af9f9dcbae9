"""`phucvu web`: the counter console, the head's dashboard and the admin pages.

A sibling of the core, never a database writer: it reads the SQLite file
read-only (waiting lists, the roster for PIN checks, reports) and changes
state only by commands on the bus as MQTT user ``web``, waiting for the
core's reply.  Live state is the core's retained topics and events, pushed
to browsers by Server-Sent Events, so no page polls.

The rooms: bus.py (the MQTT login, retained cache, SSE fan-out, and
command/reply through kiosk.core.client), reader.py (reads through kiosk.core.read), auth.py (PINs,
sessions, roles, CSRF), pages.py (the HTML), api.py, cases.py (the head's
follow-up cases) and downloads.py (the endpoints, the report pack among
them), errors.py (what a refusal says).  This file wires them and serves.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.sdnotify import feed_asgi
from kiosk.web.admin_api import AdminApi
from kiosk.web.api import Api
from kiosk.web.bus import Bus
from kiosk.web.cases import Cases
from kiosk.web.downloads import Downloads
from kiosk.web.errors import WebError
from kiosk.web.pages import Pages, error_page
from kiosk.web.reader import Reader

log = logging.getLogger("phucvu.web")

STATIC = Path(__file__).resolve().parent / "static"
# The wait's words in JavaScript sit beside their Python (kiosk/waitwords.py);
# the phone page serves the same file.
WAITWORDS_JS = Path(__file__).resolve().parent.parent / "waitwords.js"


def _answer_errors(handler):
    """A refusal as JSON, or for a browser's page request the login form (401) or an error page."""
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except WebError as e:
            wants_page = request.method == "GET" and \
                "text/html" in request.headers.get("accept", "")
            if wants_page and e.status == 401:
                return RedirectResponse("/login", 303)
            if wants_page:
                return Response(error_page(e.status, e.message), e.status,
                                media_type="text/html; charset=utf-8")
            return JSONResponse({"ok": False, "message": e.message}, e.status)
    return run


def build_app(config: SiteConfig, db_path: str | Path, password: str, *,
              mqtt_host: str | None = None, mqtt_port: int | None = None,
              secret: str | None = None) -> Starlette:
    """The ASGI app; the bus connects when the app starts (lifespan)."""
    bus = Bus(config, password, mqtt_host or config.mqtt.host, mqtt_port or config.mqtt.port)
    reader = Reader(db_path)
    pages = Pages(config, bus)
    api = Api(config, bus, reader)
    downloads = Downloads(config, db_path, bus)
    admin = AdminApi(bus, reader)
    cases = Cases(bus, reader)

    @asynccontextmanager
    async def lifespan(app):
        bus.start(asyncio.get_running_loop())
        yield
        bus.stop()

    def route(path: str, handler, methods: list[str] | None = None) -> Route:
        return Route(path, _answer_errors(handler), methods=methods)

    routes = [
        route("/", pages.home),
        route("/login", pages.login),
        route("/console", pages.console),
        route("/dashboard", pages.dashboard),
        route("/admin", pages.admin),
        route("/settings", pages.settings),
        route("/api/login", api.login, ["POST"]),
        route("/api/logout", api.logout, ["POST"]),
        route("/api/state", api.state),
        route("/api/events", api.events),
        route("/api/waiting", api.waiting),
        route("/api/counter/{n:int}/{action}", api.counter, ["POST"]),
        route("/api/overview", api.overview),
        route("/api/chart.png", downloads.chart),
        route("/api/report", downloads.report),
        route("/api/pack", downloads.pack),
        route("/api/cases", cases.listing),
        route("/api/cases/{n:int}", cases.update, ["POST"]),
        route("/api/reprint", api.reprint, ["POST"]),
        route("/api/officials", api.officials),
        route("/api/officials/{action}", api.roster, ["POST"]),
        route("/api/site", admin.site),
        route("/api/config", admin.current),
        route("/api/config/history", admin.history),
        route("/api/config/apply", admin.apply, ["POST"]),
        route("/api/config/restore", admin.restore, ["POST"]),
        route("/api/test/{what}", admin.device_test, ["POST"]),
        Route("/static/waitwords.js",
              lambda request: FileResponse(WAITWORDS_JS, media_type="text/javascript; charset=utf-8")),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                             session_cookie="phucvu_session",
                             max_age=config.web.session_lifetime_s, same_site="strict")]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.bus = bus
    app.state.api = api
    app.state.cases = cases
    return app


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
    feed_asgi(app, f"serving http://{bind_host}:{bind_port}/")
    log.info("web console on http://%s:%s/", bind_host, bind_port)
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning",
                timeout_graceful_shutdown=2)
    return 0
