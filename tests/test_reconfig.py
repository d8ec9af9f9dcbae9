"""The rules for changing a running centre (kiosk/core/domain/reconfig.py), on
the demo site's real config and a queue state the real domain built."""
import copy
import datetime as dt
import tomllib

import pytest

from kiosk import config
from kiosk.core.domain import Queue
from kiosk.core.domain.reconfig import check, restart_key
from tests.conftest import DEMO_SITE

TZ = dt.timezone(dt.timedelta(hours=7))


def at(hh: int, mm: int = 0, ss: int = 0) -> float:
    return dt.datetime(2026, 11, 27, hh, mm, ss, tzinfo=TZ).timestamp()


@pytest.fixture
def raw():
    return tomllib.loads(DEMO_SITE.read_text(encoding="utf-8"))


@pytest.fixture
def old(raw):
    return config.parse(raw)


def edited(raw, edit):
    data = copy.deepcopy(raw)
    edit(data)
    return config.parse(data)


def field(data, code):
    return next(f for f in data["fields"] if f["code"] == code)


def drop_field(data, code):
    data["fields"] = [f for f in data["fields"] if f["code"] != code]
    for c in data["counters"]:
        c["fields"] = [x for x in c["fields"] if x != code]


def test_deleting_a_field_with_people_waiting_is_refused_closing_it_is_not(raw, old):
    q = Queue(old)
    for i in range(3):
        q.issue("tu-phap", None, at(8, 0, i))
    refusals, _, restart = check(old, edited(raw, lambda d: drop_field(d, "tu-phap")), q.state, 0.0)
    assert refusals == ["Lĩnh vực «Tư pháp – Hộ tịch» còn 3 người chờ: không xoá được, "
                        "chỉ tạm ngừng nhận số (closed)."]
    assert restart == []
    refusals, effects, _ = check(old, edited(raw, lambda d: field(d, "tu-phap").update(closed=True)),
                                 q.state, 0.0)
    assert refusals == []
    assert effects == ["fields[tu-phap].closed: no new tickets; the 3 waiting are still called"]


def test_a_field_being_served_or_absent_is_still_not_deletable(raw, old):
    q = Queue(old)
    q.issue("tu-phap", None, at(8))
    q.issue("tu-phap", None, at(8, 1))
    q.call_next(1, at(8, 2))
    q.no_show(1, at(8, 3))
    q.call_next(1, at(8, 4))
    refusals, _, _ = check(old, edited(raw, lambda d: drop_field(d, "tu-phap")), q.state, 0.0)
    assert len(refusals) == 1
    assert "1 người đang được phục vụ" in refusals[0] and "1 số vắng mặt" in refusals[0]
    q.finish(1, at(8, 5))
    q.call_specific(1, "A001", at(8, 6))
    q.finish(1, at(8, 7))
    refusals, effects, _ = check(old, edited(raw, lambda d: drop_field(d, "tu-phap")), q.state, 0.0)
    assert refusals == []
    assert "fields[tu-phap]: removed; today's finished tickets stay in the reports" in effects


def test_a_prefix_that_numbered_today_cannot_change_or_pass_to_another_field(raw, old):
    q = Queue(old)
    q.issue("chung-thuc", None, at(8))
    refusals, _, _ = check(old, edited(raw, lambda d: field(d, "chung-thuc").update(prefix="K")),
                           q.state, 0.0)
    assert refusals and "đã phát 1 số hôm nay với chữ B" in refusals[0]
    # A field with no ticket today may change its prefix ...
    refusals, _, _ = check(old, edited(raw, lambda d: field(d, "kinh-te").update(prefix="K")),
                           q.state, 0.0)
    assert refusals == []
    # ... but not to one another field numbered with today (B001 twice).
    q.call_next(1, at(8, 1))
    q.finish(1, at(8, 2))

    def swap(d):
        drop_field(d, "chung-thuc")
        field(d, "kinh-te")["prefix"] = "B"
    refusals, _, _ = check(old, edited(raw, swap), q.state, 0.0)
    assert refusals == ["Chữ B đã đánh số hôm nay cho lĩnh vực «Chứng thực»: lĩnh vực «Kinh tế» "
                        "không dùng được chữ này đến hết ngày (số sẽ trùng)."]


