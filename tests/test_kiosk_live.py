"""The running kiosk takes a saved change of the centre (the retained
config/site) without a restart: the real root widget rendered offscreen, a
real Mosquitto, the payload published as the core publishes it.
"""
from __future__ import annotations

import json
import logging

from tests.test_kiosk_ui import TICKET, make_kiosk, pump, responder, tap, window  # noqa: F401
from tests.test_live_config import payload


def changed(site) -> dict:
    """The demo site as the head changes it during the day."""
    c = site.model_dump(mode="json")
    c["site"]["commune"] = "Xã Hòa Bình Mới"
    c["site"]["centre"] = "Bộ phận Một cửa (đã đổi)"
    c["fields"][0]["name_vi"] = "Hộ tịch – Chứng thực"
    c["fields"][0]["name_en"] = "Civil status"
    c["fields"][1]["closed"] = True
    c["fields"].append({"code": "bao-hiem", "name_vi": "Bảo hiểm xã hội", "name_en": "Social insurance",
                        "prefix": "F", "minutes_per_citizen": 8, "icon": "van-hoa-xa-hoi"})
    c["counters"][0]["fields"].append("bao-hiem")
    c["priority"]["classes"][0]["name_vi"] = "Người từ 75 tuổi"
    return c


def tile_texts(k) -> dict[str, list[str]]:
    from kivy.uix.label import Label
    return {code: [w.text for w in tile.walk(restrict=True) if isinstance(w, Label) and w.text]
            for code, tile in k.root.choices.tiles.items()}


def shot(window, folder, name: str):
    from kivy.base import EventLoop
    for _ in range(3):
        EventLoop.idle()
    made = window.screenshot(name=str(folder / f"{name}.png"))
    assert made, f"screenshot {name} not written"
    return made


def test_idle_home_takes_a_change_at_once(window, make_kiosk, bus, site, tmp_path):
    k = make_kiosk()
    tester = bus("tester")
    shot(window, tmp_path, "kiosk-before")
    tester.publish("config/site", payload(changed(site)), retain=True)
    pump(lambda: "bao-hiem" in k.root.choices.tiles, what="the added field's tile")
    texts = tile_texts(k)
    assert texts["tu-phap"][0] == "Hộ tịch – Chứng thực"
    assert texts["bao-hiem"][0] == "Bảo hiểm xã hội"
    assert k.root.choices.tiles["bao-hiem"].icon == "van-hoa-xa-hoi"
    assert k.root.choices.tiles["bao-hiem"] in k.root.screens["home"].ids.tiles.children
    closed = k.root.choices.tiles["chung-thuc"]
    assert texts["chung-thuc"] == ["Chứng thực", "Tạm ngừng nhận hồ sơ"]
    assert closed.disabled and closed.tile_state == "field_closed"
    assert k.root.ids.header.commune == "Xã Hòa Bình Mới"
    assert k.root.ids.header.centre == "Bộ phận Một cửa (đã đổi)"
    assert k.root.choices.class_buttons["cao-tuoi"].text == "Người từ 75 tuổi"
    print("screenshot:", shot(window, tmp_path, "kiosk-after"))
    # The closed tile cannot be pressed: no request goes out.
    tap(closed)
    k.advance(2)
    assert k.sent == [] and k.screen == "home"
    # English names too.
    k.root.toggle_lang()
    assert tile_texts(k)["chung-thuc"] == ["Certification", "Not taking applications for now"]
    # A field removed disappears from the home screen.
    c = changed(site)
    c["fields"] = [f for f in c["fields"] if f["code"] != "kinh-te"]
    for counter in c["counters"]:
        counter["fields"] = [f for f in counter["fields"] if f != "kinh-te"] or ["tu-phap"]
    tester.publish("config/site", payload(c, version=3), retain=True)
    pump(lambda: "kinh-te" not in k.root.choices.tiles, what="the removed field's tile gone")
    assert all(t.code != "kinh-te" for t in k.root.screens["home"].ids.tiles.children)


