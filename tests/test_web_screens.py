"""The console and dashboard as a Vietnamese centre reads them, in a real
Chromium whose own zone and language are NOT the site's: times in the
site's zone, dates as dd/mm/yyyy, errors in red, the rating line naming the
ticket it is about, the dashboard's alerts, wait/service percentiles and
satisfaction bars.  Real Mosquitto, core process, SQLite and web server
(the fixtures of tests/test_web.py).
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import tempfile
import time

import pytest

from kiosk.web import figures
from tests.test_web import ROSTER, WebServer, core_command, launch, login, signed_in  # noqa: F401
from kiosk.core.auth import hash_pin

# The browser's own zone and language, far from the site's (Asia/Ho_Chi_Minh, UTC+7).
BROWSER_TZ = "America/Los_Angeles"
RED = "rgb(179, 38, 30)"          # --bad in app.css


@pytest.fixture
def foreign_browser():
    """Chromium in Los Angeles time with an English UI: what a borrowed PC may be."""
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = launch(p, profile, env={"TZ": BROWSER_TZ}, locale="en-US", args=("--lang=en-US",))
        ctx.set_default_timeout(10_000)
        yield ctx
        ctx.close()


def start_web(site, broker, core, bus, **web_keys):
    admin = bus("tester")
    for code, name, role, pin in ROSTER:
        assert core_command(admin, {"action": "official_add", "official": code, "name": name,
                                    "role": role, "pin_hash": hash_pin(pin)})["ok"]
    if web_keys:
        site = site.model_copy(update={"web": site.web.model_copy(update=web_keys)})
        # The web follows the core's config/site, its [web] section included:
        # the core must run these thresholds too, so they go through config_apply.
        admin.subscribe("config/site")
        base = admin.wait_for(lambda t, b: t == "config/site")["hash"]
        r = core_command(admin, {"action": "config_apply", "by": "test", "base": base,
                                 "config": site.model_dump(mode="json")})
        assert r["ok"], r
    w = WebServer(site, broker, core.db)
    w.admin = admin
    return w


@pytest.fixture
def web(site, broker, core, bus):
    w = start_web(site, broker, core, bus)
    yield w
    w.stop()


def site_hhmm(site, epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, site.tz).strftime("%H:%M")


def test_the_browser_really_is_elsewhere(web, foreign_browser):
    """Guards the tests below: were the browser in the site's zone they could not fail."""
    page = foreign_browser.new_page()
    page.goto(web.url + "/login")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_TZ
    assert page.evaluate("new Date(0).getTimezoneOffset()") == 480
    assert page.evaluate("navigator.language") == "en-US"


def test_wrong_pin_is_shown_in_red(web, foreign_browser):
    page = foreign_browser.new_page()
    login(page, web.url, "nv01", "0000", counter=1)
    page.wait_for_function("document.getElementById('msg').textContent.includes('Sai mã')")
    assert page.eval_on_selector("#msg", "e => getComputedStyle(e).color") == RED
    # A console refusal is red too; a success is not.
    login(page, web.url, "nv01", "1234", counter=1)
    page.wait_for_url("**/console")
    page.wait_for_selector("#link.ok")
    page.click("#btn-next")
    page.wait_for_function("document.getElementById('msg').textContent.includes('Không còn ai chờ')")
    assert page.eval_on_selector("#msg", "e => getComputedStyle(e).color") == RED


