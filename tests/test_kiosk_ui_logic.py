"""The kiosk's pure parts: wording catalogue, palette contrast, the ticket flow, PIN."""
from __future__ import annotations

import itertools
import logging
import re
import string
import unicodedata

import pytest

from kiosk.ui import flow, i18n, texts, theme


# ------------------------------------------------------------------ wording
def test_every_string_has_vietnamese_and_english_in_nfc():
    for key, entry in i18n.STRINGS.items():
        assert set(entry) == set(i18n.LANGS), key
        for lang, text in entry.items():
            assert text.strip(), (key, lang)
            assert unicodedata.is_normalized("NFC", text), (key, lang)


def test_placeholders_match_between_languages():
    fmt = string.Formatter()
    for key, entry in i18n.STRINGS.items():
        names = {lang: {f for _, f, _, _ in fmt.parse(text) if f} for lang, text in entry.items()}
        assert names["vi"] == names["en"], key


def test_t_fills_and_normalises_decomposed_input():
    decomposed = unicodedata.normalize("NFD", "Quầy")
    assert not unicodedata.is_normalized("NFC", decomposed)
    out = i18n.t("counters", "vi", list=decomposed)
    assert unicodedata.is_normalized("NFC", out)
    assert out == "Quầy phục vụ: Quầy"


def test_unknown_key_names_the_catalogue():
    with pytest.raises(KeyError, match="i18n.py"):
        i18n.t("no_such_key")


def test_brief_wording_is_verbatim():
    assert i18n.t("take_ticket") == "Vui lòng nhận phiếu và chờ gọi số"
    assert i18n.t("problem_do") == "Vui lòng ghi nhớ số này và báo cho cán bộ tại quầy"
    assert i18n.t("busy_title") == "Hệ thống đang bận, vui lòng chờ trong giây lát"


def test_dates_and_counters():
    import datetime as dt
    assert i18n.date_text(dt.date(2026, 11, 27), "vi") == "Thứ Sáu, 27/11/2026"
    assert i18n.date_text(dt.date(2026, 11, 29), "en") == "Sunday 29 November 2026"
    assert i18n.join_counters([1, 2, 4], "vi") == "1, 2 hoặc\u00a04"
    assert i18n.join_counters([3], "en") == "3"


