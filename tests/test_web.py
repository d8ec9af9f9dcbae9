"""The browser console, dashboard and admin pages, in a real Chromium.

Real parts: Mosquitto, the ``phucvu core`` process and its SQLite file, the
web server (uvicorn in a thread, user ``web`` on the bus), Debian's chromium
driven by Playwright.  A display-1 subscriber checks that a click reaches the
wall display's snapshot.
"""
from __future__ import annotations

import io
import os
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from kiosk.core.auth import hash_pin
from kiosk.web.screenshots import CHROMIUM, ROSTER, launch, login  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
# The suite writes its screenshots to a temporary folder, so a test run never
# changes tracked files; PHUCVU_UPDATE_IMAGES=1 ./run test -k screenshots
# refreshes docs/images.
IMAGES = ROOT / "docs" / "images" if os.environ.get("PHUCVU_UPDATE_IMAGES") else \
    Path(tempfile.mkdtemp(prefix="phucvu-console-shots-"))

# No skip when chromium is missing: ./run installs it, and a browser test
# that silently skips proves nothing.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    def __init__(self, site, broker, db):
        import uvicorn

        from kiosk.web.app import build_app
        self.port = free_port()
        self.app = build_app(site, db, broker.password("web"), mqtt_host=broker.host,
                             mqtt_port=broker.port)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("web server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


def core_command(bus, payload: dict) -> dict:
    """Send a core/command as user core and return the core's reply to it."""
    cid = f"test-{uuid.uuid4().hex[:8]}"
    if "core/reply" not in " ".join(bus.subscriptions):
        bus.subscribe("core/reply")
        time.sleep(0.1)
    bus.publish("core/command", {"command_id": cid, **payload})
    return bus.wait_for(lambda t, b: t == "core/reply" and b and b.get("command_id") == cid)


@pytest.fixture
def web(site, broker, core, bus):
    admin = bus("tester")
    for code, name, role, pin in ROSTER:
        r = core_command(admin, {"action": "official_add", "official": code, "name": name,
                                 "role": role, "pin_hash": hash_pin(pin)})
        assert r["ok"], r
    w = WebServer(site, broker, core.db)
    w.admin = admin
    yield w
    w.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = launch(p, profile, accept_downloads=True)
        ctx.set_default_timeout(10_000)
        yield ctx
        ctx.close()


def signed_in(browser, web, code: str, counter: int | None = None):
    """A new page logged in as ``code`` (a ROSTER login), on its start page with the live link up."""
    pin = next(p for c, _, _, p in ROSTER if c == code)
    page = browser.new_page()
    login(page, web.url, code, pin, counter=counter)
    page.wait_for_url("**/console" if counter is not None else "**/" + {
        "head": "dashboard", "admin": "admin"}[next(r for c, _, r, _ in ROSTER if c == code)])
    page.wait_for_selector("#link.ok")
    return page


def test_next_changes_the_page_and_the_display(web, browser, bus):
    display = bus("display-1")
    display.subscribe("display/snapshot")
    for _ in range(2):
        assert core_command(web.admin, {"action": "issue", "field": "tu-phap"})["ok"]
    page = signed_in(browser, web, "nv01", counter=1)
    assert page.text_content("#current") == "—"
    page.wait_for_function("document.querySelectorAll('#waiting-list li b').length == 2")

    page.click("#btn-next")
    page.wait_for_function("document.getElementById('current').textContent == 'A001'")
    snap = display.wait_for(lambda t, b: t == "display/snapshot" and any(
        c["number"] == 1 and c["current"] == "A001" for c in b["counters"]))
    # The console logged nv01 in at counter 1, so the call is attributed to nv01.
    assert [c["official"] for c in snap["counters"] if c["number"] == 1] == ["nv01"]
    assert "Tư pháp – Hộ tịch" in page.text_content("#current-field")
    page.wait_for_function("[...document.querySelectorAll('#waiting-list li b')].map(b => b.textContent)"
                           ".join() == 'A002'")

    # Keyboard: N calls the next one, H finishes it, N again finds nobody.
    page.keyboard.press("n")
    page.wait_for_function("document.getElementById('current').textContent == 'A002'")
    display.wait_for(lambda t, b: t == "display/snapshot" and any(
        c["number"] == 1 and c["current"] == "A002" for c in b["counters"]))
    # A press while a command is in flight is dropped on purpose (no double
    # Next), so each step waits for the previous reply's message.
    page.wait_for_function("document.getElementById('msg').textContent == 'A002: đã gọi'")
    page.keyboard.press("h")
    page.wait_for_function("document.getElementById('current').textContent == '—'")
    page.wait_for_function("document.getElementById('msg').textContent == 'Đã hoàn thành'")
    page.keyboard.press("n")
    page.wait_for_function("document.getElementById('msg').textContent.includes('Không còn ai chờ')")

    # Pause with P: the badge follows the retained counter state.
    page.keyboard.press("p")
    page.wait_for_function("document.getElementById('status').textContent == 'Tạm nghỉ'")
    page.wait_for_function("document.getElementById('msg').textContent == 'Đã tạm nghỉ'")
    page.keyboard.press("p")
    page.wait_for_function("document.getElementById('status').textContent == 'Đang mở'")


def test_call_a_number_and_transfer(web, browser, bus):
    watcher = bus("tester")
    watcher.subscribe("counter/+/state")
    for _ in range(3):
        assert core_command(web.admin, {"action": "issue", "field": "chung-thuc"})["ok"]
    page = signed_in(browser, web, "nv02", counter=2)
    page.keyboard.press("g")
    page.keyboard.type("b003")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('current').textContent == 'B003'")
    page.wait_for_function("document.getElementById('msg').textContent == 'B003: đã gọi'")
    page.keyboard.press("t")
    page.select_option("#transfer-to", "counter:1")
    page.click("#transfer-form button[type=submit]")
    page.wait_for_function("document.getElementById('current').textContent == '—'")
    watcher.wait_for(lambda t, b: t == "counter/1/state" and b["waiting"] >= 1)

    page.fill("#call-number", "xyz")
    page.click("#call-form button[type=submit]")
    assert "ví dụ B023" in page.text_content("#msg")


def test_wrong_pin_refused_then_locked_out(web, browser, site):
    page = browser.new_page()
    login(page, web.url, "nv01", "0000", counter=1)
    page.wait_for_function("document.getElementById('msg').textContent.includes('Sai mã')")
    assert page.url.endswith("/login")
    assert browser.request.get(web.url + "/api/state").status == 401
    # A page asked for by a browser goes to the login form instead.
    page.goto(web.url + "/console")
    assert page.url.endswith("/login")

    # The rest of the failures through the same browser session, then the
    # right PIN is refused too until the lockout ends.
    csrf = page.get_attribute('meta[name="csrf"]', "content")
    api = browser.request
    for _ in range(site.web.login_attempts - 1):
        r = api.post(web.url + "/api/login", data={"code": "nv01", "pin": "9999", "counter": 1},
                     headers={"X-CSRF-Token": csrf})
        assert r.status == 401
    r = api.post(web.url + "/api/login", data={"code": "nv01", "pin": "1234", "counter": 1},
                 headers={"X-CSRF-Token": csrf})
    assert r.status == 429
    assert "thử lại sau" in r.json()["message"]
    # An unknown code is refused the same way as a wrong PIN (no roster probing).
    other = browser.request.post(web.url + "/api/login", data={"code": "ai-do", "pin": "1234"},
                                 headers={"X-CSRF-Token": csrf})
    assert other.status in (401, 429)


def test_roles_and_csrf(web, browser):
    page = browser.new_page()
    login(page, web.url, "nv01", "1234", counter=1)
    page.wait_for_url("**/console")
    assert page.goto(web.url + "/admin").status == 403
    assert "không có quyền" in page.text_content("body")
    assert page.goto(web.url + "/dashboard").status == 403
    assert browser.request.get(web.url + "/api/officials").status == 403
    # Staff drive only their own counter.
    page.goto(web.url + "/console")
    csrf = page.get_attribute('meta[name="csrf"]', "content")
    r = browser.request.post(web.url + "/api/counter/2/pause", data={},
                             headers={"X-CSRF-Token": csrf})
    assert r.status == 403
    # A POST without the CSRF token changes nothing.
    assert core_command(web.admin, {"action": "issue", "field": "tu-phap"})["ok"]
    r = browser.request.post(web.url + "/api/counter/1/next", data={})
    assert r.status == 403
    r = browser.request.post(web.url + "/api/counter/1/next", data={},
                             headers={"X-CSRF-Token": "forged"})
    assert r.status == 403
    # Bad input gets a specific answer, and nothing reaches the core.
    r = browser.request.post(web.url + "/api/counter/1/transfer", data={"to_counter": "abc"},
                             headers={"X-CSRF-Token": csrf})
    assert r.status == 400 and "phải là một số" in r.json()["message"]
    r = browser.request.post(web.url + "/api/counter/1/call", data={"number": "12345"},
                             headers={"X-CSRF-Token": csrf})
    assert r.status == 409 and r.json()["reply"]["error"]["code"] == "bad_payload"
    assert browser.request.get(web.url + "/api/waiting?counter=x").status == 404
    # Had a forged press gone through, A001 would be taken and this would call nobody.
    r = browser.request.post(web.url + "/api/counter/1/next", data={},
                             headers={"X-CSRF-Token": csrf})
    assert r.status == 200 and r.json()["reply"]["ticket"]["label"] == "A001"


def test_dashboard_chart_downloads_and_reprint(web, browser, bus, tmp_path):
    import openpyxl
    from PIL import Image
    admin = web.admin
    assert core_command(admin, {"action": "login", "official": "nv01", "counter": 1})["ok"]
    for _ in range(2):
        assert core_command(admin, {"action": "issue", "field": "tu-phap"})["ok"]
    box = bus("tester")
    box.subscribe("counter/1/reply", "event/rating")
    box.publish("counter/1/command", {"command_id": "t-1", "action": "next"})
    box.wait_for(lambda t, b: t == "counter/1/reply" and b["command_id"] == "t-1")
    box.publish("counter/1/command", {"command_id": "t-2", "action": "finish"})
    box.wait_for(lambda t, b: t == "counter/1/reply" and b["command_id"] == "t-2")
    box.publish("counter/1/rating", {"rating_id": "t-r1", "level": 1, "device": "box-1", "boot": 1, "device_time_ms": 1000})
    box.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "t-r1")
    box.publish("counter/1/rating", {"rating_id": "t-r2", "level": 1, "device": "box-1", "boot": 1, "device_time_ms": 1000})
    box.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "t-r2")

    page = signed_in(browser, web, "ld01")
    page.wait_for_selector("#chart .bar-row")
    page.wait_for_function("document.getElementById('anomalies').textContent == '1'")
    page.wait_for_function(
        "[...document.querySelectorAll('#counters td')].some(td => td.textContent == 'nv01')")
    chart = browser.request.get(web.url + "/api/chart.png")
    img = Image.open(io.BytesIO(chart.body()))
    assert img.format == "PNG" and img.width > 300

    with page.expect_download() as dl:
        page.click("#dl-xlsx")
    path = tmp_path / "r.xlsx"
    dl.value.save_as(path)
    wb = openpyxl.load_workbook(path)
    assert len(wb.sheetnames) >= 3
    cells = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value]
    assert any("Nguyễn Thị Hương" in c for c in cells)

    with page.expect_download() as dl:
        page.click("#dl-csv")
    csv_path = tmp_path / "r.csv"
    dl.value.save_as(csv_path)
    text = csv_path.read_text(encoding="utf-8-sig")
    assert "Nguyễn Thị Hương" in text

    bad = browser.request.get(web.url + "/api/report?fmt=pdf")
    assert bad.status == 400 and "xlsx hoặc csv" in bad.json()["message"]
    bad = browser.request.get(web.url + "/api/report?from=2026-13-01")
    assert bad.status == 400

    # Reprint: a printed ticket needs the force box.
    page.fill("#reprint-ticket", "A002")
    page.click("#reprint button[type=submit]")
    page.wait_for_function("document.getElementById('reprint-msg').textContent.includes('In lại dù đã in')")
    page.check("#reprint-force")
    page.click("#reprint button[type=submit]")
    page.wait_for_function("document.getElementById('reprint-msg').textContent.includes('Đã gửi lệnh in lại phiếu A002')")
    assert browser.request.get(web.url + "/admin").status == 403