def test_console_times_in_site_zone_and_rating_line_names_previous_ticket(web, foreign_browser, bus, site):
    watcher = bus("tester")
    watcher.subscribe("counter/1/state")
    for _ in range(2):
        assert core_command(web.admin, {"action": "issue", "field": "tu-phap"})["ok"]
    page = signed_in(foreign_browser, web, "nv01", counter=1)
    page.wait_for_function("document.querySelectorAll('#waiting-list li time').length == 2")
    issued = [t for t in page.eval_on_selector_all("#waiting-list li time", "ts => ts.map(t => t.textContent)")]
    page.click("#btn-next")
    state = watcher.wait_for(lambda t, b: t == "counter/1/state" and b["current"]
                             and b["current"]["label"] == "A001")
    called = site_hhmm(site, state["current"]["called_at"])
    page.wait_for_function("document.getElementById('current-field').textContent.includes('gọi lúc')")
    assert page.text_content("#current-field").endswith(f"gọi lúc {called}")
    # The browser's own clock says otherwise (7 or 8 hours behind the site's... a different day hour).
    browser_hhmm = page.evaluate(
        f"new Date({state['current']['called_at']} * 1000).toTimeString().slice(0, 5)")
    assert browser_hhmm != called
    # Issue times in the waiting list are in the site's zone as well.
    with sqlite3.connect(f"file:{web.app.state.api.reader.db_path}?mode=ro", uri=True) as c:
        stamps = [r[0] for r in c.execute("SELECT issued_at FROM tickets ORDER BY seq")]
    assert issued == [site_hhmm(site, t) for t in stamps]

    page.wait_for_function("document.getElementById('msg').textContent == 'A001: đã gọi'")
    page.click("#btn-finish")
    done = watcher.wait_for(lambda t, b: t == "counter/1/state" and b["rating_window"])
    until = site_hhmm(site, done["rating_window"]["until"])
    page.wait_for_function("document.getElementById('rating').textContent.includes('A001')")
    assert page.text_content("#rating") == \
        f"Phiếu vừa xong A001: đang chờ công dân đánh giá đến {until}"
    page.wait_for_function("document.getElementById('msg').textContent == 'Đã hoàn thành'")
    page.click("#btn-next")
    page.wait_for_function("document.getElementById('current').textContent == 'A002'")
    # Under the new ticket the line still names the finished one, and it is
    # not inside the block that shows the ticket now served.
    assert page.text_content("#rating").startswith("Phiếu vừa xong A001:")
    assert page.is_visible("#rating")
    assert page.evaluate("document.getElementById('current-field').contains(document.getElementById('rating'))") is False


def test_dashboard_dates_are_dd_mm_yyyy(web, foreign_browser, site):
    page = foreign_browser.new_page()
    login(page, web.url, "ld01", "5678")
    page.wait_for_url("**/dashboard")
    today = dt.datetime.now(site.tz).date()
    vi = today.strftime("%d/%m/%Y")
    assert page.input_value("#from") == vi and page.input_value("#to") == vi
    assert page.text_content("#today") == vi
    assert page.get_attribute("#dl-csv", "href").endswith(
        f"from={today.isoformat()}&to={today.isoformat()}&by=official")
    page.fill("#from", "5/3/2026")
    assert "from=2026-03-05&" in page.get_attribute("#dl-csv", "href")
    # 02/05 is the 2nd of May, never February 5th.
    page.fill("#from", "02/05/2026")
    assert "from=2026-05-02&" in page.get_attribute("#dl-csv", "href")
    page.fill("#to", "31/02/2026")
    assert page.get_attribute("#dl-csv", "href") is None
    assert "ngày/tháng/năm" in page.text_content("#report-msg")
    assert page.eval_on_selector("#report-msg", "e => getComputedStyle(e).color") == RED
    page.fill("#to", "28/02/2027")
    assert page.get_attribute("#dl-csv", "href").endswith("to=2027-02-28&by=official")
    assert page.text_content("#report-msg") == ""


def test_percentiles_of_a_known_set():
    """Nearest rank: the p-th value a ticket really took."""
    assert figures.percentile([], 0.5) is None
    waits = [600, 60, 540, 120, 480, 180, 420, 240, 360, 300]      # 1..10 minutes, shuffled
    assert figures.percentile(waits, 0.5) == 300
    assert figures.percentile(waits, 0.9) == 540
    assert figures.percentile([42], 0.9) == 42


def _states(**counters) -> dict:
    """Retained counter states: n=(status, current label or None, waiting)."""
    return {f"counter/{n[1:]}/state": {"status": st, "current": {"label": cur} if cur else None,
                                        "waiting": w}
            for n, (st, cur, w) in counters.items()}


def test_alert_rules_at_their_thresholds(site):
    site = site.model_copy(update={"web": site.web.model_copy(
        update={"alert_imbalance_waiting": 15})})
    busy = _states(c1=("open", "A001", 15), c2=("open", None, 0), c3=("open", None, 0),
                   c4=("open", None, 0))
    got = figures.alerts(site, busy, {}, 1000.0)
    assert [(a["kind"], a["counter"], a["idle"]) for a in got] == [("imbalance", 1, [2, 3, 4])]
    # One fewer waiting, or nobody idle (serving or paused): no imbalance.
    assert figures.alerts(site, _states(c1=("open", "A001", 14), c2=("open", None, 0)), {}, 1000.0) == []
    assert figures.alerts(site, _states(c1=("open", "A001", 20), c2=("open", "B001", 0),
                                        c3=("paused", None, 0), c4=("closed", None, 0)), {}, 1000.0) == []
    # The wait target: 29 min 59 s is under it, 30 min is at it.
    now = 100_000.0
    assert figures.alerts(site, {}, {"tu-phap": now - 1799}, now) == []
    at = figures.alerts(site, {}, {"tu-phap": now - 1800, "dat-dai": now - 60}, now)
    assert [(a["kind"], a["field"], a["minutes"]) for a in at] == [("wait", "tu-phap", 30)]
    assert at[0]["message"] == "Tư pháp – Hộ tịch: có người đã chờ 30 phút (mục tiêu 30 phút)"