def test_a_citizen_mid_flow_keeps_the_screen_until_home(window, make_kiosk, bus, site, tmp_path):
    core = responder(bus, lambda req: {"ok": True, "ticket": TICKET, "print": {"status": "printed"}})
    k = make_kiosk()
    tester = bus("tester")
    tap(k.root.choices.tiles["tu-phap"])
    assert k.screen == "printing" and len(k.sent) == 1
    tester.publish("config/site", payload(changed(site)), retain=True)
    pump(lambda: k.root.config_waiting is not None, what="the change held back")
    # The citizen's ticket screen is untouched, the tiles are the old ones.
    assert k.screen == "printing"
    assert "bao-hiem" not in k.root.choices.tiles
    assert k.root.ids.header.commune == site.site.commune
    k.advance(1.5)
    pump(lambda: k.shown_number() == "A013", what="the printed number")
    assert k.root.choices.tiles["tu-phap"].name == "Tư pháp – Hộ tịch"
    k.advance(k.root.tm.result_s + 0.5)
    assert k.screen == "home"
    assert "bao-hiem" in k.root.choices.tiles and k.root.config_waiting is None
    assert k.root.choices.tiles["tu-phap"].name == "Hộ tịch – Chứng thực"
    core.close()


def test_field_closed_refusal_is_a_closed_screen(window, make_kiosk, bus):
    responder(bus, lambda req: {"ok": False, "error": {"code": "field_closed",
                                                       "message": "field chung-thuc is closed"}})
    k = make_kiosk()
    tap(k.root.choices.tiles["chung-thuc"])     # closed at the core before the kiosk heard
    pump(lambda: k.screen == "closed", what="the closed screen")
    s = k.root.screens["closed"]
    assert s.reason == "Lĩnh vực này đang tạm ngừng nhận hồ sơ"
    assert s.title == "Hiện không nhận số thứ tự"


def test_bad_payloads_change_nothing_and_log_one_line(window, make_kiosk, bus, site, caplog):
    k = make_kiosk()
    tester = bus("tester")
    before = {code: t.name for code, t in k.root.choices.tiles.items()}
    bad = changed(site)
    bad["fields"][0]["prefix"] = "ab"
    other = changed(site)
    other["site"]["id"] = "xa-khac"
    with caplog.at_level(logging.INFO, logger="phucvu.kiosk"):
        for i, body in enumerate((bad, other)):
            tester.publish("config/site", payload(body, version=10 + i), retain=True)
            pump(lambda: sum(r.levelno == logging.ERROR for r in caplog.records) == i + 1,
                 what="the error line")
        tester.publish("config/site", b"not json", retain=True)
        for _ in range(50):
            pump(lambda: True)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 3, errors
    assert "fields[0].prefix" in errors[0] and "\n" not in errors[0]
    assert "site.id" in errors[1] and "xa-khac" in errors[1]
    assert "config/site" in errors[2]
    assert {code: t.name for code, t in k.root.choices.tiles.items()} == before
    assert k.root.cfg is k.root.live.config and k.root.ids.header.commune == site.site.commune
    assert json.loads(json.dumps(k.root.cfg.model_dump(mode="json"))) == site.model_dump(mode="json")


def test_the_listen_voice_takes_the_new_announcer(site, tmp_path):
    from display import announcer
    from kiosk.config import merge
    from kiosk.ui.voice import Guide
    guide = Guide(site, make=lambda cfg: announcer.from_config(cfg, output_dir=tmp_path))
    try:
        guide.say("Mời chọn lĩnh vực")
        assert guide.wait_idle(60) and guide._voice.engine.speed == site.announcer.speed
        c = site.model_dump(mode="json")
        c["announcer"]["speed"] = 110
        c["announcer"]["voice"] = "vi-vn-x-south"
        guide.retune(merge(site, payload(c)))
        assert (guide._voice.engine.speed, guide._voice.engine.voice) == (110, "vi-vn-x-south")
        guide.say("Nghe hướng dẫn")
        assert guide.wait_idle(60) and len(guide.spoken) == 2
        # A voice espeak-ng lacks: the old one stays.
        c["announcer"]["voice"] = "khong-co-giong-nay"
        guide.retune(merge(site, payload(c)))
        assert guide._voice.engine.voice == "vi-vn-x-south"
    finally:
        guide.close()
