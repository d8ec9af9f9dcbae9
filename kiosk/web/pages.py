"""The HTML pages: a template each in templates/, filled in one pass.

A page gets its values all at once, the session's and the site's included;
each ``{{key}}`` hole takes its value escaped, except ``Markup`` built here
from escaped parts.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kiosk.config import SiteConfig
from kiosk.web import auth
from kiosk.web.bus import Bus
from kiosk.web.errors import WebError

TEMPLATES = Path(__file__).resolve().parent / "templates"
_HOLE = re.compile(r"\{\{(\w+)\}\}")


class Markup(str):
    """HTML assembled here from escaped parts, put into a page as it is."""


def render(name: str, values: Mapping[str, str]) -> str:
    """The template with every hole filled; a hole without a value is a bug, so it raises."""
    def fill(hole: re.Match) -> str:
        value = values[hole.group(1)]
        return value if isinstance(value, Markup) else html.escape(value)
    return _HOLE.sub(fill, (TEMPLATES / name).read_text(encoding="utf-8"))


def error_page(status: int, message: str) -> str:
    return (f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>Lỗi {status}</title>'
            f'<link rel="stylesheet" href="/static/app.css"><main class="error">'
            f'<h1>Lỗi {status}</h1><p>{html.escape(message)}</p>'
            f'<p><a href="/login">Đăng nhập</a> · <a href="/">Trang chính</a></p></main></html>')


def site_names(config: SiteConfig) -> dict:
    return {
        "fields": [{"code": f.code, "name": f.name_vi, "prefix": f.prefix} for f in config.fields],
        "counters": [{"number": c.number, "name": c.name, "fields": list(c.fields)}
                     for c in config.counters],
        "priorities": {p.code: p.name_vi for p in config.priority.classes},
        # Every time on a page is shown in the site's zone, whatever the browser's.
        "tz": config.site.timezone,
    }


class Pages:
    def __init__(self, config: SiteConfig, bus: Bus):
        self.bus = bus

    @property
    def config(self) -> SiteConfig:
        # The bus's: the core's config/site replaces it while the web runs.
        return self.bus.config

    def site_json(self) -> str:
        """Names the pages show, handed over in a data attribute (and by /api/site)."""
        return json.dumps(site_names(self.config), ensure_ascii=False)

    def page(self, name: str, request: Request, **values: str) -> Response:
        """A template filled with the session's and the site's values and the page's own;
        the CSRF token goes in a meta tag."""
        sess = request.session
        text = render(name, {
            "csrf": sess.get("csrf", ""), "centre": self.config.site.centre,
            "commune": self.config.site.commune, "name": sess.get("name", ""),
            "code": sess.get("code", ""), "role": sess.get("role", ""),
            "counter": str(sess.get("counter") or ""), "site": self.site_json(), **values})
        return Response(text, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    async def home(self, request: Request) -> Response:
        return RedirectResponse(auth.HOME_FOR.get(request.session.get("role"), "/login"), 303)

    async def login(self, request: Request) -> Response:
        if not request.session.get("csrf"):
            auth.fresh_session(request)
        options = Markup("".join(f'<option value="{c.number}">{html.escape(c.name)}</option>'
                                 for c in self.config.counters))
        return self.page("login.html", request, counters=options)

    async def console(self, request: Request) -> Response:
        sess = auth.need(request, "console")
        if not sess.get("counter"):
            raise WebError(403, "Đăng nhập lại và chọn quầy để mở bàn làm việc")
        return self.page("console.html", request)

    async def dashboard(self, request: Request) -> Response:
        auth.need(request, "dashboard")
        return self.page("dashboard.html", request, today=self.bus.today().isoformat())

    async def admin(self, request: Request) -> Response:
        auth.need(request, "admin")
        return self.page("admin.html", request, mode="edit")

    async def settings(self, request: Request) -> Response:
        """The same pages for the head, read-only (an admin is sent to /admin)."""
        sess = auth.need(request, "settings")
        if sess["role"] == "admin":
            return RedirectResponse("/admin", 303)
        return self.page("admin.html", request, mode="view")
