"""The browser pages say a wait as kiosk/waitwords.py does (issue 20).

The phone page and the staff console are two servers; both serve the one
JavaScript copy of the wording rules, kiosk/waitwords.js, and the pages,
run in Debian's chromium, must show for every case of ``CASES`` exactly
what ``waitwords.phrase`` / ``waitwords.short`` say for the same minutes.
Change a rule in one language only and a case here fails.

Real parts: Mosquitto, the phone page's server (its real bus and view),
``phucvu core`` with the web console for the staff pages and for the paused
field, chromium through Playwright.
"""
from __future__ import annotations

import tempfile

import pytest

from kiosk import config, waitwords
from tests.conftest import ROOT
from tests.test_phone_page import check_fit
from tests.phone_helpers import PhoneServer, counter, issue, wait_state, write_site

WAITWORDS_JS = ROOT / "kiosk" / "waitwords.js"

# (expected wait, p10, p90) in minutes, as the core sends them.  Each line
# is on an edge of a rule: under a minute, the 0.5 rounding, ten minutes
# (fives above), the range said from 10 minutes wide, its low end under
# 2.5 ("có thể đến"), an hour and more, no counter open (None).
CASES = [
    (None, None, None),
    (0.0, 0.0, 0.0),
    (0.4, 0.0, 2.0),
    (0.4, 0.0, 12.0),
    (0.6, 0.2, 1.0),
    (1.5, 1.0, 3.0),
    (2.49, 1.0, 4.0),
    (7.0, 6.9, 7.1),
    (9.49, 5.0, 14.99),
    (9.5, 5.0, 15.0),
    (12.4, 6.0, 16.0),
    (12.5, 10.0, 19.9),
    (22.0, 14.9, 37.6),
    (3.0, 1.2, 13.0),
    (12.5, 2.4999, 12.5),
    (58.0, 40.0, 75.0),
    (95.0, 70.0, 130.0),
    (180.0, 175.0, 184.0),
    (6.0, None, None),            # a wait without its range (an older core)
]


def test_both_servers_serve_the_one_file():
    from kiosk.phone.app import WAITWORDS_JS as phone_js
    from kiosk.web.app import WAITWORDS_JS as web_js
    assert phone_js.resolve() == web_js.resolve() == WAITWORDS_JS.resolve()


def test_the_cases_cover_every_rule():
    """Guards the table: were it all one kind of case, the checks below could not catch much."""
    said = {waitwords.phrase(*c) for c in CASES}
    assert "chờ quầy mở lại" in said and "dưới\u00a01\u00a0phút" in said
    assert any("có thể đến" in s for s in said) and any("giờ" in s for s in said)
    assert any("(" in s for s in said) and any("(" not in s and "khoảng" in s for s in said)
    assert len({waitwords.short(*c) for c in CASES}) >= 12


@pytest.fixture
def site(tmp_path):
    """The demo site with [phone] (conftest's broker and core run this one)."""
    return config.load(write_site(tmp_path))


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    from kiosk.web.screenshots import launch
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = launch(p, profile, viewport={"width": 360, "height": 740}, locale="vi-VN")
        ctx.set_default_timeout(10_000)
        yield ctx
        ctx.close()


def _lines(page) -> tuple[str, str]:
    """#wait's Vietnamese line and its English one."""
    return tuple(page.evaluate("() => { const e = document.getElementById('wait'); "
                               "return [e.firstChild.textContent, e.querySelector('.en').textContent]; }"))


def test_the_phone_page_says_each_case_as_waitwords_does(site, broker, bus, browser):
    """One waiting ticket per case in a retained ``queue/tickets`` (as the
    core publishes it), each opened on the real page."""
    phone = PhoneServer(site, broker)
    try:
        ids = [f"20261202-A{i + 1:03d}" for i in range(len(CASES))]
        tickets = {}
        for tid, (m, low, high) in zip(ids, CASES):
            entry = {"field": "tu-phap", "state": "waiting", "ahead": 3}
            for key, v in (("wait_min", m), ("wait_low_min", low), ("wait_high_min", high)):
                if v is not None:
                    entry[key] = v
            tickets[tid] = entry
        # A wait that breaks the contract: the server leaves its keys out of
        # the state (kiosk/phone/view.py), and the page must then say no wait
        # at all, neither a number nor "chờ quầy mở lại".
        bad = "20261202-A900"
        tickets[bad] = {"field": "tu-phap", "state": "waiting", "ahead": 2,
                        "wait_min": -4.0, "wait_low_min": 1.0, "wait_high_min": 2.0}
        staff = bus("tester")
        staff.publish("queue/tickets", {"day": "2026-12-02", "day_closed": False,
                                        "updated_at": 1.0, "tickets": tickets}, retain=True)
        wait_state(phone, ids[-1], lambda s: s["status"] == "waiting")
        page = browser.new_page()
        for tid, (m, low, high) in zip(ids, CASES):
            page.goto(phone.address(tid))
            page.wait_for_selector("#wait:not([hidden])")
            assert _lines(page) == ("Thời gian chờ ước tính: " + waitwords.phrase(m, low, high, "vi"),
                                    "Estimated wait: " + waitwords.phrase(m, low, high, "en")), (m, low, high)
            check_fit(page, 320)      # the longest wording too, on the narrowest phone
        # The page's copy of short() too (the console's, byte for byte).
        got = page.evaluate("cases => cases.map(c => [waitWords.short(c[0], c[1], c[2], 'vi'), "
                            "waitWords.short(c[0], c[1], c[2], 'en')])", [list(c) for c in CASES])
        assert got == [[waitwords.short(*c, lang="vi"), waitwords.short(*c, lang="en")] for c in CASES]
        page.goto(phone.address(bad))
        page.wait_for_function("() => document.getElementById('ahead').textContent.startsWith('Còn 2 người')")
        assert page.is_hidden("#wait") and page.is_visible("#ahead")
        assert "mở lại" not in page.inner_text("body") and "phút" not in page.inner_text("body")
    finally:
        phone.stop()


