"""The admin pages in a real Chromium: the centre's config edited in the
browser, checked by the config model in the web, applied by the real
``phucvu core`` (``config_apply``), seen on the bus, in the retained
``config/site`` and in the site file; the roles; the history and restore;
the printer and voice tests.

Real parts as in tests/test_web.py: Mosquitto, the core process on its own
copy of the demo site file (the core rewrites the file it was started with),
the web server, Debian's chromium via Playwright.
"""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from tests.conftest import DEMO_SITE, CoreProcess
from tests.test_web import browser, core_command, signed_in, web  # noqa: F401  (fixtures)


@pytest.fixture
def site_file(tmp_path) -> Path:
    d = tmp_path / "etc"
    d.mkdir()
    path = d / "site.toml"
    shutil.copy(DEMO_SITE, path)
    return path


@pytest.fixture
def core(broker, tmp_path, site_file):
    """The core on its own copy of the site file (click keeps the last --config)."""
    c = CoreProcess(broker, tmp_path / "phucvu.db", extra=["--config", str(site_file)]).start()
    yield c
    c.stop()


def open_tab(page, tab: str):
    page.click(f"#tabs a[data-tab='{tab}']")
    page.wait_for_selector(f"#tab-{tab}:not(.hidden)")


def loaded(page):
    """The admin page with its config drawn."""
    page.wait_for_selector("#fields .item", state="attached")
    return page


def error_at(page, loc: str) -> str:
    sel = f".err[data-for='{loc}']"
    page.wait_for_selector(sel)
    return page.text_content(sel)


def site_text(site_file: Path) -> str:
    return site_file.read_text(encoding="utf-8")


def test_wrong_values_are_shown_next_to_their_input_and_nothing_is_sent(web, browser, bus, site_file):
    watch = bus("tester")
    watch.subscribe("core/command")
    before = site_text(site_file)
    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "fields")
    page.fill("[data-loc='fields[2].prefix']", "ab")
    page.fill("[data-loc='fields[4].daily_quota']", "0")
    page.click("#save")
    assert "should match pattern" in error_at(page, "fields[2].prefix")
    assert "greater than or equal to 1" in error_at(page, "fields[4].daily_quota")
    # Each note sits in the label of the input it is about, which is marked.
    for loc in ("fields[2].prefix", "fields[4].daily_quota"):
        assert page.eval_on_selector(
            f".err[data-for='{loc}']",
            "e => e.closest('label').querySelector('input').dataset.loc") == loc
        assert page.get_attribute(f"input[data-loc='{loc}']", "aria-invalid") == "true"
    assert "chưa hợp lệ" in page.text_content("#save-msg")
    assert page.text_content("#tabs a[data-tab='fields'] .count") == "2"
    # The model checks across entries once each entry is right: a prefix used twice.
    page.fill("[data-loc='fields[2].prefix']", "C")
    page.fill("[data-loc='fields[4].daily_quota']", "100")
    page.fill("[data-loc='fields[3].prefix']", "A")         # field 0 has A
    page.click("#save")
    assert "Tiền tố «A» đã dùng" in error_at(page, "fields[3].prefix")
    assert page.locator(".err").count() == 1
    assert page.get_attribute("input[data-loc='fields[2].prefix']", "aria-invalid") is None
    # Nothing reached the core, and the file is as it was.
    page.wait_for_timeout(300)
    assert not [b for t, b in watch.messages if t == "core/command" and b.get("action") == "config_apply"]
    assert site_text(site_file) == before


def test_an_error_on_another_tab_opens_that_tab(web, browser):
    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "counters-setup")
    # Counter 3 stops serving dat-dai: no counter serves it any more.
    page.click("#counters-setup [data-act='remove'][data-at='counters[2].fields[0]']")
    page.click("#save")
    text = error_at(page, "fields[2]")
    assert "Chưa có quầy nào phục vụ lĩnh vực «Đất đai – Xây dựng»" in text
    page.wait_for_selector("#tab-fields:not(.hidden)")
    assert page.evaluate("location.hash") == "#fields"


