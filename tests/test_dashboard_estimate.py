"""The dashboard's estimate error (issue 20): how far today's told waits were
from the real ones, worked out by hand.

A morning is played on the real engine with its clock driven (the same
engine the core runs, writing its SQLite file), then ``phucvu core`` runs on
that file with the web console, and the head's dashboard in chromium shows
the figure.  Real Mosquitto, core process, SQLite file, web server, chromium.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
import uuid

from kiosk.web import figures
from tests.conftest import CoreProcess
from tests.test_cases_core import Clock
from tests.test_web import ROSTER, launch, login  # noqa: F401

NB = "\u00a0"
HEAD = "Sai số ước tính thời gian chờ hôm nay: "


def test_the_error_of_known_rows():
    """Rows as ``day_times`` gives them: (field, counter, issued, first call,
    latest call, finished, state, est_wait_s)."""
    rows = [
        ("f", 1, 0.0, 60.0, 60.0, 900.0, "finished", 0.0),         # told 0, waited 1 min: 60 s off
        ("f", 1, 0.0, 600.0, 900.0, None, "called", 900.0),       # told 15, waited 10: 300 s, within
        ("f", 2, 100.0, 1001.0, 1001.0, None, "called", 600.0),   # told 10, waited 15:01: 301 s, not
        ("f", 2, 0.0, 2700.0, 2700.0, None, "no_show", 1800.0),   # told 30, waited 45: 900 s
        ("f", 2, 0.0, 50.0, 50.0, None, "called", None),          # told nothing (paused): left out
        ("f", None, 0.0, None, None, None, "waiting", 600.0),     # never called: left out
    ]
    e = figures.estimate_error(rows)
    # (60 + 300 + 301 + 900) / 4 = 390.25 s = 6.504 min; 2 of 4 within 5 minutes.
    assert e["n"] == 4 and abs(e["mae_min"] - 6.5041667) < 1e-6 and e["within_5_share"] == 0.5
    assert e["text"] == f"{HEAD}trung bình 6,5{NB}phút · 50{NB}% trong 5{NB}phút (4{NB}phiếu)"
    assert figures.estimate_error(rows[4:]) == {
        "n": 0, "mae_min": None, "within_5_share": None,
        "text": HEAD + "chưa có phiếu nào đã gọi để so"}


def _morning(site, db) -> float:
    """Đất đai (counter 3 alone, 20 minutes a citizen in the demo site) from
    an idle start; returns when the first ticket was issued."""
    from kiosk.core.commands import Commands
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store
    # Two hours ago, but today in the site's zone (the dashboard shows today).
    now = dt.datetime.now(site.tz)
    midnight = dt.datetime.combine(now.date(), dt.time(0, 1), site.tz).timestamp()
    clock = Clock(max(midnight, now.timestamp() - 7200))
    start = clock.wall
    store = Store(db)
    engine = Engine(site, store, clock=lambda: clock.wall, monotonic=lambda: clock.mono,
                    boot=lambda: "boot-1")
    cmds = Commands(site, engine)

    def issue() -> None:
        assert cmds.core_command({"command_id": uuid.uuid4().hex, "action": "issue",
                                  "field": "dat-dai"})["ok"]

    def press(action: str, **extra) -> None:
        r = cmds.counter_command(3, {"command_id": uuid.uuid4().hex, "action": action, **extra})
        assert r["ok"], r

    try:
        for _ in range(4):          # C001..C004 at +0, +1, +2, +3 min
            issue()
            clock.step(60)
        press("next")               # +4: C001
        clock.step(900)
        press("next")               # +19: C002
        clock.step(120)
        press("recall")             # +21: C002 again (its wait ends at its first call)
        clock.step(1680)
        press("next")               # +49: C003; C004 is never called
        press("pause")
        issue()                     # +49: C005, told no wait (no open counter)
        press("resume")
        clock.step(60)
        press("call", number="C005")   # +50: C005
    finally:
        store.close()
    return start


def test_the_dashboard_shows_the_error_of_a_real_morning(site, broker, bus, tmp_path):
    from tests.test_web_screens import start_web
    db = tmp_path / "phucvu.db"
    start = _morning(site, db)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        told = dict(c.execute("SELECT label, est_wait_s FROM tickets"))
        first = dict(c.execute("SELECT label, first_called_at - issued_at FROM tickets"))
    # The forecast with no history: 20 minutes a citizen at one idle counter,
    # so the k-th ticket is told 20·k minutes; C005 (counter paused) nothing.
    assert told == {"C001": 0.0, "C002": 1200.0, "C003": 2400.0, "C004": 3600.0, "C005": None}
    assert first == {"C001": 240.0, "C002": 1080.0, "C003": 2820.0, "C004": None, "C005": 60.0}
    # By hand: |0 - 240| = 240, |1200 - 1080| = 120, |2400 - 2820| = 420 seconds:
    # 780 / 3 = 260 s = 4.33 min; 240 and 120 are within 300 s, 420 is not: 2 of 3 = 67 %.
    expected = f"{HEAD}trung bình 4,3{NB}phút · 67{NB}% trong 5{NB}phút (3{NB}phiếu)"

    core = CoreProcess(broker, db).start()
    web = None
    try:
        web = start_web(site, broker, core, bus)
        from playwright.sync_api import sync_playwright
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
            ctx = launch(p, profile)
            page = ctx.new_page()
            page.set_viewport_size({"width": 1366, "height": 768})
            login(page, web.url, "ld01", "5678")
            page.wait_for_url("**/dashboard")
            page.wait_for_function("t => document.getElementById('est-error').textContent === t",
                                   arg=expected)
            # Beside the wait percentiles, in the page's own type (not a footnote).
            size = page.eval_on_selector("#est-error", "e => parseFloat(getComputedStyle(e).fontSize)")
            assert size >= 16
            # The day shown is the morning's, in the site's zone.
            assert page.get_attribute("body", "data-today") == \
                dt.datetime.fromtimestamp(start, site.tz).date().isoformat()
            ctx.close()
    finally:
        if web is not None:
            web.stop()
        core.stop()

