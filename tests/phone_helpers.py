"""Shared by the phone page's tests: a site with [phone], the page's server
(uvicorn in a thread, login ``phone`` on the test broker), a ticket issued
through the core and the counter driven as staff would, HTTP from a chosen
loopback address, and the core's SQLite file read back."""
from __future__ import annotations

import http.client as httpc
import json
import sqlite3
import threading
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import tomli_w

from kiosk import config
from kiosk.broker import free_port
from kiosk.phone import token
from tests.conftest import DEMO_SITE


def write_site(tmp: Path, **phone: Any) -> Path:
    """The demo site with a [phone] section whose secret lives in ``tmp``;
    written where CoreProcess looks (``tmp/site.toml``), so the core runs it too."""
    raw = tomllib.loads(DEMO_SITE.read_text(encoding="utf-8"))
    port = free_port()
    raw["phone"] = {"public_url": f"http://127.0.0.1:{port}", "host": "127.0.0.1", "port": port,
                    "secret_file": str(tmp / "phone.key"), **phone}
    path = tmp / "site.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


class PhoneServer:
    """``kiosk.phone.app`` served by uvicorn in a thread, as ``phucvu phone`` serves it."""

    def __init__(self, site, broker, host: str = "127.0.0.1"):
        import uvicorn

        from kiosk.phone.app import build_app
        self.site = site
        self.secret = token.load_or_create(site.phone.secret_file)
        self.port = site.phone.port
        self.app = build_app(site, broker.password("phone"), self.secret, mqtt_host=broker.host,
                             mqtt_port=broker.port)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=host, port=self.port,
                                                    log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not (self.server.started and self.app.state.bus.connected):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("phone server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def address(self, ticket_id: str) -> str:
        return token.address(self.url, self.secret, ticket_id)

    def path(self, ticket_id: str) -> str:
        return f"/t/{ticket_id}/{token.make(self.secret, ticket_id)}"

    def stop(self) -> None:
        self.app.state.bus.close_streams()
        self.server.should_exit = True
        self.thread.join(10)


def http(port: int, method: str, path: str, body: Any = None, source: str = "127.0.0.1",
         timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One request from ``source`` (any 127.x.y.z: Linux routes the whole
    loopback block, so each stands for another phone)."""
    conn = httpc.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0))
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    conn.request(method, path, body=data,
                 headers={"content-type": "application/json"} if data is not None else {})
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def core_command(tester, payload: dict) -> dict:
    """A core/command and the core's reply (the tester is a superuser)."""
    cid = f"test-{uuid.uuid4().hex[:8]}"
    if not any(s.endswith("/core/reply") for s in tester.subscriptions):
        tester.subscribe("core/reply")
        time.sleep(0.1)
    tester.publish("core/command", {"command_id": cid, **payload})
    return tester.wait_for(lambda t, b: t == "core/reply" and b and b.get("command_id") == cid)


def counter(tester, n: int, action: str, **extra: Any) -> dict:
    """A counter key as the console sends it, and the core's reply."""
    cid = f"test-{uuid.uuid4().hex[:8]}"
    topic = f"counter/{n}/reply"
    if not any(s.endswith(topic) for s in tester.subscriptions):
        tester.subscribe(topic)
        time.sleep(0.1)
    tester.publish(f"counter/{n}/command", {"command_id": cid, "action": action, **extra})
    reply = tester.wait_for(lambda t, b: t == topic and b and b.get("command_id") == cid)
    assert reply.get("ok"), reply
    return reply


def issue(tester, field: str) -> str:
    """A ticket of ``field``; its id."""
    reply = core_command(tester, {"action": "issue", "field": field})
    assert reply["ok"], reply
    t = reply.get("ticket") or reply
    return t["ticket_id"] if "ticket_id" in t else t["id"]


def wait_state(server: PhoneServer, ticket_id: str, pred, timeout: float = 10.0) -> dict:
    """The page's state of ``ticket_id`` once ``pred`` holds (what the server serves)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = http(server.port, "GET", server.path(ticket_id) + "/state")
        state = json.loads(body)
        if status == 200 and pred(state):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"state of {ticket_id}: {state}")
        time.sleep(0.1)


def ratings(db: Path) -> list[dict]:
    """The core's rating rows, read from its SQLite file (read only)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM ratings ORDER BY rowid")]
    finally:
        con.close()
