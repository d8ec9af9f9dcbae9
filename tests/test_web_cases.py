"""The head's follow-up cases and the report pack on the dashboard.

Real parts: Mosquitto with the generated ACL, ``phucvu core`` on a real
SQLite file (a site with [phone], so a citizen's reasons and comment come in
through the phone's own login), the web server (uvicorn in a thread, login
``web``), Debian's chromium in Los Angeles time with an English UI, so every
time shown must be the site's (Asia/Ho_Chi_Minh).  Cases are read back from
the file the core wrote (``cases``, ``case_log``).  Time beyond "now" is the
web's clock seam (``app.state.cases.clock``): "due soon" and "overdue" are
judged by the web against it, as they would be days later.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import tempfile
import unicodedata
import uuid
from pathlib import Path

import pytest

from kiosk import config as site_config
from kiosk.phone import token
from kiosk.web.screenshots import CHROMIUM
from tests.conftest import ROOT, CoreProcess
from tests.phone_helpers import write_site
from tests.test_web import core_command
from tests.test_web_screens import BROWSER_TZ, RED, start_web

IMAGES = ROOT / "docs" / "images"
COMMENT = "Đợi gần 1 tiếng mà không ai hướng dẫn"


@pytest.fixture
def browser():
    """One chromium, a fresh context per login, in Los Angeles time (not the site's)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])

        def context():
            ctx = b.new_context(timezone_id=BROWSER_TZ, locale="en-US", accept_downloads=True,
                                viewport={"width": 1366, "height": 768})
            ctx.set_default_timeout(10_000)
            return ctx
        yield context
        b.close()


class Centre:
    """A core with [phone], the web, a superuser, the phone's and a box's logins."""

    def __init__(self, tmp: Path, broker, bus):
        self.site = site_config.load(write_site(tmp))
        self.core = CoreProcess(broker, tmp / "phucvu.db").start()
        self.web = start_web(self.site, broker, self.core, bus)
        self.tester = self.web.admin
        self.tester.subscribe("counter/+/reply", "event/case")
        self.secret = token.load_or_create(self.site.phone.secret_file)
        self.phone = bus("phone")
        self.phone.subscribe("phone/reply")
        self.box = bus("counter-1")
        self.box.subscribe("counter/1/reply")

    def stop(self) -> None:
        self.web.stop()
        self.core.stop()

    def counter(self, n: int, action: str) -> dict:
        cid = uuid.uuid4().hex[:12]
        self.tester.publish(f"counter/{n}/command", {"command_id": cid, "action": action})
        r = self.tester.wait_for(lambda t, b: t == f"counter/{n}/reply" and b["command_id"] == cid)
        assert r["ok"], r
        return r

    def served(self, n: int, official: str, field: str) -> str:
        """A ticket of ``field`` issued, called at counter n by ``official`` and finished."""
        assert core_command(self.tester, {"action": "login", "official": official, "counter": n})["ok"]
        ticket_id = core_command(self.tester, {"action": "issue", "field": field})["ticket"]["ticket_id"]
        assert self.counter(n, "next")["ticket"]["ticket_id"] == ticket_id
        self.counter(n, "finish")
        return ticket_id

    def phone_rating(self, ticket_id: str, level: int, **extra) -> dict:
        rid = f"phone-{uuid.uuid4().hex[:16]}"
        self.phone.publish("phone/rating", {"rating_id": rid, "ticket_id": ticket_id,
                                            "token": token.make(self.secret, ticket_id),
                                            "level": level, "client": "a1b2c3d4", **extra})
        return self.phone.wait_for(lambda t, b: t == "phone/reply" and b["rating_id"] == rid)

    def box_press(self, level: int) -> dict:
        rid = f"box-1:00000001:{uuid.uuid4().hex[:8]}"
        self.box.publish("counter/1/rating", {"rating_id": rid, "level": level})
        return self.box.wait_for(lambda t, b: t == "counter/1/reply" and b.get("rating_id") == rid)

    def case_event(self, case: int, change: str) -> dict:
        return self.tester.wait_for(lambda t, b: t == "event/case" and b["case"] == case
                                    and b["change"] == change)

    def rows(self, sql: str, *args) -> list[sqlite3.Row]:
        with sqlite3.connect(f"file:{self.core.db}?mode=ro", uri=True) as c:
            c.row_factory = sqlite3.Row
            return c.execute(sql, args).fetchall()


@pytest.fixture
def centre(tmp_path, broker, bus):
    c = Centre(tmp_path, broker, bus)
    yield c
    c.stop()


def head_page(browser, centre, code: str = "ld01", pin: str = "5678"):
    page = browser().new_page()
    page.goto(centre.web.url + "/login")
    page.fill("#code", code)
    page.fill("#pin", pin)
    page.click("#submit")
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("#link.ok")
    return page


def vi_time(site, epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, site.tz).strftime("%d/%m/%Y %H:%M")


def due_by_hand(site, at: float) -> float:
    """The demo's hours are every day 00:00-24:00, so every day is a working
    day and closes at midnight: the 3rd working day after the rating's local
    day ends where the 4th calendar day after it begins."""
    day = dt.datetime.fromtimestamp(at, site.tz).date()
    assert site.cases.deadline_days == 3
    return dt.datetime.combine(day + dt.timedelta(days=4), dt.time(), site.tz).timestamp()


def style(page, selector: str, prop: str) -> str:
    """A computed style, looked up and read in one step (a live refresh may
    replace the element between two)."""
    return page.evaluate(f"getComputedStyle(document.querySelector({selector!r})).{prop}")


def cells(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} tbody tr[data-case]",
        "trs => trs.map(tr => [...tr.cells].map(td => td.innerText.replace(/\\s+/g, ' ').trim()))")