def test_the_head_sees_read_only_and_is_refused(web, browser, site_file):
    page = signed_in(browser, web, "ld01")
    assert page.goto(web.url + "/admin").status == 403
    page.goto(web.url + "/settings")
    loaded(page)
    open_tab(page, "fields")
    assert page.is_disabled("[data-loc='fields[0].name_vi']")
    assert page.is_hidden("#save")
    assert page.is_hidden("#fields-add")
    open_tab(page, "roster")
    page.wait_for_selector("#roster tr[data-code=nv01]")
    assert page.locator("#roster .toggle").count() == 0
    assert page.is_hidden("#add")
    open_tab(page, "devices")
    assert page.is_disabled("#print-test")
    before = site_text(site_file)
    csrf = page.get_attribute('meta[name="csrf"]', "content")
    cfg = page.evaluate("fetch('/api/config').then(r => r.json())")
    assert cfg["can_edit"] is False
    for url, body in (("/api/config/apply", {"base": cfg["hash"], "edits": {"site": {"commune": "Xã Khác"}}}),
                      ("/api/config/restore", {"version": 1}),
                      ("/api/test/print", {}), ("/api/test/voice", {"text": "thử"})):
        r = browser.request.post(web.url + url, data=body, headers={"X-CSRF-Token": csrf})
        assert r.status == 403, url
    assert site_text(site_file) == before


def test_staff_get_403(web, browser):
    page = signed_in(browser, web, "nv01", counter=1)
    csrf = page.get_attribute('meta[name="csrf"]', "content")
    for url in ("/admin", "/settings"):
        assert page.goto(web.url + url).status == 403
    for url in ("/api/config", "/api/config/history", "/api/officials"):
        assert browser.request.get(web.url + url).status == 403, url
    r = browser.request.post(web.url + "/api/config/apply", data={"base": "x", "edits": {}},
                             headers={"X-CSRF-Token": csrf})
    assert r.status == 403
    # Without the CSRF token an admin's save is refused too.
    browser.clear_cookies()
    admin = signed_in(browser, web, "qt01")
    r = browser.request.post(web.url + "/api/config/apply", data={"base": "x", "edits": {}})
    assert r.status == 403 and admin.url.endswith("/admin")


def test_keyboard_moves_a_counters_field(web, browser):
    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "counters-setup")
    page.focus("[data-act='down'][data-at='counters[0].fields[0]']")
    page.keyboard.press("Enter")
    order = page.eval_on_selector_all("#counters-setup .item:first-child .served li", "ls => ls.map(l => l.dataset.code)")
    assert order == ["chung-thuc", "tu-phap"]
    assert page.is_visible("#dirty")
    # Typing a name and leaving it with Tab: the heading follows, the focus moves on.
    open_tab(page, "fields")
    page.focus("[data-loc='fields[1].name_vi']")
    page.keyboard.press("End")
    page.keyboard.type(" (bản sao)")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.loc") == "fields[1].name_en"
    assert page.text_content("#fields .item:nth-child(2) .item-head b") == "Chứng thực (bản sao)"
    open_tab(page, "counters-setup")
    assert "Chứng thực (bản sao)" in page.text_content("#counters-setup")
    # At 1024 px nothing scrolls sideways.
    for w in (1024, 1366):
        page.set_viewport_size({"width": w, "height": 768})
        for tab in ("roster", "centre", "fields", "counters-setup", "priority", "rating", "display",
                    "devices", "history"):
            open_tab(page, tab)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (w, tab)