def test_a_field_whose_counters_are_all_paused_says_wait_for_a_counter(site, broker, core, bus, browser):
    """Đất đai is served by counter 3 alone: paused, its ticket has no wait
    to be told; resumed, it has one again, as waitwords words it."""
    phone = PhoneServer(site, broker)
    try:
        staff = bus("tester")
        issue(staff, "dat-dai")
        mine = issue(staff, "dat-dai")
        counter(staff, 3, "pause")
        state = wait_state(phone, mine, lambda s: s["status"] == "waiting" and s["wait_min"] is None)
        assert state["ahead"] == 1
        page = browser.new_page()
        page.goto(phone.address(mine))
        page.wait_for_function("() => document.getElementById('wait').firstChild && "
                               "document.getElementById('wait').firstChild.textContent.endsWith('mở lại')")
        assert _lines(page) == ("Thời gian chờ ước tính: chờ quầy mở lại",
                                "Estimated wait: when a counter reopens")
        assert page.text_content("#ahead").startswith("Còn 1 người trước bạn")
        check_fit(page, 320)
        counter(staff, 3, "resume")
        state = wait_state(phone, mine, lambda s: s["wait_min"] is not None)
        expected = "Thời gian chờ ước tính: " + waitwords.phrase(
            state["wait_min"], state["wait_low_min"], state["wait_high_min"])
        assert "khoảng" in expected or "dưới" in expected
        page.wait_for_function("t => document.getElementById('wait').firstChild.textContent === t",
                               arg=expected)
    finally:
        phone.stop()


def _fits(page, box: str, items: str) -> None:
    """At a 1024 and a 1366 wide screen, every one of ``items`` (the longest
    wording of the cases included) inside ``box`` (the console's panel clips
    what spills), text at least 14 px, and no sideways scroll."""
    for width in (1024, 1366):
        page.set_viewport_size({"width": width, "height": 768})
        page.wait_for_timeout(100)
        out = page.evaluate("""([box, items]) => {
            const b = document.querySelector(box).getBoundingClientRect();
            return [...document.querySelectorAll(items + ", " + items + " *")].filter(e => {
                const r = e.getBoundingClientRect();
                return r.left < b.left - 0.5 || r.right > b.right + 0.5
                    || e.scrollWidth > e.clientWidth + 1
                    || parseFloat(getComputedStyle(e).fontSize) < 14;
            }).map(e => e.textContent); }""", [box, items])
        assert out == [], (width, out)
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def _bodies(client) -> list[tuple[str, dict]]:
    import json
    with client.cond:
        return [(t, json.loads(p)) for t, p, _ in client.messages]


def _summary(field: str) -> dict:
    return {"day": "2026-12-02", "day_closed": False, "fields": [
        {"field": field, "name_vi": f"Văn hóa – Xã hội {i}", "name_en": f"Culture {i}", "prefix": "A", "waiting": i,
         "priority_waiting": 0, "issued": i, "quota_left": 9, "open": True,
         "estimated_wait_min": m, "wait_low_min": low, "wait_high_min": high, "counters": [1]}
        for i, (m, low, high) in enumerate(CASES)]}


def test_the_console_and_the_dashboard_say_each_case_as_waitwords_short(site, broker, core, bus, browser):
    """The console's field list and the dashboard's field table, drawn by
    their own code (renderSummary, renderFields) from a summary of the
    cases, read back in the same turn of the page's event loop (a live
    summary from the core cannot come in between)."""
    from tests.test_web import signed_in
    from tests.test_web_screens import start_web
    web = start_web(site, broker, core, bus)
    try:
        expected = [waitwords.short(*c) for c in CASES]
        console = signed_in(browser, web, "nv01", counter=1)
        console.set_viewport_size({"width": 1366, "height": 768})
        got = console.evaluate("s => { renderSummary(s); return [...document.querySelectorAll("
                               "'#field-counts li .est')].map(e => e.textContent); }",
                               _summary("tu-phap"))
        assert got == expected
        _fits(console, ".waiting", "#field-counts li")

        # And live: the core's own summary, beside the count of waiting.
        watcher = bus("tester")
        watcher.subscribe("queue/summary")
        for _ in range(3):
            issue(web.admin, "tu-phap")
        live = watcher.wait_for(lambda t, b: t == "queue/summary" and b["fields"][0]["waiting"] == 3)
        f = live["fields"][0]
        assert f["estimated_wait_min"] is not None
        console.reload()          # the first render, from the retained summary
        console.wait_for_function("() => document.querySelector('#field-counts li b') && "
                                  "document.querySelector('#field-counts li b').textContent === '3'")
        row = console.eval_on_selector("#field-counts li", "li => [...li.children].map(e => e.textContent)")
        assert row[0] == "Tư pháp – Hộ tịch" and row[2] == "3"
        # The latest summary the core sent (a heartbeat may have replaced the first).
        f = [b for t, b in _bodies(watcher) if t.endswith("queue/summary")][-1]["fields"][0]
        assert row[1] == waitwords.short(f["estimated_wait_min"], f["wait_low_min"], f["wait_high_min"])

        # The head's dashboard (the same browser: this login ends the console's session).
        dash = signed_in(browser, web, "ld01")
        got = dash.evaluate("s => { renderFields(s); return [...document.querySelectorAll("
                            "'#fields tbody td.est')].map(e => e.textContent); }", _summary("tu-phap"))
        assert got == expected
        _fits(dash, "section.fields", "#fields td")
    finally:
        web.stop()
