"""The whole chain an admin relies on, with every part real: a change typed
in the admin page (Debian's chromium) is checked by the web, saved by the
real ``phucvu core`` process, and shown by the running kiosk (its real root
widget, in this process) and the running wall display (its real app, in a
process of its own), without restarting any of them.  The two halves are
tested in detail in tests/test_web_admin.py and tests/test_live_e2e.py.
"""
from __future__ import annotations

from tests.test_display_live import wall  # noqa: F401  (fixture)
from tests.test_kiosk_live import shot, tile_texts
from tests.test_kiosk_ui import make_kiosk, pump, window  # noqa: F401  (fixtures)
from tests.test_web import browser, signed_in, web  # noqa: F401  (fixtures)
from tests.test_web_admin import core, loaded, open_tab, save, site_file  # noqa: F401  (fixtures)


def test_a_change_typed_in_the_admin_page_reaches_the_kiosk_and_the_wall(
        web, browser, window, make_kiosk, wall, tmp_path):  # noqa: F811
    k = make_kiosk()
    s = wall(tmp_path / "voice")
    s.wait(lambda f: f["fields"] and f["fields"][0] == "Tư pháp – Hộ tịch")

    page = loaded(signed_in(browser, web, "qt01"))
    open_tab(page, "fields")
    page.fill("[data-loc='fields[0].name_vi']", "Hộ tịch – Chứng thực")
    page.check("[data-loc='fields[3].closed']")          # Văn hóa – Xã hội: nobody waits
    open_tab(page, "display")
    page.fill("[data-loc='display.notice']", "Chiều thứ Sáu trung tâm làm việc đến 16:30")
    assert save(page).startswith("Đã lưu phiên bản"), page.text_content("#save-msg")

    pump(lambda: k.root.choices.tiles["tu-phap"].name == "Hộ tịch – Chứng thực", what="the kiosk's renamed tile")
    assert tile_texts(k)["van-hoa-xa-hoi"][-1] == "Tạm ngừng nhận hồ sơ"
    assert k.root.choices.tiles["van-hoa-xa-hoi"].disabled
    shot(window, tmp_path, "admin-e2e-kiosk")
    frame = s.wait(lambda f: f["notice"] == "Chiều thứ Sáu trung tâm làm việc đến 16:30")
    assert frame["fields"][0] == "Hộ tịch – Chứng thực"
    assert "Chiều thứ Sáu trung tâm làm việc đến 16:30" in frame["texts"]
