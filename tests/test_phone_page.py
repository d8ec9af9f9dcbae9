"""The citizen's phone page in a real Chromium at a phone's size (360×740).

Real parts: Mosquitto with the production logins (the page's server is
``phone``), ``phucvu core`` on its SQLite file with [phone] on (it publishes
``queue/tickets`` and judges ``phone/rating`` with the same secret), the
page's server (uvicorn in a thread), Debian's chromium through Playwright.
Staff act as the console does (counter commands on the bus); a box's press
is published on ``counter/N/rating`` as the bridge does.  What the citizen
sends is read back from the core's SQLite file.

The browser's speaker and vibration motor cannot be observed headless: an
init script counts the page's calls to Web Audio and ``navigator.vibrate``.
"""
from __future__ import annotations

import json
import tempfile

import pytest

from kiosk import config
from tests.phone_helpers import PhoneServer, counter, http, issue, ratings, wait_state, write_site

PHONE = {"width": 360, "height": 740}
SPY = """
window.__beeps = 0; window.__vibrations = [];
(function () {
  var C = window.AudioContext || window.webkitAudioContext;
  if (C) {
    var make = C.prototype.createOscillator;
    C.prototype.createOscillator = function () { window.__beeps++; return make.apply(this, arguments); };
  }
  navigator.vibrate = function (p) { window.__vibrations.push(p); return true; };
}());
"""


@pytest.fixture
def site(tmp_path):
    """The demo site with [phone] (conftest's broker and core run this one)."""
    return config.load(write_site(tmp_path))


@pytest.fixture
def phone(site, broker, core):
    s = PhoneServer(site, broker)
    yield s
    s.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    from kiosk.web.screenshots import launch
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = launch(p, profile, viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN")
        ctx.set_default_timeout(10_000)
        ctx.add_init_script(SPY)
        yield ctx
        ctx.close()


def visible(page, selector: str) -> None:
    page.wait_for_selector(selector, state="visible")


def text_is(page, selector: str, start: str) -> None:
    """Wait until the element's Vietnamese line (its text before the English span) starts so."""
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && !e.hidden && "
        "e.firstChild && e.firstChild.textContent.startsWith(t); }", arg=[selector, start])