def test_a_new_field_and_own_hours_are_checked_like_the_file(web, browser):
    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "fields")
    page.click("#fields-add")
    assert page.input_value("[data-loc='fields[5].prefix']") == "F"      # the next free letter
    page.check("[data-act='own-hours'][data-at='fields[0]']")
    page.fill("[data-loc='fields[0].hours[0].close']", "25:00")
    page.click("#save")
    assert "Chữ thường không dấu" in error_at(page, "fields[5].code")
    assert "Chưa điền" in error_at(page, "fields[5].name_vi")
    assert "HH:MM" in error_at(page, "fields[0].hours[0].close")
    page.fill("[data-loc='fields[5].code']", "noi-vu")
    page.fill("[data-loc='fields[5].name_vi']", "Nội vụ")
    page.fill("[data-loc='fields[5].name_en']", "Home affairs")
    page.fill("[data-loc='fields[0].hours[0].close']", "17:00")
    page.click("#save")
    # Right by itself, but no counter serves it yet: the model says so, in Vietnamese.
    assert "Chưa có quầy nào phục vụ lĩnh vực «Nội vụ»" in error_at(page, "fields[5]")


# ---- the web's own config work (kiosk/web/settings.py), no browser

def demo_json():
    from kiosk import config
    from kiosk.web import settings
    return settings, settings.as_json(config.load(DEMO_SITE))


def test_merge_lays_the_edits_over_the_whole_config():
    settings, cfg = demo_json()
    merged = settings.merge(cfg, {"site": {"commune": "Xã Mới", "id": "other"},
                                  "rating": {"window_s": 90},
                                  "fields": cfg["fields"][:1]})
    assert merged["site"] == {**cfg["site"], "commune": "Xã Mới"}      # id is not the page's
    assert merged["rating"]["window_s"] == 90
    assert merged["rating"]["late_after_s"] == cfg["rating"]["late_after_s"]
    assert len(merged["fields"]) == 1 and merged["mqtt"] == cfg["mqtt"]
    assert cfg["site"]["commune"] == "Xã Thắng Lộc"                    # the current one untouched
    with pytest.raises(ValueError):
        settings.merge(cfg, {"mqtt": {"port": 1}})


