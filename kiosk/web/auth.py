"""Who is at the browser: the PIN check behind the lockout, the session
cookie's contents, the roles each area needs, and the CSRF token every
change must send back."""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from starlette.requests import Request

from kiosk.config import SiteConfig
from kiosk.core.auth import pin_matches
from kiosk.lockout import Lockout
from kiosk.web.errors import WebError
from kiosk.web.reader import Reader

log = logging.getLogger("phucvu.web")

ROLES_FOR = {"console": ("staff", "head", "admin"), "dashboard": ("head", "admin"),
             "admin": ("admin",),
             # The centre's settings: the head reads them, only an admin changes them.
             "settings": ("head", "admin")}
# Where a role lands after login and when it opens "/".
HOME_FOR = {"staff": "/console", "head": "/dashboard", "admin": "/admin"}


class PinCheck:
    """An official's code and PIN against the roster, with the login lockout."""

    def __init__(self, config: SiteConfig, reader: Reader):
        self.reader = reader
        self.lockout = Lockout(config.web.login_attempts, config.web.lockout_s)

    async def official(self, code: str, pin: str, client: str) -> dict[str, Any]:
        """The roster row of the official whose PIN this is; refused alike for
        an unknown code, a wrong PIN and a deactivated official."""
        keys = (f"code:{code}", f"client:{client}")
        left = self.lockout.locked(*keys)
        if left > 0:
            raise WebError(429, f"Sai mã PIN quá nhiều lần; thử lại sau {int(left) + 1} giây")
        official = await asyncio.to_thread(self.reader.official, code) if code else None
        good = await asyncio.to_thread(pin_matches, official, pin)
        if not good:
            self.lockout.fail(*keys)
            log.warning("web login refused for code %r from %s", code, client)
            raise WebError(401, "Sai mã cán bộ hoặc mã PIN")
        self.lockout.succeed(*keys)
        return official


def need(request: Request, area: str) -> dict[str, Any]:
    """The session of someone logged in whose role may open this area."""
    sess = request.session
    if not sess.get("code"):
        raise WebError(401, "Chưa đăng nhập")
    if sess.get("role") not in ROLES_FOR[area]:
        raise WebError(403, "Tài khoản này không có quyền mở trang này")
    return sess


async def change(request: Request) -> dict[str, Any]:
    """The JSON body of a state-changing request, whose CSRF header must match the session's."""
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


def fresh_session(request: Request) -> None:
    """An empty session with a new CSRF token: at first sight, login and logout."""
    request.session.clear()
    request.session["csrf"] = secrets.token_urlsafe(24)


def me(request: Request) -> dict[str, Any]:
    s = request.session
    return {"code": s.get("code"), "name": s.get("name"), "role": s.get("role"),
            "counter": s.get("counter")}