def test_dashboard_shows_device_offline_and_paper_out(web, browser, bus, broker):
    page = signed_in(browser, web, "ld01")
    # A display that dies: the broker publishes its last will when the
    # process is killed (a real client, mosquitto_sub, with a real will).
    import json
    import subprocess
    topic = f"{web.app.state.bus.prefix}/presence/display-1"
    online = bus("display-1")
    online.publish("presence/display-1", {"device": "display-1", "status": "online"}, retain=True)
    # One connection per login: mosquitto_sub below must be display-1's only one.
    online.close()
    page.wait_for_function("document.getElementById('devices').textContent.includes('display-1: trực tuyến')")
    sub = subprocess.Popen(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port),
                            "-u", "display-1", "-P", broker.password("display-1"),
                            "-t", topic, "--will-topic", topic, "--will-retain", "--will-qos", "1",
                            "--will-payload", json.dumps({"device": "display-1", "status": "offline"}),
                            ], stdout=subprocess.PIPE)
    sub.stdout.readline()      # connected: it received the retained online message
    sub.kill()
    sub.wait()
    page.wait_for_function("document.getElementById('devices').textContent.includes('display-1: MẤT KẾT NỐI')")
    core = bus("tester")
    core.publish("printer/status", {"state": "paper_out", "detail": "no paper", "at": time.time()},
                 retain=True)
    core.publish("event/alert", {"alert_id": "t-1", "kind": "printer", "severity": "error",
                                 "message": "Máy in hết giấy: phiếu A013 chưa in được",
                                 "at": time.time()})
    page.wait_for_function("document.getElementById('printer').textContent == 'Máy in hết giấy'")
    page.wait_for_function("document.getElementById('alerts').textContent.includes('phiếu A013')")