def check_fit(page, width: int) -> None:
    """No sideways scroll at ``width``; text at least 16 px; buttons at least 48 px tall."""
    page.set_viewport_size({"width": width, "height": 740})
    page.wait_for_timeout(100)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    small = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e =>
        e.offsetParent !== null && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
        && parseFloat(getComputedStyle(e).fontSize) < 16).map(e => e.id || e.className || e.tagName)""")
    assert small == []
    short = page.evaluate("""() => [...document.querySelectorAll('button, .reason')].filter(e =>
        e.offsetParent !== null && e.getBoundingClientRect().height < 48).map(e => e.id || e.textContent)""")
    assert short == []
    page.set_viewport_size(PHONE)


def test_the_place_in_line_the_call_and_a_transfer_arrive_live(phone, bus, browser):
    staff = bus("tester")
    first, second, mine = (issue(staff, "tu-phap") for _ in range(3))
    page = browser.new_page()
    page.goto(phone.address(mine))
    text_is(page, "#ahead", "Còn 2 người trước bạn")
    assert page.text_content("#label") == mine.partition("-")[2]
    assert page.text_content("#field").startswith("Tư pháp – Hộ tịch")
    text_is(page, "#wait", "Thời gian chờ ước tính: khoảng ")
    check_fit(page, 320)
    page.evaluate("window.__same = 'no reload'")
    page.click("#sound")
    visible(page, "#sound-on")

    counter(staff, 1, "next")                      # the first is called elsewhere
    text_is(page, "#ahead", "Còn 1 người trước bạn")
    counter(staff, 2, "next")
    text_is(page, "#ahead", "Bạn là người tiếp theo")
    assert page.is_hidden("#alert")

    counter(staff, 1, "next")                      # finishes the first, calls mine
    visible(page, "#alert")
    assert page.text_content("#alert-to") == "Mời đến Quầy 1"
    assert page.text_content("#alert-en") == "Please go to Counter 1"
    assert page.evaluate("window.__beeps") >= 3
    assert page.evaluate("window.__vibrations.length") == 1
    check_fit(page, 320)
    page.click("#alert-ok")
    assert page.is_hidden("#alert")
    text_is(page, "#called-to", "Mời đến Quầy 1")
    counter(staff, 1, "recall")                    # the citizen did not come: called again
    visible(page, "#alert")
    assert page.evaluate("window.__vibrations.length") == 2
    page.click("#alert-ok")

    counter(staff, 1, "transfer", to_field="chung-thuc")
    text_is(page, "#moved", "Đã chuyển sang lĩnh vực Chứng thực")
    visible(page, "#s-waiting")
    assert page.text_content("#field").startswith("Chứng thực")
    counter(staff, 2, "next")                      # counter 2 serves Chứng thực first
    visible(page, "#alert")
    assert page.text_content("#alert-to") == "Mời đến Quầy 2"
    assert page.evaluate("window.__same") == "no reload"


def test_a_rating_with_reasons_reaches_the_core_and_a_second_is_refused(phone, bus, browser, core):
    staff = bus("tester")
    mine = issue(staff, "tu-phap")
    counter(staff, 1, "next")
    page = browser.new_page()
    page.goto(phone.address(mine))
    visible(page, "#s-called")
    page.click("#alert-ok")
    counter(staff, 1, "finish")
    visible(page, "#s-rate")
    names = page.eval_on_selector_all("#levels button", "bs => bs.map(b => b.firstChild.textContent)")
    assert names == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    page.click("#levels button[data-level='3']")
    visible(page, "#reasons-form")
    assert page.is_hidden("#comment-box")
    page.check("input[value='cho-lau']")
    page.check("input[value='khac']")
    visible(page, "#comment-box")
    page.fill("#comment", "Đợi gần 1 tiếng")
    check_fit(page, 320)
    page.click("#send")
    visible(page, "#s-thanks")
    assert page.text_content("#s-thanks .big").startswith("Cảm ơn bạn!")
    assert page.is_hidden("#s-rate")

    rows = [r for r in ratings(core.db) if r["ticket_id"] == mine]
    assert len(rows) == 1 and rows[0]["counted"] == 1 and rows[0]["counter"] == 1
    assert rows[0]["level"] == "khong-hai-long"
    stored = json.dumps(rows[0], ensure_ascii=False)
    assert "cho-lau" in stored and "khac" in stored and "Đợi gần 1 tiếng" in stored

    # The same ticket again (another tab, a replayed request): the core's
    # refusal in Vietnamese, and the press kept, not counted.
    status, _, body = http(phone.port, "POST", phone.path(mine) + "/rating", {"level": 1})
    reply = json.loads(body)
    assert status == 409 and reply["code"] == "already_rated"
    assert reply["message"].startswith("Phiếu này đã được đánh giá rồi")
    rows = [r for r in ratings(core.db) if r["ticket_id"] == mine]
    assert [(r["counted"], r["reason"]) for r in rows] == [(1, None), (0, "extra_press")]
    wait_state(phone, mine, lambda s: s["rated"] == "phone")
    again = browser.new_page()
    again.goto(phone.address(mine))
    visible(again, "#s-thanks")
    assert again.is_hidden("#s-rate")


def test_the_box_first_then_the_phone_shows_the_cores_refusal(phone, bus, browser, core):
    staff = bus("tester")
    mine = issue(staff, "tu-phap")
    counter(staff, 1, "next")
    counter(staff, 1, "finish")
    wait_state(phone, mine, lambda s: s["can_rate"])      # queue/tickets follows within 1 s
    page = browser.new_page()
    # No live updates on this page: it still offers the buttons when the
    # box's press has already counted, as a phone that slept would.
    page.route("**/events", lambda route: route.abort())
    page.goto(phone.address(mine))
    visible(page, "#s-rate")
    staff.subscribe("event/rating")
    staff.publish("counter/1/rating", {"rating_id": "t-box-1", "level": 1, "device": "box-1",
                                       "boot": 1, "device_time_ms": 1000})
    staff.wait_for(lambda t, b: t == "event/rating" and b["rating_id"] == "t-box-1")
    page.click("#levels button[data-level='2']")
    visible(page, "#refused")
    assert page.text_content("#refused").startswith("Phiếu này đã được đánh giá rồi")
    assert page.is_hidden("#s-rate") and page.is_hidden("#s-thanks")
    rows = [r for r in ratings(core.db) if r["ticket_id"] == mine]
    assert [(r["counted"], r["reason"], r["level"]) for r in rows] == [
        (1, None, "rat-hai-long"), (0, "extra_press", "hai-long")]
    fresh = browser.new_page()
    fresh.goto(phone.address(mine))
    visible(fresh, "#s-rated")
    assert fresh.is_hidden("#s-rate")


def test_without_server_sent_events_the_page_polls(phone, bus, browser):
    staff = bus("tester")
    issue(staff, "tu-phap")
    mine = issue(staff, "tu-phap")
    page = browser.new_page()
    page.add_init_script("window.EventSource = undefined;")     # an old or stripped browser
    streams = []
    page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/events") else None)
    page.goto(phone.address(mine))
    text_is(page, "#ahead", "Còn 1 người trước bạn")
    counter(staff, 1, "next")
    page.wait_for_function("() => document.getElementById('ahead').firstChild.textContent"
                           ".startsWith('Bạn là người tiếp theo')", timeout=15_000)
    assert streams == []


def test_a_counter_renamed_by_an_admin_reads_right_on_an_open_page(phone, bus, browser):
    import copy

    from tests.phone_helpers import core_command
    staff = bus("tester")
    staff.subscribe("config/site")
    first = staff.wait_for(lambda t, b: t == "config/site")
    mine = issue(staff, "tu-phap")
    counter(staff, 1, "next")
    page = browser.new_page()
    page.goto(phone.address(mine))
    text_is(page, "#called-to", "Mời đến Quầy 1")
    new = copy.deepcopy(first["config"])
    new["counters"][0]["name"] = "Quầy Một cửa"
    reply = core_command(staff, {"action": "config_apply", "by": "qt01", "base": first["hash"],
                                 "config": new})
    assert reply["ok"], reply
    text_is(page, "#called-to", "Mời đến Quầy Một cửa")


def test_no_show_and_a_closed_day(phone, bus, browser):
    staff = bus("tester")
    gone, waiting = issue(staff, "tu-phap"), issue(staff, "tu-phap")
    counter(staff, 1, "next")
    counter(staff, 1, "no_show")
    page = browser.new_page()
    page.goto(phone.address(gone))
    visible(page, "#s-no_show")
    assert "không có mặt" in page.text_content("#s-no_show")
    other = browser.new_page()
    other.goto(phone.address(waiting))
    visible(other, "#s-waiting")
    from tests.phone_helpers import core_command
    assert core_command(staff, {"action": "close_day"})["ok"]
    visible(other, "#s-closed")
    assert other.text_content("#s-closed").strip().startswith("Ngày làm việc đã kết thúc")
    assert other.is_hidden("#s-waiting")


def test_a_forged_or_borrowed_token_is_a_plain_not_valid_page(phone, bus, browser):
    staff = bus("tester")
    a, b = issue(staff, "tu-phap"), issue(staff, "tu-phap")
    page = browser.new_page()
    for url in (f"{phone.url}/t/{a}/{'x' * 16}", phone.address(b).replace(b, a, 1)):
        response = page.goto(url)
        assert response.status == 404
        assert page.text_content("h1").startswith("Mã không hợp lệ")
        assert page.query_selector("#app") is None
    assert page.goto(phone.address(a)).status == 200


def test_a_retried_rating_is_the_same_rating_not_an_anomaly(phone, bus, core):
    """A phone whose answer was lost sends the same rating again (the page
    keeps its attempt key): the core answers it from its stored outcome and
    keeps one row, no extra_press against the official."""
    staff = bus("tester")
    mine = issue(staff, "tu-phap")
    counter(staff, 1, "next")
    counter(staff, 1, "finish")
    wait_state(phone, mine, lambda s: s["can_rate"])
    body = {"level": 1, "attempt": "00112233445566778899aabb"}
    first = http(phone.port, "POST", phone.path(mine) + "/rating", body)
    again = http(phone.port, "POST", phone.path(mine) + "/rating", body)
    assert first[0] == again[0] == 200
    assert json.loads(first[2]) == json.loads(again[2]) == {"ok": True, "counted": True}
    rows = [r for r in ratings(core.db) if r["ticket_id"] == mine]
    assert len(rows) == 1 and rows[0]["counted"] == 1, rows
    # A new attempt (another press) is a second press: kept, not counted.
    other = http(phone.port, "POST", phone.path(mine) + "/rating", {"level": 2})
    assert other[0] == 409
    rows = [r for r in ratings(core.db) if r["ticket_id"] == mine]
    assert sorted(r["reason"] or "" for r in rows) == ["", "extra_press"], rows


def test_the_heads_dashboard_counts_what_the_phone_page_refused(site, broker, core, bus, browser, tmp_path):
    """Refusals reach the head: the page's server counts them in its retained
    ``phone/stats`` (published at its stop and every 10 s) and the dashboard
    shows them."""
    from tests.test_web import login
    from tests.test_web_screens import start_web
    phone = PhoneServer(site, broker)
    try:
        staff = bus("tester")
        a = issue(staff, "tu-phap")
        assert http(phone.port, "GET", f"/t/{a}/{'x' * 16}")[0] == 404          # a forged token
        assert http(phone.port, "GET", phone.path(a))[0] == 200
    finally:
        phone.stop()
    web = start_web(site, broker, core, bus)
    try:
        page = browser.new_page()
        page.set_viewport_size({"width": 1366, "height": 768})
        login(page, web.url, "ld01", "5678")
        page.wait_for_url("**/dashboard")
        page.wait_for_selector("#phone:not([hidden])")
        text = page.text_content("#phone")
        assert text.startswith("Trang điện thoại: 1 lượt xem, 0 đánh giá gửi, 1 lần bị từ chối"), text
        assert "(1 mã sai)" in text, text
        # docs/console.md's picture of the line (PHUCVU_UPDATE_IMAGES=1 refreshes it).
        import os
        from tests.conftest import ROOT
        out = ROOT / "docs" / "images" if os.environ.get("PHUCVU_UPDATE_IMAGES") else tmp_path
        page.screenshot(path=str(out / "console-dashboard-phone-1366x768.png"), full_page=True)
    finally:
        web.stop()


def test_screenshots(tmp_path):
    """``phucvu screenshots``' phone part: its own centre with [phone], one
    ticket from waiting to thanks, at 360 px wide.  The suite writes them to
    a temporary folder; PHUCVU_UPDATE_IMAGES=1 refreshes docs/images."""
    import os

    from PIL import Image

    from kiosk.phone import screenshots
    from tests.conftest import DEMO_SITE, ROOT
    out = ROOT / "docs" / "images" if os.environ.get("PHUCVU_UPDATE_IMAGES") else tmp_path
    made = screenshots.main(str(DEMO_SITE), out)
    assert [p.name for p in made] == [f"{n}.png" for n in screenshots.NAMES]
    for p in made:
        with Image.open(p) as im:
            assert im.width == 360 and im.height >= 740, p
