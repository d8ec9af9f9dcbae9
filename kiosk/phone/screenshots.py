"""The citizen's phone page rendered to PNG at a phone's size (``phucvu screenshots``).

A centre of its own in a temporary folder, as the console's pictures
(kiosk/web/screenshots.py): a real Mosquitto with the site's logins, ``phucvu
core`` on a fresh SQLite file with [phone] on (a copy of the site config,
with the page on a free loopback port and the secret in the folder), and the
page's server in a thread.  A superuser (``shots``) issues tickets and plays
the staff; chromium, at 360×740 as a phone, follows one ticket through the
day: ``phone-waiting``, ``phone-waiting-paused`` (every counter of its
field paused), ``phone-called``, ``phone-finished`` (the rating
buttons), ``phone-reasons`` (not satisfied: why) and ``phone-thanks``.
"""
from __future__ import annotations

import tempfile
import threading
import time
import tomllib
import uuid
from contextlib import ExitStack
from pathlib import Path

import tomli_w

from kiosk import config as site_config
from kiosk.web.screenshots import SHOTS, Client, ScreenshotError, open_browser, start_core

PHONE = (360, 740)
NAMES = ("phone-waiting", "phone-waiting-paused", "phone-called", "phone-finished", "phone-reasons",
         "phone-thanks")


def _site_with_phone(config_path: str, tmp: Path) -> Path:
    from kiosk.broker import free_port
    raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    port = free_port()
    raw["phone"] = {**raw.get("phone", {}), "public_url": f"http://127.0.0.1:{port}",
                    "host": "127.0.0.1", "port": port, "secret_file": str(tmp / "phone.key")}
    path = tmp / "site.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def _start_phone(stack: ExitStack, cfg, broker):
    import uvicorn

    from kiosk.phone import token
    from kiosk.phone.app import build_app
    secret = token.load_or_create(cfg.phone.secret_file)
    app = build_app(cfg, broker.password("phone"), secret, mqtt_host=broker.host, mqtt_port=broker.port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=cfg.phone.port,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def stop() -> None:
        app.state.bus.close_streams()
        server.should_exit = True
        thread.join(10)
    stack.callback(stop)
    deadline = time.monotonic() + 10
    while not (server.started and app.state.bus.connected):
        if time.monotonic() > deadline or not thread.is_alive():
            raise ScreenshotError("the phone page's server did not start")
        time.sleep(0.02)
    return lambda ticket_id: token.address(cfg.phone.public_url, secret, ticket_id)


def _counter(shots: Client, n: int, action: str, **extra) -> None:
    cid = f"shots-{uuid.uuid4().hex[:8]}"
    shots.publish(f"counter/{n}/command", {"command_id": cid, "action": action, **extra})
    reply = shots.wait_for(lambda t, b: t == f"counter/{n}/reply" and isinstance(b, dict)
                           and b.get("command_id") == cid)
    if not reply.get("ok"):
        raise ScreenshotError(f"the core refused {action} at counter {n}: {reply.get('error')}")


def session(page, address, shots: Client, cfg, out: Path) -> None:
    """One citizen's ticket, waiting to thanked."""
    def shoot(name: str, full: bool = False) -> None:
        page.wait_for_timeout(200)
        page.screenshot(path=str(out / f"{name}.png"), full_page=full)

    one = cfg.counters[0]
    field = one.fields[0]
    ids = [shots.command(action="issue", field=field)["ticket"]["ticket_id"] for _ in range(4)]
    mine = ids[-1]
    page.goto(address(mine))
    page.wait_for_selector("#s-waiting:not([hidden]) #wait:not([hidden])")
    shoot("phone-waiting")
    # Every counter of the field paused: no wait is promised ("chờ quầy mở lại").
    serving = [c.number for c in cfg.counters if field in c.fields]
    for n in serving:
        _counter(shots, n, "pause")
    page.wait_for_function("() => document.getElementById('wait').textContent.includes('mở lại')")
    shoot("phone-waiting-paused")
    for n in serving:
        _counter(shots, n, "resume")
    label = mine.partition("-")[2]
    _counter(shots, one.number, "call", number=label)
    page.wait_for_selector("#alert:not([hidden])")
    shoot("phone-called")
    page.click("#alert-ok")
    _counter(shots, one.number, "finish")
    page.wait_for_selector("#s-rate:not([hidden])")
    shoot("phone-finished", full=True)
    unhappy = next(lv for lv in cfg.rating.levels if not lv.satisfied)
    level = cfg.rating.levels.index(unhappy) + 1
    page.click(f"#levels button[data-level='{level}']")
    page.wait_for_selector("#reasons-form:not([hidden])")
    codes = [r.code for r in cfg.rating.reasons]
    for code in codes[:1] + [c for c in codes if c == "khac"]:
        page.check(f"input[value='{code}']")
    if "khac" in codes:
        page.fill("#comment", "Đợi gần 1 tiếng mới được gọi")
    shoot("phone-reasons", full=True)
    page.click("#send")
    page.wait_for_selector("#s-thanks:not([hidden])")
    shoot("phone-thanks")


def main(config_path: str, out: str | Path) -> list[Path]:
    """Render the phone page of ``config_path``'s centre into ``out``; the files written."""
    from kiosk.broker import Broker, BrokerError, users_for
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="phucvu-phone-shots-") as d, ExitStack() as stack:
        tmp = Path(d)
        ctx = open_browser(stack, tmp, viewport={"width": PHONE[0], "height": PHONE[1]},
                           is_mobile=True, has_touch=True)
        path = _site_with_phone(config_path, tmp)
        cfg = site_config.load(path)
        try:
            broker = Broker(tmp / "broker", cfg, users=users_for(cfg), superusers=[SHOTS]).start()
        except BrokerError as e:
            raise ScreenshotError(str(e)) from None
        stack.callback(broker.stop)
        start_core(stack, str(path), tmp, broker)
        shots = Client(broker.host, broker.port, broker.password(SHOTS), cfg.topic_prefix)
        stack.callback(shots.close)
        address = _start_phone(stack, cfg, broker)
        page = ctx.new_page()
        session(page, address, shots, cfg, out)
        page.goto("about:blank")
    return [out / f"{name}.png" for name in NAMES]