def test_an_unhappy_citizen_opens_a_case_the_head_looks_into_and_closes(centre, browser):
    c, site = centre, centre.site
    page = head_page(browser, c)
    page.wait_for_function("document.getElementById('cases-summary').textContent "
                           "== 'Không có phản ánh nào đang mở'")
    assert page.is_hidden("#cases-open") and page.is_hidden("#cases-closed")
    # nv02 serves a Tư pháp ticket at counter 2; the citizen rates it on the
    # phone, not satisfied, with two reasons and a comment.
    ticket_id = c.served(2, "nv02", "tu-phap")
    reply = c.phone_rating(ticket_id, 3, reasons=["cho-lau", "khac"], comment=COMMENT)
    assert reply["ok"] and reply["counted"], reply
    opened = c.case_event(1, "opened")
    assert opened["official"] == "nv02" and opened["reasons"] == ["cho-lau", "khac"]
    assert "comment" not in opened and "note" not in opened
    # A satisfied rating opens none; a box's "not satisfied" at counter 1 for nv01 does.
    assert c.phone_rating(c.served(1, "nv01", "chung-thuc"), 1)["counted"]
    second = c.served(1, "nv01", "chung-thuc")
    assert c.box_press(3)["counted"]
    c.case_event(2, "opened")
    assert [r["rating_id"] for r in c.rows("SELECT rating_id FROM cases ORDER BY id")] == [
        reply["rating_id"], c.rows("SELECT id FROM ratings WHERE ticket_id = ?", second)[0]["id"]]

    # The page took both from event/case, with no reload.
    page.wait_for_function("document.querySelectorAll('#cases-open tr[data-case]').length == 2")
    assert page.text_content("#cases-summary") == "2 phản ánh đang mở, 0 quá hạn"
    rating = c.rows("SELECT at FROM ratings WHERE ticket_id = ? AND counted = 1", ticket_id)[0]
    due = due_by_hand(site, rating["at"])
    (case,) = c.rows("SELECT * FROM cases WHERE id = 1")
    assert (case["ticket_id"], case["field"], case["counter"], case["official"], case["level"],
            case["source"], case["status"]) == (ticket_id, "tu-phap", 2, "nv02", "khong-hai-long",
                                                "phone", "open")
    assert case["opened_at"] == rating["at"] and case["due_at"] == due
    (box,) = c.rows("SELECT * FROM cases WHERE id = 2")
    assert (box["ticket_id"], box["official"], box["reasons"]) == (second, "nv01", None)
    assert box["due_at"] == due_by_hand(site, box["opened_at"])
    # Sorted by due time; "còn 3 ngày": due at midnight four days on, so
    # between 3 and 4 days left, whatever the hour of the test.
    assert cells(page, "#cases-open") == [
        ["#1", f"{ticket_id.rsplit('-', 1)[1]} Quầy 2", "Tư pháp – Hộ tịch", "Trần Văn Đức",
         f"Không hài lòng (Điện thoại) Chờ lâu · Lý do khác “{COMMENT}”",
         vi_time(site, rating["at"]), f"{vi_time(site, due)} còn 3 ngày", "Mới",
         "Đã xem xét Đóng"],
        ["#2", f"{second.rsplit('-', 1)[1]} Quầy 1", "Chứng thực", "Nguyễn Thị Hương",
         "Không hài lòng (Hộp bấm tại quầy)", vi_time(site, box["opened_at"]),
         f"{vi_time(site, box['due_at'])} còn 3 ngày", "Mới", "Đã xem xét Đóng"]]
    assert page.query_selector("#cases-open .case-badge") is None

    # Looked into: the core's reply, the event, the row and the file agree.
    page.click("#cases-open tr[data-case='1'] [data-look]")
    c.case_event(1, "looked_into")
    page.wait_for_function("document.querySelector(\"#cases-open tr[data-case='1'] td.status\")"
                           ".textContent.startsWith('Đã xem xét')")
    assert page.query_selector("#cases-open tr[data-case='1'] [data-look]") is None
    assert c.rows("SELECT status FROM cases WHERE id = 1")[0]["status"] == "looked_into"

    # Closing without a note is refused by the core, in Vietnamese, in red; the case stays.
    page.click("#cases-open tr[data-case='1'] [data-close]")
    page.fill("#close-note", "   ")
    page.click(".close-form button[type=submit]")
    page.wait_for_function("document.getElementById('case-msg').textContent"
                           " == 'Cần ghi kết quả xử lý trước khi đóng phản ánh số 1.'")
    assert style(page, "#case-msg", "color") == RED
    assert c.rows("SELECT status, note FROM cases WHERE id = 1")[0]["status"] == "looked_into"
    # With a note (typed decomposed, as some keyboards send it): closed, stored NFC.
    note = "  Đã gọi điện xin lỗi công dân; nhắc nhở cán bộ.  "
    page.fill("#close-note", unicodedata.normalize("NFD", note))
    page.click(".close-form button[type=submit]")
    closed = c.case_event(1, "closed")
    assert closed["on_time"] is True and "note" not in closed
    page.wait_for_function("document.querySelectorAll('#cases-open tr[data-case]').length == 1")
    assert page.text_content("#case-msg") == "Đã đóng phản ánh #1"
    assert page.text_content("#cases-summary") == "1 phản ánh đang mở, 0 quá hạn"
    (row,) = c.rows("SELECT * FROM cases WHERE id = 1")
    assert (row["status"], row["closed_by"], row["note"]) == ("closed", "ld01", note.strip())
    assert row["looked_at"] <= row["closed_at"] <= row["due_at"]
    log = [(r["status"], r["by"], r["note"]) for r in c.rows(
        "SELECT status, by, note FROM case_log WHERE case_id = 1 ORDER BY id")]
    assert log[-2:] == [("looked_into", "ld01", None), ("closed", "ld01", note.strip())]

    # The closed list: the note, who closed it, on time.
    page.click("#cases-closed-tab")
    page.wait_for_function("document.querySelectorAll('#cases-closed tr[data-case]').length == 1")
    (shown,) = cells(page, "#cases-closed")
    assert shown[0] == "#1" and shown[3] == "Trần Văn Đức"
    assert shown[6] == f"{vi_time(site, row['closed_at'])} đúng hạn"
    assert shown[7:] == ["Lê Minh Tuấn", note.strip()]
    assert page.text_content("#cases-summary") == "1 phản ánh đã đóng trong 30 ngày qua, 0 đóng trễ hạn"
    page.set_viewport_size({"width": 1024, "height": 768})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    # Closed is final: the core refuses, the page says so in Vietnamese.
    again = page.evaluate("post('/api/cases/1', {status: 'looked_into'})")
    assert again["status"] == 409 and again["reply"]["error"]["code"] == "bad_transition"
    assert again["message"] == \
        "Phản ánh số 1 đang ở trạng thái “đã đóng”, không chuyển sang “đang xem xét” được."
    missing = page.evaluate("post('/api/cases/99', {status: 'closed', note: 'x'})")
    assert missing["status"] == 409 and missing["message"] == "Không tìm thấy phản ánh số 99."
    # A note over 1000 characters (the page's box stops at 1000; a script need not).
    long = page.evaluate("post('/api/cases/2', {status: 'closed', note: 'x'.repeat(1001)})")
    assert long["status"] == 409 and long["message"] == \
        "Ghi chú không hợp lệ: dài 1001 ký tự, tối đa 1000."
    assert c.rows("SELECT status FROM cases WHERE id = 2")[0]["status"] == "open"
    page.goto("about:blank")