def test_a_counter_in_use_cannot_be_deleted(raw, old):
    q = Queue(old)
    q.login(4, "nv04", at(8))

    def drop_4(d):
        d["counters"] = [c for c in d["counters"] if c["number"] != 4]
        d["counters"][2]["fields"].append("van-hoa-xa-hoi")
    gone = edited(raw, drop_4)
    refusals, _, _ = check(old, gone, q.state, 0.0)
    assert refusals == ["«Quầy 4» cán bộ nv04 đang đăng nhập: không xoá được; đăng xuất, "
                        "kết thúc hoặc chuyển số trước."]
    q.logout(4, at(8, 1))
    assert check(old, gone, q.state, 0.0)[0] == []
    # A citizen transferred to the counter waits for it.
    q.issue("dat-dai", None, at(8, 2))
    q.call_next(3, at(8, 3))
    q.transfer(3, at(8, 4), to_counter=4)
    refusals, _, _ = check(old, gone, q.state, 0.0)
    assert refusals and "1 người được chuyển tới đang chờ" in refusals[0]


def test_a_priority_class_with_someone_waiting_stays(raw, old):
    q = Queue(old)
    q.issue("tu-phap", "cao-tuoi", at(8))
    new = edited(raw, lambda d: d.setdefault("priority", {}).update(
        classes=[{"code": "co-thai", "name_vi": "Phụ nữ có thai", "name_en": "Pregnant woman"}]))
    refusals, _, _ = check(old, new, q.state, 0.0)
    assert refusals == ["Nhóm ưu tiên «Người cao tuổi» còn 1 người chờ: không xoá được "
                        "đến khi họ được phục vụ."]


def test_rating_levels_wait_for_open_windows(raw, old):
    q = Queue(old)
    q.issue("tu-phap", None, at(8))
    q.call_next(1, at(8, 1), mono=100.0)
    q.finish(1, at(8, 2), mono=160.0)           # window open 60 s from mono 160

    def reorder(d):
        levels = [lv.model_dump() for lv in old.rating.levels]
        d.setdefault("rating", {})["levels"] = list(reversed(levels))
    new = edited(raw, reorder)
    refusals, _, _ = check(old, new, q.state, 170.0)
    assert refusals == ["Đang mở cửa sổ đánh giá ở quầy 1: không đổi mức đánh giá (mã, số mức, "
                        "thứ tự, hài lòng) lúc này; thử lại sau một phút."]
    assert check(old, new, q.state, 300.0)[0] == []       # the window is over
    # A level's name is no shape: allowed while the window is open.
    renamed = edited(raw, lambda d: d.setdefault("rating", {}).update(levels=[
        {**lv.model_dump(), "name_vi": lv.name_vi + " lắm"} for lv in old.rating.levels]))
    refusals, effects, _ = check(old, renamed, q.state, 170.0)
    assert refusals == [] and any("name_vi: shown everywhere at once" in e for e in effects)


def test_allowed_changes_say_their_effect(raw, old):
    q = Queue(old)
    for i in range(5):
        q.issue("dat-dai", None, at(8, 0, i))

    def edit(d):
        d["counters"][0]["fields"] = ["chung-thuc", "tu-phap"]
        d["counters"][0]["name"] = "Quầy một"
        field(d, "dat-dai")["daily_quota"] = 4
        d["hours"][0]["close"] = "17:00"
    refusals, effects, restart = check(old, edited(raw, edit), q.state, 0.0)
    assert refusals == [] and restart == []
    assert sorted(effects) == [
        "counters[1].fields: takes effect at its next call",
        "counters[1].name: shown everywhere at once; tickets already printed keep the old text",
        "fields[dat-dai].daily_quota: 5 already issued today: no more tickets today",
        "hours: a field closing now stops issuing; its line is still called",
    ]


def test_restart_keys_are_named_not_applied(raw, old):
    def edit(d):
        d.setdefault("mqtt", {})["port"] = 1999
        d["site"]["timezone"] = "Asia/Bangkok"
        d.setdefault("web", {})["port"] = 8081
        d.setdefault("targets", {})["wait_min"] = 20           # live
    refusals, _, restart = check(old, edited(raw, edit), Queue(old).state, 0.0)
    assert refusals == []
    assert restart == ["mqtt.port", "site.timezone", "web.port"]
    assert restart_key("bridge.devices[1].port") == "bridge.devices"
    assert restart_key("uplink.host") == "uplink"
    assert restart_key("targets.wait_min") is None
    assert restart_key("printer.qr") is None and restart_key("printer.connection") == "printer.connection"
    # The core's phone secret and the page's listener are read at start.
    assert restart_key("phone") == restart_key("phone.secret_file") == "phone"