def test_alert_rules_per_field_targets(site):
    """[targets.fields.<code>] wait_min: each field's alert at its own target,
    named in its message; a field without one keeps the site's (30)."""
    from kiosk.config.centre import FieldTarget
    targets = site.targets.model_copy(update={"fields": {
        "dat-dai": FieldTarget(wait_min=20), "tu-phap": FieldTarget(wait_min=12.5)}})
    site = site.model_copy(update={"targets": targets})
    other = "chung-thuc"
    assert [site.wait_target_min(c) for c in ("tu-phap", "dat-dai", other)] == [12.5, 20, 30]
    now = 100_000.0
    # 12 min 29 s, 19 min 59 s, 29 min 59 s: each under its own target.
    assert figures.alerts(site, {}, {"tu-phap": now - 749, "dat-dai": now - 1199,
                                     other: now - 1799}, now) == []
    # 12 min 30 s is at tu-phap's 12.5, 20 min at dat-dai's 20; 29 min 59 s
    # is still under the site's 30 for the third field.
    at = figures.alerts(site, {}, {"tu-phap": now - 750, "dat-dai": now - 1200,
                                   other: now - 1799}, now)
    assert [a["message"] for a in at] == [
        "Tư pháp – Hộ tịch: có người đã chờ 12 phút (mục tiêu 12,5 phút)",
        "Đất đai – Xây dựng: có người đã chờ 20 phút (mục tiêu 20 phút)"]
    at = figures.alerts(site, {}, {other: now - 1800}, now)
    assert [(a["field"], a["target_min"]) for a in at] == [(other, 30)]
    assert at[0]["message"].endswith("(mục tiêu 30 phút)")


def test_satisfaction_rows_only_for_presses(site):
    names = {"nv01": "Nguyễn Thị Hương"}
    levels = [lv.code for lv in site.rating.levels]
    sat = figures.satisfaction(site, [("nv01", levels[0], 3), ("nv01", levels[-1], 1)], names)
    assert [(b["name"], b["total"]) for b in sat["bars"]] == [("Nguyễn Thị Hương", 4)]
    sat = figures.satisfaction(site, [("nv01", levels[0], 2), (None, levels[0], 1)], names)
    assert [b["name"] for b in sat["bars"]] == ["Nguyễn Thị Hương", "Không xác định"]
    assert figures.satisfaction(site, [], names)["bars"] == []


def _rows_of_day(db) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT field, counter, issued_at, first_called_at, finished_at, "
                         "called_at, state FROM tickets").fetchall()


