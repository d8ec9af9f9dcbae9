"""The browser pages rendered to PNG in Debian's chromium (``phucvu screenshots``).

The pages only look right with a live centre behind them, so this starts one
of its own in a temporary folder: a real Mosquitto with the site's logins and
ACLs, ``phucvu core`` on a fresh SQLite file with a simulated printer, and the
console (uvicorn in a thread).  A superuser login (``shots``, known only to
this broker) adds the demo roster, issues tickets and plays the counter's
box.  Then chromium, driven by Playwright, logs in as each role and saves
every page at every size in ``SIZES``: ``console``, ``console-login``,
``console-dashboard``, ``console-admin`` and each admin page
(``console-admin-<page>``, one with a wrong value shown next to its input,
one after a save, and the history), as ``<name>-<w>x<h>.png``.

Playwright is a test dependency (``pip install -e '.[test]'``, which
``./run test`` does); without it, or without /usr/bin/chromium,
``ScreenshotError`` says so in one line.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from kiosk import config as site_config
from kiosk import contract

CHROMIUM = Path("/usr/bin/chromium")
SIZES = [(1366, 768), (1920, 1080), (1024, 768)]
# The admin pages, one per tab of /admin (console-admin is its first, the roster).
ADMIN_TABS = ("centre", "fields", "counters-setup", "priority", "rating", "display", "devices")
NAMES = ("console", "console-login", "console-dashboard", "console-admin",
         *(f"console-admin-{t}" for t in ADMIN_TABS), "console-admin-fields-error",
         "console-admin-saved", "console-admin-history")
SHOTS = "shots"                     # the superuser login of this broker only
ROSTER = [("nv01", "Nguyễn Thị Hương", "staff", "1234"),
          ("nv02", "Trần Văn Đức", "staff", "2345"),
          ("ld01", "Lê Minh Tuấn", "head", "5678"),
          ("qt01", "Phạm Thu Hà", "admin", "9012")]


class ScreenshotError(Exception):
    """Why the pages could not be rendered, in one line for a person."""


class Client:
    """A superuser on the bus: send core commands, publish as a device, wait for a message."""

    def __init__(self, host: str, port: int, password: str, prefix: str) -> None:
        self.prefix = prefix
        self.messages: list[tuple[str, Any]] = []
        self.cond = threading.Condition()
        self.client = contract.mqtt_client(SHOTS, username=SHOTS, password=password, prefix=prefix)
        self.client.on_message = self._on_message
        self.client.connect(host, port, 10)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/#", 1)

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = None
        with self.cond:
            self.messages.append((msg.topic.removeprefix(self.prefix + "/"), body))
            self.cond.notify_all()

    def publish(self, topic: str, payload: dict) -> None:
        self.client.publish(f"{self.prefix}/{topic}", json.dumps(payload, ensure_ascii=False),
                            qos=1).wait_for_publish(5)

    def wait_for(self, predicate: Callable[[str, Any], bool], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            seen = 0
            while True:
                for topic, body in self.messages[seen:]:
                    if predicate(topic, body):
                        return body
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ScreenshotError("the centre started for the screenshots did not answer")
                self.cond.wait(left)

    def command(self, **payload: Any) -> dict:
        """A core/command and the core's reply to it; a refusal is an error here."""
        cid = f"shots-{uuid.uuid4().hex[:8]}"
        self.publish("core/command", {"command_id": cid, **payload})
        reply = self.wait_for(lambda t, b: t == "core/reply" and isinstance(b, dict)
                              and b.get("command_id") == cid)
        if not reply.get("ok"):
            raise ScreenshotError(f"the core refused {payload.get('action')}: {reply.get('error')}")
        return reply

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def start_core(stack: ExitStack, config_path: str, tmp: Path, broker) -> None:
    log = open(tmp / "core.log", "wb")
    stack.callback(log.close)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "core", "--config", config_path, "--db", str(tmp / "phucvu.db"),
         "--mqtt-port", str(broker.port), "--mqtt-password-file", str(broker.password_file("core")),
         "--printer", f"sim:{tmp / 'tickets'}"], stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stack.callback(stop)
    deadline = time.monotonic() + 20
    while b"core ready" not in (tmp / "core.log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ScreenshotError(f"the core did not start: {(tmp / 'core.log').read_text()[-300:]}")
        time.sleep(0.05)


def _start_web(stack: ExitStack, cfg, tmp: Path, broker) -> tuple[str, Any]:
    import uvicorn

    from kiosk.broker import free_port
    from kiosk.web.app import build_app
    port = free_port()
    app = build_app(cfg, tmp / "phucvu.db", broker.password("web"), mqtt_host=broker.host,
                    mqtt_port=broker.port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
    stack.callback(stop)
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise ScreenshotError("the console did not start")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", app


def open_browser(stack: ExitStack, tmp: Path, **options):
    """Chromium for the pictures (``options`` go to ``launch``: a phone's viewport…)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ScreenshotError("the browser pages' screenshots need Playwright "
                              "(pip install -e '.[test]', as ./run test does)") from None
    if not CHROMIUM.exists():
        raise ScreenshotError(f"the browser pages' screenshots need Debian's chromium at {CHROMIUM}")
    p = stack.enter_context(sync_playwright())
    ctx = launch(p, tmp / "profile", **options)
    stack.callback(ctx.close)
    return ctx


def launch(playwright, profile: str | Path, *, args: tuple[str, ...] = (), **options):
    """Debian's chromium, headless, quiet (no first run, no updates, no sync);
    ``options`` go to Playwright (``locale``, ``env``, ``viewport``…)."""
    options.setdefault("viewport", {"width": SIZES[0][0], "height": SIZES[0][1]})
    ctx = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              *args], **options)
    ctx.set_default_timeout(15_000)
    return ctx


def login(page, url: str, code: str, pin: str, counter: int | None = None) -> None:
    page.goto(url + "/login")
    page.fill("#code", code)
    page.fill("#pin", pin)
    if counter is not None:
        page.select_option("#counter", str(counter))
    page.click("#submit")


def _shoot(page, out: Path, name: str, sizes) -> None:
    """The page at every size, back at the first afterwards."""
    for w, h in sizes:
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(150)
        page.screenshot(path=str(out / f"{name}-{w}x{h}.png"), full_page=True)
    page.set_viewport_size({"width": sizes[0][0], "height": sizes[0][1]})


def session(page, url: str, shots: Client, cfg, out: Path, sizes=SIZES) -> None:
    """The scripted morning the pictures show: a console mid-service, the
    login page, the head's dashboard with a rating and an imbalance alert,
    the admin page."""
    # Counter 1's fields, so its list and Next have something to show; any
    # site config works, the demo's gives the pictures in docs/console.md.
    one = cfg.counters[0]
    first, last = one.fields[0], one.fields[-1]
    for field in (first, first, last, first):
        shots.command(action="issue", field=field)
    if cfg.priority.classes:
        shots.command(action="issue", field=first, priority=cfg.priority.classes[0].code)
    login(page, url, "nv01", "1234", counter=one.number)
    page.wait_for_url("**/console")
    page.wait_for_selector("#link.ok")
    page.click("#btn-next")
    page.wait_for_function("document.getElementById('current').textContent != '—'")
    page.wait_for_function("document.getElementById('msg').textContent.endsWith('đã gọi')")
    # Finish and call the next: the shot shows the finished ticket's rating
    # line beside the new one.  Then the citizen rates, for the dashboard.
    page.keyboard.press("h")
    page.wait_for_function("document.getElementById('rating').textContent.includes('đánh giá')")
    page.wait_for_function("document.getElementById('msg').textContent == 'Đã hoàn thành'")
    page.keyboard.press("n")
    page.wait_for_function("!['—', ''].includes(document.getElementById('current').textContent)"
                           " && document.getElementById('msg').textContent.endsWith('đã gọi')")
    _shoot(page, out, "console", sizes)
    shots.publish(f"counter/{one.number}/rating", {"rating_id": "shot-1", "level": 1,
                                                   "device": f"box-{one.number}", "boot": 1,
                                                   "device_time_ms": 1000})
    page.click("#logout")
    page.wait_for_url("**/login")
    shots.wait_for(lambda t, b: t == f"counter/{one.number}/state" and isinstance(b, dict)
                   and b.get("official") is None)
    _shoot(page, out, "console-login", sizes)

    shots.command(action="login", official="nv01", counter=one.number)
    if len(cfg.counters) > 1:
        shots.command(action="login", official="nv02", counter=cfg.counters[1].number)
        shots.publish(f"counter/{cfg.counters[1].number}/command", {"command_id": "shot-2", "action": "next"})
    # A long line at a third counter while the others sit idle: the imbalance
    # alert ([web] alert_imbalance_waiting), where the centre has one.
    busy = len(cfg.counters) >= 4
    if busy:
        for _ in range(cfg.web.alert_imbalance_waiting):
            shots.command(action="issue", field=cfg.counters[2].fields[0])
    login(page, url, "ld01", "5678")
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("#link.ok")
    page.wait_for_selector("#chart .bar-row")
    if len(cfg.counters) > 1:
        page.wait_for_function("document.getElementById('counters').textContent.includes('nv02')")
    page.wait_for_function("document.querySelectorAll('#kpi-fields tbody tr').length > 0")
    if busy:
        page.wait_for_selector("#queue-alerts li.alert-imbalance")
    _shoot(page, out, "console-dashboard", sizes)
    page.click("#logout")
    page.wait_for_url("**/login")

    login(page, url, "qt01", "9012")
    page.wait_for_url("**/admin")
    page.wait_for_selector("#roster tr[data-code=nv01]")
    page.wait_for_selector("#counters button")
    _shoot(page, out, "console-admin", sizes)
    admin_pages(page, out, cfg, sizes)


def admin_pages(page, out: Path, cfg, sizes) -> None:
    """Each admin page; a wrong prefix refused next to its input; a saved
    rename with the core's changes lines; the history that lists it."""
    page.wait_for_selector("#fields .item", state="attached")
    for tab in ADMIN_TABS:
        page.click(f"#tabs a[data-tab='{tab}']")
        page.wait_for_selector(f"#tab-{tab}:not(.hidden)")
        if tab == "devices":
            page.click("#print-test")
            page.wait_for_function("document.getElementById('print-msg').textContent.startsWith('Đã in')")
        _shoot(page, out, f"console-admin-{tab}", sizes)
    page.click("#tabs a[data-tab='fields']")
    page.fill("[data-loc='fields[0].prefix']", "ab")
    page.click("#save")
    page.wait_for_selector(".err[data-for='fields[0].prefix']")
    _shoot(page, out, "console-admin-fields-error", sizes)
    page.click("#revert")
    old = cfg.fields[0].name_vi
    page.fill("[data-loc='fields[0].name_vi']", f"{old} (mới)")
    page.click("#tabs a[data-tab='counters-setup']")
    first = cfg.counters[0]
    if len(first.fields) > 1:
        page.click("[data-act='down'][data-at='counters[0].fields[0]']")
    page.click("#save")
    page.wait_for_function("document.getElementById('save-msg').textContent.startsWith('Đã lưu')")
    _shoot(page, out, "console-admin-saved", sizes)
    page.click("#tabs a[data-tab='history']")
    page.wait_for_selector("#history tr[data-version]")
    _shoot(page, out, "console-admin-history", sizes)


def main(config_path: str, out: str | Path, sizes=SIZES) -> list[Path]:
    """Render the browser pages of ``config_path``'s centre into ``out``; the files written."""
    from kiosk.broker import Broker, BrokerError, users_for
    from kiosk.core.auth import hash_pin
    cfg = site_config.load(config_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="phucvu-shots-") as d, ExitStack() as stack:
        tmp = Path(d)
        ctx = open_browser(stack, tmp)
        try:
            broker = Broker(tmp / "broker", cfg, users=users_for(cfg), superusers=[SHOTS]).start()
        except BrokerError as e:
            raise ScreenshotError(str(e)) from None
        stack.callback(broker.stop)
        # The pictures save a change, and the core writes the file it runs:
        # it runs a copy, so the site's own file is never touched.
        copy = tmp / "site.toml"
        copy.write_bytes(Path(config_path).read_bytes())
        start_core(stack, str(copy), tmp, broker)
        shots = Client(broker.host, broker.port, broker.password(SHOTS), cfg.topic_prefix)
        stack.callback(shots.close)
        for code, name, role, pin in ROSTER:
            shots.command(action="official_add", official=code, name=name, role=role, pin_hash=hash_pin(pin))
        url, _app = _start_web(stack, cfg, tmp, broker)
        page = ctx.new_page()
        session(page, url, shots, cfg, out, sizes)
        # Leave the page, so its live stream ends before the console stops
        # (a stream cut by the stop is logged with a traceback).
        page.goto("about:blank")
    return [out / f"{name}-{w}x{h}.png" for name in NAMES for w, h in sizes]
