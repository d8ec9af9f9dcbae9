"""End to end: an admin's config_apply to the real ``phucvu core`` process is
shown by the running kiosk (its real root widget, in this process) and the
running wall display (its real app, in a process of its own, as in
tests/test_display_app.py) without restarting either; today's ticket stays.
"""
from __future__ import annotations

import copy

from tests.test_config_live import Admin, live, site_file  # noqa: F401
from tests.test_display_live import wall  # noqa: F401
from tests.test_kiosk_live import shot, tile_texts
from tests.test_kiosk_ui import make_kiosk, pump, tap, window  # noqa: F401


def test_config_apply_reaches_the_kiosk_and_the_display(live, window, make_kiosk, wall,  # noqa: F811
                                                        bus, tmp_path):
    admin = Admin(bus)
    first = admin.site()
    k = make_kiosk()
    s = wall(tmp_path / "voice")
    s.wait(lambda f: f["counters"] and f["counters"][0][0] == "Quầy 1")
    # A citizen takes a ticket before the change.
    tap(k.root.choices.tiles["tu-phap"])
    k.advance(1.5)
    pump(lambda: k.shown_number() == "A001", what="ticket A001 printed")
    k.advance(k.root.tm.result_s + 0.5)
    assert k.screen == "home"

    new = copy.deepcopy(first["config"])
    new["fields"][0]["name_vi"] = "Hộ tịch – Tư pháp"
    new["fields"][1]["closed"] = True
    new["counters"][0]["name"] = "Quầy A"
    new["display"]["notice"] = "Sáng thứ Bảy trung tâm làm việc đến 11:00"
    reply = admin.apply(new, first["hash"])
    assert reply["ok"] is True, reply
    assert reply["version"] == first["version"] + 1

    pump(lambda: k.root.choices.tiles["tu-phap"].name == "Hộ tịch – Tư pháp", what="the renamed tile")
    texts = tile_texts(k)
    assert texts["chung-thuc"][-1] == "Tạm ngừng nhận hồ sơ"
    assert k.root.choices.tiles["chung-thuc"].disabled
    assert k.root.live.version == reply["version"] and k.root.live.hash == reply["hash"]
    print("screenshot:", shot(window, tmp_path, "e2e-kiosk"))

    frame = s.wait(lambda f: f["notice"] == "Sáng thứ Bảy trung tâm làm việc đến 11:00"
                   and f["counters"][0][0] == "Quầy A")
    assert frame["fields"][0] == "Hộ tịch – Tư pháp"
    shot_path = tmp_path / "e2e-display.png"
    s.send(f"shot {shot_path}")
    s.wait(lambda f: f.get("shot") == str(shot_path))

    # Today's queue is intact: the ticket taken before the change waits, and
    # the next one continues the numbering.
    tap(k.root.choices.tiles["tu-phap"])
    k.advance(1.5)
    pump(lambda: k.shown_number() == "A002", what="ticket A002 after the change")
    summary = admin.bus.wait_for(lambda t, b: t == "queue/summary" and any(
        f["field"] == "tu-phap" and f["waiting"] == 2 for f in b["fields"]))
    assert summary