def _expected(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile computed again, independently, for the check."""
    if not values:
        return None
    values = sorted(values)
    k = 0
    while (k + 1) / len(values) < q:
        k += 1
    return values[k]


def _mmss(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 600:
        return f"{int(s // 60)}:{round(s % 60):02d}"
    return f"{round(s / 60)} ph"


def test_dashboard_kpis_alerts_and_chart(site, broker, core, bus, foreign_browser):
    w = start_web(site, broker, core, bus, alert_imbalance_waiting=3)
    try:
        _dashboard_checks(w, site, core, bus, foreign_browser)
    finally:
        w.stop()


def _dashboard_checks(w, site, core, bus, browser):
    admin = w.admin
    assert core_command(admin, {"action": "login", "official": "nv01", "counter": 1})["ok"]
    assert core_command(admin, {"action": "login", "official": "nv02", "counter": 2})["ok"]
    box = bus("tester")
    box.subscribe("counter/+/reply", "event/rating")

    def press(n, action, cid):
        box.publish(f"counter/{n}/command", {"command_id": cid, "action": action})
        r = box.wait_for(lambda t, b: t == f"counter/{n}/reply" and b["command_id"] == cid)
        assert r["ok"], r

    # A known day: tickets served at counters 1 and 2 with different waits and services.
    for i in range(4):
        assert core_command(admin, {"action": "issue", "field": "tu-phap"})["ok"]
    time.sleep(0.3)
    press(1, "next", "k1"); time.sleep(0.2); press(1, "finish", "k2")
    press(2, "next", "k3"); time.sleep(0.5); press(2, "finish", "k4")
    press(1, "next", "k5"); time.sleep(0.1); press(1, "finish", "k6")
    for rid, level in (("r1", 1), ("r2", 1)):
        box.publish("counter/1/rating", {"rating_id": rid, "level": level, "device": "box-1",
                                         "boot": 1, "device_time_ms": 1000})
        box.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == rid)

    # Two waiting at counter 3's field: under the imbalance threshold (3).
    for _ in range(2):
        assert core_command(admin, {"action": "issue", "field": "dat-dai"})["ok"]

    page = browser.new_page()
    page.set_viewport_size({"width": 1920, "height": 1080})
    login(page, w.url, "ld01", "5678")
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("#link.ok")
    page.wait_for_selector("#queue-alerts li.none")
    page.wait_for_selector("#chart .bar-row")

    # The percentiles on the page, cell by cell, against the file's tickets.
    rows = _rows_of_day(core.db)
    for table, key_of, keys in (("#kpi-fields", lambda r: r[0], [f.code for f in site.fields]),
                                ("#kpi-counters", lambda r: r[1], [c.number for c in site.counters])):
        cells = page.eval_on_selector_all(f"{table} tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")
        assert len(cells) == len(keys)
        for key, shown in zip(keys, cells):
            mine = [r for r in rows if key_of(r) == key]
            waits = [r[3] - r[2] for r in mine if r[3] is not None]
            services = [r[4] - r[5] for r in mine if r[6] == "finished"]
            assert shown[1:] == [_mmss(_expected(waits, .5)), _mmss(_expected(waits, .9)),
                                 _mmss(_expected(services, .5)), _mmss(_expected(services, .9)),
                                 str(len(waits))], (key, shown)
    tu_phap = page.eval_on_selector_all("#kpi-fields tbody tr", "trs => [...trs[0].cells].map(td => td.textContent)")
    assert tu_phap[0] == "Tư pháp – Hộ tịch" and tu_phap[-1] == "3"

    # The satisfaction bars: HTML in the page, readable, one row per rated official.
    assert page.eval_on_selector("#chart", "e => e.querySelector('img, canvas') === null")
    names = page.eval_on_selector_all("#chart .bar-name", "es => es.map(e => e.textContent)")
    assert names == ["Nguyễn Thị Hương"]
    assert "Không xác định" not in page.text_content("#chart")
    for sel in ("#chart .bar-name", "#chart .bar-rate", "#chart .seg", "#chart .legend span"):
        size = page.eval_on_selector(sel, "e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 14, (sel, size)
    # Two presses in one window: the first is the rating, the second an anomaly.
    assert re.fullmatch(r"\d+% hài lòng · 1", page.text_content("#chart .bar-rate"))

    # A third ticket at counter 3's field while counters 1, 2 and 4 serve nobody.
    assert core_command(admin, {"action": "issue", "field": "dat-dai"})["ok"]
    page.wait_for_selector("#queue-alerts li.alert-imbalance")
    text = page.text_content("#queue-alerts li.alert-imbalance")
    assert text.startswith("Quầy 3: 3 người chờ") and "Quầy 1, Quầy 2, Quầy 4" in text
    assert page.query_selector("#queue-alerts li.alert-wait") is None
    assert page.eval_on_selector("#queue-alerts li", "e => getComputedStyle(e).color") == RED

    # Half an hour later (the clock seam moved on) the same line is over its wait target.
    w.app.state.api.clock = lambda: time.time() + 31 * 60
    page.reload()
    page.wait_for_selector("#queue-alerts li.alert-wait")
    waits = page.eval_on_selector_all("#queue-alerts li.alert-wait", "es => es.map(e => e.textContent)")
    # Both fields with someone still in line (one tu-phap ticket was never called), in config order.
    assert waits == ["Tư pháp – Hộ tịch: có người đã chờ 31 phút (mục tiêu 30 phút)",
                     "Đất đai – Xây dựng: có người đã chờ 31 phút (mục tiêu 30 phút)"]