def test_the_web_takes_the_live_sections_and_keeps_its_own():
    from kiosk import config
    settings, cfg = demo_json()
    local = config.load(DEMO_SITE)
    theirs = {**cfg, "fields": [{**cfg["fields"][0], "name_vi": "Mới"}, *cfg["fields"][1:]],
              "web": {**cfg["web"], "port": 9999, "alert_imbalance_waiting": 7},
              "mqtt": {**cfg["mqtt"], "port": 1}}
    taken = settings.adopt(local, theirs)
    assert taken.fields[0].name_vi == "Mới" and taken.web.alert_imbalance_waiting == 7
    assert taken.web.port == local.web.port and taken.mqtt.port == local.mqtt.port
    with pytest.raises(ValueError, match="site.id"):
        settings.adopt(local, {**cfg, "site": {**cfg["site"], "id": "elsewhere"}})
    with pytest.raises(ValueError, match="daily_quota"):
        settings.adopt(local, {**cfg, "fields": [{**cfg["fields"][0], "daily_quota": 0}]})
    # THE CONTRACT's hash: the first 16 hex of sha256 over sorted, unescaped JSON.
    import hashlib
    import json
    want = hashlib.sha256(json.dumps(cfg, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    assert settings.config_hash(cfg) == want
    from kiosk.core.store_sitefile import config_hash      # the core's, which it publishes
    assert config_hash(cfg) == want


def test_the_history_reads_an_old_database_as_empty(tmp_path):
    """A file from before ``config_versions`` (schema 6): the history is empty, not an error."""
    import sqlite3

    from kiosk.core.store import Store
    from kiosk.web.reader import Reader
    db = tmp_path / "old.db"
    Store(db).close()
    with sqlite3.connect(db) as c:
        c.execute("DROP TABLE config_versions")
    assert Reader(db).config_versions() == []


def test_errors_are_placed_at_their_input():
    settings, cfg = demo_json()
    cfg["counters"][1]["fields"] = ["chung-thuc", "nope"]
    errors = settings.validate(cfg)
    assert [(e["loc"], e["text"]) for e in errors] == [("counters[1].fields", "Không có lĩnh vực «nope»")]
    _, cfg = demo_json()
    cfg["hours"][0]["close"] = "00:00"
    assert settings.validate(cfg)[0]["loc"] == "hours[0]"
    assert settings.validate(cfg)[0]["text"] == "Giờ đóng 00:00 phải sau giờ mở 00:00"
    _, cfg = demo_json()
    cfg["priority"]["classes"][3]["code"] = "cao-tuoi"
    [e] = settings.validate(cfg)
    assert e["loc"] == "priority.classes[3].code" and "«cao-tuoi» đã dùng" in e["text"]
    # The core's errors (loc and message only) are placed the same way.
    [e] = settings.placed("", "fields: prefix 'B' is used twice",
                          {"fields": [{"prefix": "B"}, {"prefix": "A"}, {"prefix": "B"}]})
    assert e["loc"] == "fields[2].prefix"


# ---- with the core's config_apply, config_restore, print_test and voice_test

NEW_NAME = "Hộ tịch – Tư pháp"


def save(page) -> str:
    page.click("#save")
    page.wait_for_function("['Đã lưu', 'Không', 'Có '].some(s => "
                           "document.getElementById('save-msg').textContent.startsWith(s))")
    return page.text_content("#save-msg")


def rename_and_reorder(page):
    """fields[0] renamed; counter 1 serves chung-thuc before tu-phap."""
    open_tab(page, "fields")
    page.fill("[data-loc='fields[0].name_vi']", NEW_NAME)
    open_tab(page, "counters-setup")
    page.focus("[data-act='down'][data-at='counters[0].fields[0]']")
    page.keyboard.press("Enter")


def test_a_rename_and_a_counters_order_reach_the_running_core(web, browser, bus, site_file):
    display = bus("display-1")
    display.subscribe("display/snapshot")
    watch = bus("tester")
    watch.subscribe("queue/summary", "counter/1/state")
    page = loaded(signed_in(browser, web, "qt01"))
    rename_and_reorder(page)
    assert save(page).startswith("Đã lưu phiên bản")
    lines = page.text_content("#save-lines")
    assert NEW_NAME in lines and "counters[1].fields" in lines
    assert page.locator("#save-lines li.effect").count() >= 1
    assert page.is_hidden("#dirty")
    # The page's own save arriving on config/site is not "someone else saved".
    page.wait_for_timeout(500)
    assert page.text_content("#save-msg").startswith("Đã lưu phiên bản")

    # The retained config/site, as a newly connected client gets it.
    late = bus("tester")
    late.subscribe("config/site")
    site = late.wait_for(lambda t, b: t == "config/site" and b["config"]["fields"][0]["name_vi"] == NEW_NAME)
    assert site["by"] == "qt01" and site["config"]["counters"][0]["fields"] == ["chung-thuc", "tu-phap"]
    # The file the core was started with, the old one kept beside it.
    saved = tomllib.loads(site_text(site_file))
    assert saved["fields"][0]["name_vi"] == NEW_NAME
    assert saved["counters"][0]["fields"] == ["chung-thuc", "tu-phap"]
    assert "Tư pháp – Hộ tịch" in (site_file.parent / "site.toml.prev").read_text(encoding="utf-8")
    # The running core's names, on the display's snapshot and the kiosks' summary.
    display.wait_for(lambda t, b: t == "display/snapshot" and
                     any(w["name_vi"] == NEW_NAME for w in b["waiting"]))
    watch.wait_for(lambda t, b: t == "queue/summary" and
                   any(f.get("name_vi") == NEW_NAME for f in b["fields"]))
    # A tu-phap ticket then a chung-thuc one: counter 1 now calls chung-thuc first.
    assert core_command(web.admin, {"action": "issue", "field": "tu-phap"})["ok"]
    assert core_command(web.admin, {"action": "issue", "field": "chung-thuc"})["ok"]
    assert core_command(web.admin, {"action": "login", "official": "nv01", "counter": 1})["ok"]
    box = bus("tester")
    box.subscribe("counter/1/reply")
    box.publish("counter/1/command", {"command_id": "adm-1", "action": "next"})
    reply = box.wait_for(lambda t, b: t == "counter/1/reply" and b["command_id"] == "adm-1")
    assert reply["ticket"]["label"] == "B001"
    # The web runs on the new config too: its names and the console's.
    assert web.app.state.bus.config.fields[0].name_vi == NEW_NAME
    assert page.evaluate("fetch('/api/site').then(r => r.json())")["fields"][0]["name"] == NEW_NAME


def test_deleting_a_field_with_people_waiting_is_refused(web, browser, site_file):
    assert core_command(web.admin, {"action": "issue", "field": "kinh-te"})["ok"]
    before = site_text(site_file)
    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "fields")
    page.click("[data-act='remove'][data-at='fields[4]']")
    assert "Đã lưu" not in save(page)
    page.wait_for_selector("#save-lines li.bad")
    reason = page.text_content("#save-lines")
    assert "Kinh tế" in reason and "1" in reason
    assert site_text(site_file) == before


def test_a_stale_page_is_told_to_reload(web, browser):
    first = loaded(signed_in(browser, web, "qt01"))
    other = browser.new_page()     # the same admin in a second tab
    other.goto(web.url + "/admin#centre")
    loaded(other)
    open_tab(first, "centre")
    first.fill("[data-loc='site.province']", "Tỉnh Thanh Hóa")
    open_tab(other, "centre")
    other.fill("[data-loc='site.commune']", "Xã Thắng Lộc mới")
    assert save(first).startswith("Đã lưu")
    msg = save(other)
    assert "tải lại" in msg
    other.click("#stale-reload")
    other.wait_for_function("document.querySelector(\"[data-loc='site.province']\").value == 'Tỉnh Thanh Hóa'")


def test_history_lists_the_change_and_restore_brings_the_old_name_back(web, browser, bus, site_file):
    page = loaded(signed_in(browser, web, "qt01"))
    rename_and_reorder(page)
    assert save(page).startswith("Đã lưu phiên bản")
    version = int(page.text_content("#save-msg").split()[-1])
    open_tab(page, "history")
    row = f"#history tr[data-version='{version}']"
    page.wait_for_selector(row)
    text = page.text_content(row)
    assert "qt01" in text and NEW_NAME in text
    assert "Đang dùng" in text
    # dd/mm/yyyy HH:MM in the site's zone
    import re
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", text)
    page.click(f"#history tr[data-version='{version - 1}'] .restore")
    page.wait_for_function("document.getElementById('history-msg').textContent.startsWith('Đã khôi phục')")
    watch = bus("tester")
    watch.subscribe("config/site")
    watch.wait_for(lambda t, b: t == "config/site" and b["config"]["fields"][0]["name_vi"] == "Tư pháp – Hộ tịch")
    assert tomllib.loads(site_text(site_file))["fields"][0]["name_vi"] == "Tư pháp – Hộ tịch"
    page.wait_for_selector(f"#history tr[data-version='{version + 1}']")
    open_tab(page, "fields")
    page.wait_for_function("document.querySelector(\"[data-loc='fields[0].name_vi']\").value == 'Tư pháp – Hộ tịch'")


def test_printer_and_voice_tests_reach_the_core(web, browser, bus, core):
    display = bus("display-1")
    display.subscribe("display/voice")
    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "devices")
    printed = set(core.tickets.glob("*")) if core.tickets.exists() else set()
    page.click("#print-test")
    page.wait_for_function("document.getElementById('print-msg').textContent.startsWith('Đã in phiếu thử')")
    assert set(core.tickets.glob("*")) - printed
    page.fill("#voice-text", "Mời công dân có số thứ tự A001 đến quầy số 1")
    page.click("#voice-form button[type=submit]")
    said = display.wait_for(lambda t, b: t == "display/voice")
    assert said["text"] == "Mời công dân có số thứ tự A001 đến quầy số 1"
    page.wait_for_function("document.getElementById('voice-msg').textContent.startsWith('Đã gửi')")