def test_staff_never_see_cases(centre, browser):
    c = centre
    head = head_page(browser, c)
    staff = browser().new_page()
    staff.goto(c.web.url + "/login")
    staff.fill("#code", "nv01")
    staff.fill("#pin", "1234")
    staff.select_option("#counter", "1")
    staff.click("#submit")
    staff.wait_for_url("**/console")
    staff.wait_for_selector("#link.ok")
    # Every message each page's stream carries, by topic.
    for p in (head, staff):
        p.evaluate("""() => { window.seen = [];
            new EventSource('/api/events').onmessage = ev => window.seen.push(JSON.parse(ev.data).topic); }""")
        p.wait_for_function("window.seen.includes('*')")
    ticket_id = c.served(1, "nv01", "tu-phap")
    assert c.phone_rating(ticket_id, 3, reasons=["thai-do"])["counted"]
    c.case_event(1, "opened")
    head.wait_for_function("window.seen.includes('event/case')")
    # The staff's stream was live all along (its counter's state came) but carried no case.
    staff.wait_for_function("window.seen.includes('counter/1/state')")
    assert "event/case" not in staff.evaluate("window.seen")
    assert staff.query_selector("#cases-card") is None
    assert staff.evaluate("fetch('/api/cases').then(r => r.status)") == 403
    assert staff.evaluate("fetch('/api/cases?view=closed').then(r => r.status)") == 403
    refused = staff.evaluate("post('/api/cases/1', {status: 'closed', note: 'tự đóng'})")
    assert refused["status"] == 403 and refused["message"] == "Tài khoản này không có quyền mở trang này"
    assert staff.evaluate("fetch('/api/pack?kind=monthly&format=pdf').then(r => r.status)") == 403
    assert c.rows("SELECT status FROM cases WHERE id = 1")[0]["status"] == "open"
    # The head's pack with a kind that is none: a message, before any work.
    bad = head.evaluate("fetch('/api/pack?kind=weekly&format=pdf')"
                        ".then(async r => [r.status, (await r.json()).message])")
    assert bad == [400, "Chọn bộ báo cáo theo tháng, quý hoặc năm"]
    response = staff.goto(c.web.url + "/dashboard")
    assert response.status == 403 and "Phản ánh" not in staff.content()
    # Nor anyone logged out.
    anon = browser().new_page()
    anon.goto(c.web.url + "/login")
    assert anon.evaluate("fetch('/api/cases').then(r => r.status)") == 401
    for p in (head, staff):
        p.goto("about:blank")