def test_admin_roster_and_pause(web, browser, bus):
    watcher = bus("tester")
    watcher.subscribe("counter/2/state")
    page = browser.new_page()
    login(page, web.url, "qt01", "9012")
    page.wait_for_url("**/admin")
    page.wait_for_selector("#roster tr[data-code=nv01]")
    page.fill("#add-code", "nv09")
    page.fill("#add-name", "Hoàng Văn Bình")
    page.select_option("#add-role", "staff")
    page.fill("#add-pin", "12")
    page.click("#add button[type=submit]")
    page.wait_for_function("document.getElementById('msg').textContent.includes('4 đến 12 chữ số')")
    page.fill("#add-pin", "4321")
    page.click("#add button[type=submit]")
    page.wait_for_selector("#roster tr[data-code=nv09]")
    assert "Hoàng Văn Bình" in page.text_content("#roster")
    page.click("#counters button[data-n='2']")
    watcher.wait_for(lambda t, b: t == "counter/2/state" and b["status"] == "paused")
    page.wait_for_selector("#counters button[data-n='2'][data-action=resume]")
    # Lock nv09 out, then the new official cannot log in.
    page.click("#roster tr[data-code=nv09] .toggle")
    page.wait_for_selector("#roster tr[data-code=nv09] .toggle[data-active='1']")
    browser.clear_cookies()
    p2 = browser.new_page()
    login(p2, web.url, "nv09", "4321", counter=3)
    p2.wait_for_function("document.getElementById('msg').textContent.includes('Sai mã')")