def test_no_hard_coded_vietnamese_outside_the_catalogue():
    # Wording lives in i18n.py only: kv files and Python code refer to keys.
    from pathlib import Path
    ui = Path(i18n.__file__).parent
    vi_letters = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)
    offenders = []
    for path in [*ui.glob("*.py"), *ui.glob("screens/*.kv")]:
        if path.name in ("i18n.py", "screenshots.py"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if '"""' in line or code.strip().startswith(("'", '"')) and "text" not in code:
                continue
            if vi_letters.search(code) and ("'" in code or '"' in code):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# ------------------------------------------------------------------ palette
@pytest.mark.parametrize("fg,bg", theme.TEXT_PAIRS)
def test_text_pairs_meet_wcag_aa(fg, bg):
    assert theme.contrast(fg, bg) >= 4.5, (fg, bg, round(theme.contrast(fg, bg), 2))


def test_contrast_formula_against_known_values():
    theme.PALETTE["_w"], theme.PALETTE["_k"], theme.PALETTE["_g"] = "#FFFFFF", "#000000", "#777777"
    try:
        assert theme.contrast("_w", "_k") == pytest.approx(21.0)
        assert theme.contrast("_g", "_w") == pytest.approx(4.48, abs=0.01)   # the classic near-miss grey
    finally:
        for k in ("_w", "_k", "_g"):
            del theme.PALETTE[k]


def test_sizes_meet_the_brief():
    assert theme.TOUCH_MIN_PX >= 142
    assert theme.BODY_PX >= theme.BODY_MIN_PX >= 28


# ------------------------------------------------------------------ flow
def _flow(**kw):
    ids = (f"kiosk-1-{i:04d}" for i in itertools.count(1))
    return flow.TicketFlow("kiosk-1", new_id=lambda c: next(ids), **kw)


def test_double_tap_gives_one_request():
    f = _flow()
    first = f.tap("tu-phap", None, "vi", now=10.0)
    assert first == {"request_id": "kiosk-1-0001", "client": "kiosk-1", "field": "tu-phap",
                     "priority": None, "lang": "vi"}
    assert f.tap("tu-phap", None, "vi", now=10.05) is None
    assert f.tap("chung-thuc", None, "vi", now=10.1) is None


def test_debounce_after_a_quick_reply():
    f = _flow(debounce_s=1.0)
    req = f.tap("tu-phap", None, "vi", now=10.0)
    assert f.reply({"request_id": req["request_id"], "ok": True, "ticket": {"label": "A001"},
                    "print": {"status": "printed"}}).kind == "printed"
    assert f.tap("tu-phap", None, "vi", now=10.5) is None          # the same finger bouncing
    assert f.tap("tu-phap", None, "vi", now=11.2)["request_id"] == "kiosk-1-0002"


def test_silence_gives_busy_then_resends_the_same_id_then_gives_up():
    f = _flow(busy_after_s=2.5, retry_every_s=3.0, give_up_s=20.0)
    req = f.tap("dat-dai", "cao-tuoi", "en", now=0.0)
    assert f.tick(1.0) == []
    assert f.tick(2.5) == [("busy", None), ("resend", req)]
    assert f.tick(3.0) == []
    assert f.tick(5.6) == [("resend", req)]
    assert f.tick(8.0) == []
    assert f.tick(8.7) == [("resend", req)]
    assert f.pending.attempts == 4
    [(action, gave_up)] = f.tick(20.0)
    assert action == "give_up" and gave_up.request == req and gave_up.ticket is None
    late = {"request_id": req["request_id"], "ok": True, "ticket": {"label": "C001"}}
    assert f.reply(late) is None            # nobody is waiting for it any more


def test_replies_for_other_requests_are_ignored():
    f = _flow()
    req = f.tap("tu-phap", None, "vi", now=0.0)
    assert f.reply({"request_id": "kiosk-1-9999", "ok": True, "ticket": {"label": "A009"}}) is None
    assert f.pending is not None
    assert f.reply({"request_id": req["request_id"], "ok": False,
                    "error": {"code": "quota", "message": "quota reached", "next_open": 1.5e9}}) == \
        flow.Outcome("closed", reason="quota", message="quota reached", next_open=1.5e9)


def test_pending_print_is_not_busy_and_not_final():
    f = _flow(busy_after_s=2.5, retry_every_s=3.0, give_up_s=60.0)
    req = f.tap("tu-phap", None, "vi", now=0.0)
    assert f.tick(2.5) == [("busy", None), ("resend", req)]
    ticket = {"label": "A007"}
    pending = {"request_id": req["request_id"], "ok": True, "ticket": ticket, "print": {"status": "pending"}}
    assert f.reply(pending) == flow.Outcome("pending", ticket=ticket)
    assert f.pending is not None and not f.pending.busy
    assert f.tick(4.0) == []                       # no busy screen while it prints
    assert f.tick(5.5) == [("resend", req)]        # still asking, in case the final reply is lost
    final = {**pending, "print": {"status": "printed"}}
    assert f.reply(final).kind == "printed" and f.pending is None


def test_give_up_after_issue_keeps_the_ticket():
    f = _flow(give_up_s=10.0)
    req = f.tap("tu-phap", None, "vi", now=0.0)
    f.reply({"request_id": req["request_id"], "ok": True, "ticket": {"label": "A007"},
             "print": {"status": "pending"}})
    [(action, pending)] = f.tick(10.0)
    assert action == "give_up" and pending.ticket == {"label": "A007"}


@pytest.mark.parametrize("payload,kind,reason", [
    ({"ok": True, "ticket": {"label": "B023"}, "print": {"status": "printed"}}, "printed", ""),
    ({"ok": True, "ticket": {"label": "B023"}, "print": {"status": "not_printed", "reason": "paper_out"}},
     "problem", "paper_out"),
    ({"ok": True, "ticket": {"label": "B023"}, "print": {"status": "not_printed", "reason": "no_printer"}},
     "problem", "unknown"),
    ({"ok": True, "ticket": {"label": "B023"}}, "problem", "unknown"),
    ({"ok": True}, "refused", "bad_reply"),
    ({"ok": False, "error": {"code": "closed", "next_open": None}}, "closed", "closed"),
    ({"ok": False, "error": {"code": "day_closed"}}, "closed", "day_closed"),
    ({"ok": False, "error": {"code": "unknown_field", "message": "no field x"}}, "refused", "unknown_field"),
    ({"ok": False}, "refused", "unknown"),
])
def test_classify(payload, kind, reason):
    out = flow.classify(payload)
    assert (out.kind, out.reason) == (kind, reason)


def test_field_tiles_follow_the_summary():
    fields = [{"code": "a", "name_vi": "A", "name_en": "A"}, {"code": "b", "name_vi": "B", "name_en": "B"},
              {"code": "c", "name_vi": "C", "name_en": "C"}]
    assert [t["state"] for t in flow.field_tiles(fields, None)] == ["open", "open", "open"]
    summary = {"day_closed": False, "fields": [
        {"field": "a", "waiting": 3, "estimated_wait_min": 7.5, "quota_left": 10, "open": True},
        {"field": "b", "waiting": 0, "quota_left": 0, "open": True},
        {"field": "c", "waiting": 1, "quota_left": 5, "open": False}]}
    tiles = flow.field_tiles(fields, summary)
    assert [(t["state"], t["waiting"]) for t in tiles] == [("open", 3), ("quota", 0), ("closed", 1)]
    summary["day_closed"] = True
    assert {t["state"] for t in flow.field_tiles(fields, summary)} == {"day_closed"}


# ------------------------------------------------------------------ admin
def test_pin_hash_round_trip_and_rejects():
    h = flow.hash_pin("246810", iterations=1000)
    assert h.startswith("pbkdf2_sha256$1000$")
    assert flow.check_pin("246810", h)
    assert not flow.check_pin("246811", h)
    assert not flow.check_pin("", h)
    with pytest.raises(ValueError, match="4 to 12 digits"):
        flow.hash_pin("12")
    with pytest.raises(ValueError, match="pbkdf2_sha256"):
        flow.parse_pin_hash("1234")


def test_corner_gesture_needs_five_taps_within_three_seconds():
    c = flow.CornerTaps()
    assert [c.touch(True, t) for t in (0, 0.5, 1.0, 1.5)] == [False] * 4
    assert c.touch(True, 2.0) is True
    # too slow: the first taps fall out of the window
    assert [c.touch(True, t) for t in (10, 11, 12, 13, 14)] == [False] * 5
    # a touch elsewhere starts over
    c = flow.CornerTaps()
    for t in (0, 0.2, 0.4, 0.6):
        c.touch(True, t)
    assert c.touch(False, 0.7) is False
    assert c.touch(True, 0.8) is False


# ------------------------------------------------------------------ screen texts
TICKET = {"label": "A013", "field_name_vi": "Tư pháp – Hộ tịch", "field_name_en": "Justice and civil status",
          "ahead": 4, "estimated_wait_min": 20.0, "wait_low_min": 17.0, "wait_high_min": 24.0, "counters": [1, 2]}


def test_printed_and_problem_screens_show_the_ticket(site):
    from kiosk.ui import texts
    shown = texts.screens(site, "vi", None, flow.Outcome("printed", ticket=TICKET))
    assert shown["printing"]["number"] == "A013"
    assert shown["printing"]["details"].splitlines() == [
        "Tư pháp – Hộ tịch", "Trước bạn còn 4\u00a0người", "Thời gian chờ khoảng 20\u00a0phút",
        "Quầy phục vụ: 1 hoặc\u00a02"]
    # Nobody ahead but the counters busy for 20 minutes: not "called shortly".
    assert texts.details({**TICKET, "ahead": 0}, "en").splitlines()[1:] == [
        "Nobody is ahead of you", "Estimated wait about 20\u00a0min", "Served at counter 1 or\u00a02"]
    # 1.4 minutes rounds to 1: called shortly, no wait line.
    assert texts.details({**TICKET, "ahead": 0, "estimated_wait_min": 1.4, "wait_low_min": 0.5,
                          "wait_high_min": 3.0}, "en").splitlines()[1:] == [
        "You will be called shortly", "Served at counter 1 or\u00a02"]
    shown = texts.screens(site, "en", None, flow.Outcome("problem", ticket=TICKET, reason="paper_out"))
    assert (shown["problem"]["number"], shown["problem"]["reason"]) == ("A013", "The printer is out of paper")
    shown = texts.screens(site, "vi", None, flow.Outcome("problem", ticket=TICKET, reason="jammed"))
    assert shown["problem"]["reason"] == "Không in được phiếu"


def test_closed_screen_says_why_and_when(site):
    from kiosk.ui import texts
    closed = texts.closed(site, flow.Outcome("closed", reason="quota"), "vi")
    assert closed["reason"] == "Đã hết số thứ tự hôm nay cho lĩnh vực này"
    assert closed["next_text"] == "Vui lòng hỏi cán bộ tại quầy"      # the core gave no next_open
    assert texts.closed(site, flow.Outcome("refused", reason="gave_up"), "en")["reason"] == \
        "The system is not ready. Please tell the staff at a counter."
    assert texts.closed(site, None, "vi") == {"title": "Chưa lấy được số thứ tự",
                                              "reason": "Vui lòng hỏi cán bộ tại quầy", "next_text": ""}


def test_home_title_and_tiles_follow_priority_and_summary(site):
    from kiosk.ui import texts
    code = site.priority.classes[0].code
    assert texts.screens(site, "en", code, None)["home"]["title"].startswith(
        f"Priority: {site.priority.classes[0].name_en}")
    assert texts.screens(site, "vi", None, None)["home"]["priority_mode"] is False
    assert {tile["info"] for tile in texts.tiles(site, None, "vi")} == {"Đang cập nhật số người chờ"}
    summary = {"fields": [{"field": "tu-phap", "waiting": 5, "estimated_wait_min": 12.5, "quota_left": 9},
                          {"field": "dat-dai", "waiting": 0, "quota_left": 0},
                          {"field": "kinh-te", "waiting": 2, "estimated_wait_min": None, "open": False}]}
    tiles = {tile["code"]: tile for tile in texts.tiles(site, summary, "en")}
    # 12.5 min with no range rounds to five above ten: 15 (kiosk/waitwords.py).
    assert (tiles["tu-phap"]["state"], tiles["tu-phap"]["info"]) == ("open", "5\u00a0waiting · ≈\u00a015\u00a0min")
    assert (tiles["dat-dai"]["state"], tiles["dat-dai"]["info"]) == ("quota", "No numbers left today")
    assert (tiles["kinh-te"]["state"], tiles["kinh-te"]["info"]) == ("closed", "Not taking numbers now")
    day_closed = texts.tiles(site, {**summary, "day_closed": True}, "vi")
    assert {tile["info"] for tile in day_closed} == {"Đã hết giờ làm việc"}


def test_pin_hash_from_environment(tmp_path):
    from kiosk.ui.admin import load_pin_hash
    h = flow.hash_pin("1357", iterations=1000)
    assert load_pin_hash({}) is None
    assert load_pin_hash({"PHUCVU_KIOSK_PIN_HASH": h}) == h
    f = tmp_path / "pin"
    f.write_text(h + "\n")
    assert load_pin_hash({"PHUCVU_KIOSK_PIN_HASH_FILE": str(f)}) == h
    with pytest.raises(SystemExit, match="PHUCVU_KIOSK_PIN_HASH"):
        load_pin_hash({"PHUCVU_KIOSK_PIN_HASH": "1357"})


def test_a_number_stays_on_the_line_of_its_unit(site):
    """Wrapping only at spaces, a no-break space keeps "≈ 10 phút" whole
    (never "≈ 10" / "phút" on two lines)."""
    from kiosk.ui import texts
    summary = {"fields": [{"field": "tu-phap", "waiting": 5, "estimated_wait_min": 12.0, "open": True}]}
    for lang in ("vi", "en"):
        info = {t["code"]: t["info"] for t in texts.tiles(site, summary, lang)}["tu-phap"]
        assert "5\u00a0" in info and "≈\u00a010\u00a0" in info, info
    shown = texts.details({"ahead": 4, "estimated_wait_min": 20.0}, "vi")
    assert "4\u00a0người" in shown and "khoảng 20\u00a0phút" in shown


# The three ways a wait is said (kiosk/waitwords.py), on a tile and on the
# issued ticket's screen: a wide range, a narrow one, None (counters paused).
WAITS = [{"field": "tu-phap", "waiting": 5, "estimated_wait_min": 20.0, "wait_low_min": 14.2,
          "wait_high_min": 33.9, "open": True},
         {"field": "chung-thuc", "waiting": 2, "estimated_wait_min": 4.0, "wait_low_min": 2.5,
          "wait_high_min": 6.1, "open": True},
         {"field": "van-hoa-xa-hoi", "waiting": 7, "estimated_wait_min": None, "wait_low_min": None,
          "wait_high_min": None, "open": True},
         {"field": "kinh-te", "waiting": 0, "estimated_wait_min": None, "wait_low_min": None,
          "wait_high_min": None, "open": True},
         {"field": "dat-dai", "waiting": 0, "estimated_wait_min": 0.0, "wait_low_min": 0.0,
          "wait_high_min": 0.0, "open": True}]


@pytest.mark.parametrize("lang, want", [
    ("vi", {"tu-phap": "5\u00a0người chờ · 15–35\u00a0phút", "chung-thuc": "2\u00a0người chờ · ≈\u00a04\u00a0phút",
            "van-hoa-xa-hoi": "7\u00a0người chờ · chờ quầy mở lại",
            "kinh-te": "0\u00a0người chờ · chờ quầy mở lại", "dat-dai": "0\u00a0người đang chờ"}),
    ("en", {"tu-phap": "5\u00a0waiting · 15–35\u00a0min", "chung-thuc": "2\u00a0waiting · ≈\u00a04\u00a0min",
            "van-hoa-xa-hoi": "7\u00a0waiting · when a counter reopens",
            "kinh-te": "0\u00a0waiting · when a counter reopens", "dat-dai": "0\u00a0waiting"}),
])
def test_tiles_say_the_forecast_range_and_paused_counters(site, lang, want):
    # 14.2-33.9 is 19.7 wide (>= 10): said, ends to fives (15-35); 2.5-6.1 is not.
    # Nobody waiting and every counter paused: a ticket now waits for a reopening.
    info = {tile["code"]: tile["info"] for tile in texts.tiles(site, {"fields": WAITS}, lang)}
    assert info == want


def test_issued_ticket_screen_says_the_range_or_the_pause(site):
    wide = {**TICKET, "wait_low_min": 14.2, "wait_high_min": 33.9}
    assert texts.details(wide, "vi").splitlines()[2] == "Thời gian chờ khoảng 20\u00a0phút (15–35\u00a0phút)"
    assert texts.details(wide, "en").splitlines()[2] == "Estimated wait about 20\u00a0min (15–35\u00a0min)"
    # 17-24 is 7 wide: the range is left unsaid.
    assert texts.details(TICKET, "vi").splitlines()[2] == "Thời gian chờ khoảng 20\u00a0phút"
    paused = {**TICKET, "estimated_wait_min": None, "wait_low_min": None, "wait_high_min": None}
    assert texts.details(paused, "vi").splitlines() == [
        "Tư pháp – Hộ tịch", "Trước bạn còn 4\u00a0người", "Các quầy đang tạm dừng, vui lòng chờ quầy mở lại",
        "Quầy phục vụ: 1 hoặc\u00a02"]
    # Nobody ahead yet every counter paused: never "called shortly".
    assert texts.details({**paused, "ahead": 0}, "vi").splitlines()[1:3] == [
        "Không có ai chờ trước bạn", "Các quầy đang tạm dừng, vui lòng chờ quầy mở lại"]
    # A core that sends no estimate at all (older): no wait line, no pause line.
    assert texts.details({"ahead": 3}, "vi") == "Trước bạn còn 3\u00a0người"


def test_listen_reads_a_range_as_words(site):
    wide = {**TICKET, "estimated_wait_min": 70.0, "wait_low_min": 45.0, "wait_high_min": 100.0}
    out = flow.Outcome("printed", ticket=wide)
    said = texts.spoken(site, "printing", texts.screens(site, "vi", None, out), out, None)
    assert "Thời gian chờ khoảng 1 giờ 10 phút (45 phút đến 1 giờ 40 phút)." in said
    home = texts.spoken(site, "home", texts.screens(site, "vi", None, None), None, {"fields": WAITS})
    assert "Tư pháp – Hộ tịch: 5 người chờ · khoảng 20 phút (15 đến 35 phút)." in home
    assert "Văn hóa – Xã hội: 7 người chờ · chờ quầy mở lại." in home


def test_bad_wait_figures_are_logged_and_not_shown(site, caplog):
    flow._bad_logged.clear()        # logged once per process: start from none
    summary = {"fields": [{"field": "tu-phap", "waiting": 5, "estimated_wait_min": "soon", "open": True},
                          {"field": "chung-thuc", "waiting": 2, "estimated_wait_min": 4.0, "wait_low_min": -1,
                           "wait_high_min": 30.0, "open": True},
                          {"field": "van-hoa-xa-hoi", "waiting": 3, "estimated_wait_min": 20.0,
                           "wait_low_min": 40.0, "wait_high_min": 10.0, "open": True}]}
    with caplog.at_level(logging.WARNING, logger="phucvu.kiosk"):
        info = {tile["code"]: tile["info"] for tile in texts.tiles(site, summary, "vi")}
        shown = texts.details({**TICKET, "estimated_wait_min": float("nan")}, "vi")
    # A bad wait: the people waiting alone; a bad end of the range: the wait alone.
    assert info["tu-phap"] == "5\u00a0người đang chờ"
    assert info["chung-thuc"] == "2\u00a0người chờ · ≈\u00a04\u00a0phút"
    assert info["van-hoa-xa-hoi"] == "3\u00a0người chờ · ≈\u00a020\u00a0phút"
    assert shown.splitlines()[1:] == ["Trước bạn còn 4\u00a0người", "Quầy phục vụ: 1 hoặc\u00a02"]
    lines = [r.getMessage() for r in caplog.records]
    assert "queue/summary field tu-phap: estimated_wait_min = 'soon' is not minutes >= 0; not shown" in lines
    assert "queue/summary field chung-thuc: wait_low_min = -1 is not minutes >= 0; not shown" in lines
    assert "ticket A013: estimated_wait_min = nan is not minutes >= 0; not shown" in lines
    assert "queue/summary field van-hoa-xa-hoi: wait range 40.0-10.0 has its ends reversed; not shown" in lines
    # Once per value: the same summary again says nothing new.
    with caplog.at_level(logging.WARNING, logger="phucvu.kiosk"):
        texts.tiles(site, summary, "en")
    assert len(caplog.records) == len(lines) == 4