def test_reminder_then_overdue_on_the_webs_clock(centre, browser, tmp_path):
    c, site = centre, centre.site
    for official, n in (("nv01", 1), ("nv02", 2), ("nv01", 1)):
        ticket_id = c.served(n, official, "tu-phap")
        assert c.phone_rating(ticket_id, 3, reasons=["cho-lau", "khac"], comment="Chờ lâu quá")["counted"]
    c.case_event(3, "opened")
    page = head_page(browser, c)
    page.wait_for_function("document.querySelectorAll('#cases-open tr[data-case]').length == 3")
    page.click("#cases-open tr[data-case='2'] [data-look]")
    c.case_event(2, "looked_into")
    due = c.rows("SELECT due_at FROM cases WHERE id = 1")[0]["due_at"]
    remind = site.cases.remind_hours * 3600
    assert remind == 24 * 3600
    cases = c.web.app.state.cases

    def at(t: float) -> None:
        cases.clock = lambda: t
        page.reload()
        page.wait_for_function("document.querySelectorAll('#cases-open tr[data-case]').length == 3")

    at(due - remind - 60)                   # 24 h 1 min before: no reminder yet
    assert page.query_selector("#cases-open .case-badge") is None
    at(due - remind + 60)                   # 23 h 59 min before: "sắp đến hạn" on each
    badges = page.eval_on_selector_all("#cases-open .case-badge", "es => es.map(e => e.textContent)")
    assert badges == ["sắp đến hạn"] * 3
    assert page.text_content("#cases-summary") == "3 phản ánh đang mở, 0 quá hạn, 3 sắp đến hạn"
    assert page.text_content("#cases-open tr[data-case='1'] td.due .small") == "còn 23 giờ"
    # The screenshot for docs/console.md: reminders on, one case looked into,
    # a closing note being typed (PHUCVU_UPDATE_IMAGES=1 refreshes it).
    page.click("#cases-open tr[data-case='3'] [data-close]")
    page.fill("#close-note", "Đã gọi điện cho công dân, hẹn")
    out = IMAGES if os.environ.get("PHUCVU_UPDATE_IMAGES") else tmp_path
    page.screenshot(path=str(out / "console-dashboard-cases-1366x768.png"), full_page=True)
    for w in (1366, 1024):
        page.set_viewport_size({"width": w, "height": 768})
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= w, f"the dashboard spills sideways at {w} px: {width}"
    page.screenshot(path=str(tmp_path / "cases-1024x768.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.click("#close-cancel")

    at(due + 120)                            # two minutes past due: "quá hạn", in red
    badges = page.eval_on_selector_all("#cases-open .case-badge", "es => es.map(e => e.textContent)")
    assert badges == ["quá hạn"] * 3
    assert style(page, "#cases-open .case-badge", "backgroundColor") == RED
    assert style(page, "#cases-open tr[data-case='1'] td.due time", "color") == RED
    assert page.text_content("#cases-summary") == "3 phản ánh đang mở, 3 quá hạn"
    assert style(page, "#cases-summary", "color") == RED
    assert page.text_content("#cases-open tr[data-case='1'] td.due .small") == "quá hạn 2 phút"
    page.goto("about:blank")


def test_a_case_closed_late_shows_late(site):
    """The core judges lateness when it closes; the page shows a closed row's
    on_time from its closing and due times (the core has no clock seam to
    close one late for real, so the row is given)."""
    from types import SimpleNamespace

    from kiosk.web.cases import Cases
    cases = Cases(SimpleNamespace(config=site), None)
    row = {"id": 7, "rating_id": "r", "ticket_id": "20261202-B004", "day": "2026-12-02",
           "field": "dat-dai", "counter": 3, "official": "nv02", "level": "khong-hai-long",
           "source": "box-3", "reasons": None, "opened_at": 1796200000.0,
           "due_at": 1796461200.0, "status": "closed", "looked_at": None,
           "closed_at": 1796461201.0, "closed_by": "ld01", "note": "Muộn", "updated_at": 0,
           "comment": None}
    shown = cases.shown(row, {"ld01": "Lê Minh Tuấn"}, 1797000000.0)
    assert (shown["on_time"], shown["overdue"], shown["soon"]) == (False, False, False)
    # 1796461200 is 2026-12-05 09:00 UTC, 16:00 in Hà Nội; closed one second later.
    assert (shown["ticket"], shown["due"], shown["closed"]) == ("B004", "05/12/2026 16:00",
                                                                "05/12/2026 16:00")
    assert (shown["closed_by_name"], shown["official_name"], shown["field_name"]) == \
        ("Lê Minh Tuấn", "nv02", "Đất đai – Xây dựng")
    assert shown["reasons"] == [] and shown["source_name"] == "Hộp bấm tại quầy"
    on_time = cases.shown({**row, "closed_at": 1796461200.0}, {}, 1797000000.0)
    assert on_time["on_time"] is True


def _pack_ready() -> str | None:
    try:
        from kiosk.reports import pack  # noqa: F401
    except ImportError:
        return "kiosk.reports.pack (helper H2's branch i19-pack) is not merged yet"
    return None


@pytest.mark.skipif(_pack_ready() is not None, reason=str(_pack_ready()))
def test_the_pack_downloads_as_pdf_and_xlsx(centre, browser, tmp_path):
    import openpyxl

    from kiosk.reports.pack import parse_period
    c, site = centre, centre.site
    page = head_page(browser, c)
    today = c.web.app.state.bus.today()
    # The default is the last complete quarter: worked out by hand from today.
    q = (today.month - 1) // 3               # this quarter, 0-based
    year, last = (today.year - 1, 4) if q == 0 else (today.year, q)
    want = f"{year}-Q{last}"
    roman = ["I", "II", "III", "IV"][last - 1]
    assert page.input_value("#pack-period") == want
    assert page.eval_on_selector("#pack-period", "e => e.selectedOptions[0].textContent") == \
        f"Quý {roman}/{year}"
    assert parse_period("quarterly", None, today)[2] == f"Quý {roman}/{year}"
    with page.expect_download(timeout=60_000) as got:
        page.click("#pack-pdf")
    pdf = got.value
    assert pdf.suggested_filename == f"Báo cáo Quý {roman}-{year} - {site.site.id}.pdf"
    path = tmp_path / "pack.pdf"
    pdf.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert site.site.centre in " ".join(text.split())
    page.wait_for_function("document.getElementById('pack-msg').textContent.startsWith('Đã tải')")
    page.select_option("#pack-kind", "monthly")
    with page.expect_download(timeout=60_000) as got:
        page.click("#pack-xlsx")
    xlsx = tmp_path / "pack.xlsx"
    got.value.save_as(xlsx)
    month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    assert got.value.suggested_filename == \
        f"Báo cáo Tháng {month[1]:02d}-{month[0]} - {site.site.id}.xlsx"
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames
    # A bad request is a message on the page, not a broken download.
    bad = page.evaluate("fetch('/api/pack?kind=monthly&period=2026-13&format=pdf')"
                        ".then(async r => [r.status, (await r.json()).message])")
    assert bad == [400, "Kỳ báo cáo theo tháng ghi như 2026-11"]
    for query, message in (("kind=quarterly&period=2026-11", "Kỳ báo cáo theo quý ghi như 2026-Q4"),
                           ("kind=yearly&period=2999", "Kỳ 2999 chưa bắt đầu hoặc không có trong sổ sách"),
                           ("kind=yearly&format=docx", "Định dạng bộ báo cáo là pdf hoặc xlsx")):
        got = page.evaluate(f"fetch('/api/pack?{query}').then(async r => [r.status, (await r.json()).message])")
        assert got == [400, message], query
    page.goto("about:blank")
