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
              "web": {**cfg["web"], "port": 9999, "alert_wait_min": 7},
              "mqtt": {**cfg["mqtt"], "port": 1}}
    taken = settings.adopt(local, theirs)
    assert taken.fields[0].name_vi == "Mới" and taken.web.alert_wait_min == 7
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