# The counter PC (1366×768), a full-HD monitor and an older 1024×768 laptop.
def test_the_waiting_list_is_in_the_order_next_calls(web, browser):
    for field in ("tu-phap", "tu-phap", "chung-thuc", "dat-dai", "tu-phap"):
        assert core_command(web.admin, {"action": "issue", "field": field})["ok"]
    assert core_command(web.admin, {"action": "issue", "field": "tu-phap", "priority": "cao-tuoi"})["ok"]
    page = signed_in(browser, web, "nv01", counter=1)
    page.click("#btn-next")
    page.wait_for_function("document.getElementById('current').textContent != '—'")
    # The list is re-read after the call: the ticket served is no longer in it.
    # It is in the order Next calls: counter 1 serves tu-phap before
    # chung-thuc, so A003 comes before B001 although B001 was issued first
    # (the console used to list plain issue order and show B001 third).
    page.wait_for_function("[...document.querySelectorAll('#waiting-list li b')].map(b => b.textContent)"
                           ".join() == 'A001,A002,A003,B001'")


def test_screenshots(tmp_path):
    """``phucvu screenshots``' browser part: its own centre, every page.

    A test run takes the narrowest pictured size only (each size is a full
    round of some 15 pages) and a phone's 360x740, which is not pictured: the
    head may read the dashboard on a phone away from the centre, so no page
    may scroll sideways there (app.css, under 700 px).  PHUCVU_UPDATE_IMAGES=1
    makes every pictured size, as the command does."""
    from PIL import Image

    from kiosk.web import screenshots
    IMAGES.mkdir(parents=True, exist_ok=True)
    sizes = screenshots.SIZES if os.environ.get("PHUCVU_UPDATE_IMAGES") else [(1024, 768), (360, 740)]
    made = screenshots.main(str(ROOT / "deploy" / "demo-site.toml"), IMAGES, sizes)
    assert len(made) == len(screenshots.NAMES) * len(sizes)
    wide = []
    for path in made:
        w, h = (int(v) for v in path.stem.rsplit("-", 1)[1].split("x"))
        with Image.open(path) as im:
            # Full-page shots: the viewport's width (wider: the page scrolls
            # sideways), at least its height.
            if im.width != w:
                wide.append(f"{path.name}: {im.width} px")
            assert im.height >= h, path
            shades = sum(1 for n in im.convert("L").histogram() if n)
            assert shades > 50, f"{path} is nearly blank ({shades} shades of grey)"
    assert not wide, "pages wider than their window:\n" + "\n".join(wide)


def test_a_retried_console_press_calls_one_citizen(web, browser):
    """The browser retries a press with the same request_id; the core acts on it once."""
    page = browser.new_page()
    login(page, web.url, "nv01", "1234", counter=1)
    page.wait_for_url("**/console")
    csrf = page.get_attribute('meta[name="csrf"]', "content")
    for _ in range(3):
        assert core_command(web.admin, {"action": "issue", "field": "tu-phap"})["ok"]
    body = {"request_id": "0123456789abcdef0123456789abcdef"}
    first = browser.request.post(web.url + "/api/counter/1/next", data=body,
                                 headers={"X-CSRF-Token": csrf})
    again = browser.request.post(web.url + "/api/counter/1/next", data=body,
                                 headers={"X-CSRF-Token": csrf})
    assert first.status == again.status == 200
    assert first.json()["reply"]["ticket"]["label"] == again.json()["reply"]["ticket"]["label"] == "A001"
    fresh = browser.request.post(web.url + "/api/counter/1/next", data={"request_id": "f" * 32},
                                 headers={"X-CSRF-Token": csrf})
    assert fresh.json()["reply"]["ticket"]["label"] == "A002"
