"""The display's view-model, driven by payloads and an explicit clock."""
import datetime as dt
import logging
import unicodedata

import pytest

from display import state as st
from display.screenshots import demo_messages

WALL = dt.datetime(2026, 11, 27, 9, 5, 7)


@pytest.fixture
def msgs(site):
    return demo_messages(site, now=1764230000.0)


def make(site, keepalive=10):
    return st.DisplayState(commune=site.site.commune, centre=site.site.centre, keepalive_s=keepalive,
                           highlight_s=6, last_calls_shown=8, config_notice="Giờ làm việc 7:00–17:00",
                           counter_names={c.number: c.name for c in site.counters}, started=100.0)


def test_snapshot_fills_every_part_of_the_screen(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    v = s.view(101.0, WALL)
    assert v.commune == "Xã Thắng Lộc" and v.has_data and not v.stale
    assert [(c.name, c.current, c.field_name) for c in v.counters[:3]] == [
        ("Quầy 1", "A012", "Tư pháp – Hộ tịch"), ("Quầy 2", "B023", "Chứng thực"),
        ("Quầy 3", "C004", "Đất đai – Xây dựng")]
    assert v.counters[3].current == "" and v.counters[3].status_text == "Tạm dừng"
    assert [c.label for c in v.last_calls][:3] == ["A012", "C004", "B022"]
    assert len(v.last_calls) == 7
    assert v.waiting[0].name == "Tư pháp – Hộ tịch" and v.waiting[0].waiting == 5
    assert v.notice == "Giờ làm việc 7:00–17:00"        # no retained notice yet: config
    assert v.date_text == "Thứ Sáu, 27/11/2026" and v.clock_text == "09:05"
    # A call learnt from a snapshot (display restarted) is not blinked as new.
    assert v.highlight_label == ""


def test_call_event_shows_at_once_and_blinks_for_highlight_s(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    assert s.apply_call(msgs["call"], now=102.0)
    v = s.view(102.5, WALL)
    assert v.highlight_label == "B023" and v.highlight_counter == "Quầy 2"
    assert [c.highlight for c in v.counters] == [False, True, False, False]
    assert v.last_calls[0].label == "B023"
    assert s.view(107.9, WALL).highlight_label == "B023"
    assert s.view(108.1, WALL).highlight_label == ""
    # The redelivered event changes nothing; the republished snapshot that
    # includes it does not restart the blinking either.
    assert not s.apply_call(msgs["call"], now=103.0)
    snap = dict(msgs["snapshot"], last_calls=[msgs["call"]] + msgs["snapshot"]["last_calls"])
    s.apply_snapshot(snap, now=109.0)
    assert s.view(109.0, WALL).highlight_label == ""
    assert [c.label for c in s.view(109.0, WALL).last_calls].count("B023") == 1


def test_a_newer_call_takes_over_the_highlight_and_the_counter(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    s.apply_call(msgs["call"], now=102.0)
    s.apply_call(dict(msgs["call"], call_id="x-41", call_seq=41, label="A013", counter=1,
                      counter_name="Quầy 1", field_name_vi="Tư pháp – Hộ tịch"), now=103.0)
    v = s.view(103.1, WALL)
    assert v.highlight_label == "A013"
    assert v.counters[0].current == "A013" and v.counters[0].highlight
    assert [c.label for c in v.last_calls[:2]] == ["A013", "B023"]


def test_stale_after_one_and_a_half_keepalives_and_clears_by_itself(site, msgs):
    s = make(site, keepalive=10)
    assert not s.view(114.9, WALL).stale          # just started: give the core time
    assert s.view(115.1, WALL).stale
    s.apply_snapshot(msgs["snapshot"], now=120.0)
    assert not s.view(134.9, WALL).stale
    v = s.view(135.1, WALL)
    assert v.stale and v.has_data                  # old numbers stay, marked
    s.apply_snapshot(msgs["snapshot"], now=136.0)
    assert not s.view(136.0, WALL).stale


def test_core_last_will_marks_stale_at_once(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    s.apply_presence({"device": "core", "status": "offline"}, now=102.0)
    assert s.view(102.0, WALL).stale
    s.apply_presence({"device": "core", "status": "online", "at": 1.0}, now=103.0)
    assert not s.view(103.0, WALL).stale


def test_notice_from_the_bus_wins_and_empty_falls_back_to_config(site):
    s = make(site)
    s.apply_notice({"text": unicodedata.normalize("NFD", "Nghỉ trưa từ 11:30 đến 13:30")})
    assert s.view(101.0, WALL).notice == "Nghỉ trưa từ 11:30 đến 13:30"
    assert unicodedata.is_normalized("NFC", s.view(101.0, WALL).notice)
    s.apply_notice({"text": ""})
    assert s.view(101.0, WALL).notice == "Giờ làm việc 7:00–17:00"


def test_official_shown_only_when_configured(site, msgs):
    snap = dict(msgs["snapshot"])
    snap["counters"] = [dict(snap["counters"][0], official="Nguyễn Thị Hà")] + snap["counters"][1:]
    s = make(site)
    s.apply_snapshot(snap, now=101.0)
    assert s.view(101.0, WALL).counters[0].official == ""
    s.show_official = True
    assert s.view(101.0, WALL).counters[0].official == "Nguyễn Thị Hà"


def test_bad_payloads_are_refused_with_a_reason_and_keep_the_old_view(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    with pytest.raises(st.BadMessage, match="counters"):
        s.apply_snapshot({"site": "thang-loc"}, now=102.0)
    with pytest.raises(st.BadMessage, match="label"):
        s.apply_call({"call_id": "z", "counter": 2}, now=102.0)
    with pytest.raises(st.BadMessage, match="status"):
        s.apply_presence({"status": "maybe"}, now=102.0)
    with pytest.raises(st.BadMessage, match="text"):
        s.apply_notice({"text": 5})
    assert s.view(102.0, WALL).counters[0].current == "A012"


def test_before_any_snapshot_the_configured_counters_show_empty(site):
    v = make(site).view(100.5, WALL)
    assert [c.name for c in v.counters] == ["Quầy 1", "Quầy 2", "Quầy 3", "Quầy 4"]
    assert not v.has_data and all(c.current == "" for c in v.counters)


def test_a_new_day_drops_yesterdays_calls(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    s.apply_call(msgs["call"], now=102.0)
    today = dict(msgs["snapshot"], day="2099-01-01", last_calls=[], call_seq=0)
    s.apply_snapshot(today, now=103.0)
    assert s.view(103.0, WALL).last_calls == [] and s.view(103.0, WALL).highlight_label == ""
    s.apply_call(dict(msgs["call"], call_id="2099-01-01-1", call_seq=1, label="A001", counter=1), now=104.0)
    v = s.view(104.0, WALL)
    assert [c.label for c in v.last_calls] == ["A001"] and v.highlight_label == "A001"


def test_the_callers_snapshot_is_not_modified(site, msgs):
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    s.apply_call(msgs["call"] | {"label": "B030"}, now=102.0)
    assert msgs["snapshot"]["counters"][1]["current"] == "B023"
    assert s.view(102.0, WALL).counters[1].current == "B030"


def test_a_new_call_first_seen_in_a_snapshot_is_highlighted(site, msgs):
    # The core publishes state before the call event.
    s = make(site)
    s.apply_snapshot(msgs["snapshot"], now=101.0)
    snap = dict(msgs["snapshot"], last_calls=[msgs["call"]] + msgs["snapshot"]["last_calls"])
    assert s.apply_snapshot(snap, now=102.0) == [msgs["call"]["call_id"]]
    assert s.view(102.1, WALL).highlight_label == "B023"
    # The event that follows is the same call: no second highlight start.
    assert not s.apply_call(msgs["call"], now=104.0)
    assert s.view(108.1, WALL).highlight_label == ""
    # Republished later: still not new.
    assert s.apply_snapshot(snap, now=110.0) == []
    assert s.view(110.0, WALL).highlight_label == ""


def test_next_numbers_wait_and_board_from_the_snapshot():
    s = st.DisplayState(commune="Xã A", centre="TT", keepalive_s=10)
    s.apply_snapshot({"day": "2026-11-27", "counters": [],
                      "waiting": [{"field": "tu-phap", "name_vi": "Tư pháp", "prefix": "A", "waiting": 4,
                                   "estimated_wait_min": 12.4, "next": ["A013", "A014", "A015", "A016"]}],
                      "board": {"served": 42, "satisfied_pct": 92.6, "on_time_pct": None,
                                "wait_target_min": 30}}, now=1.0)
    v = s.view(1.0, dt.datetime(2026, 11, 27, 9, 0))
    assert v.waiting[0].next == ["A013", "A014", "A015"]
    # No range sent (a core before the forecast): 12.4 said to the nearest five.
    assert st.short_wait(v.waiting[0]) == "≈\u00a010\u00a0phút"
    assert v.board == st.Board(served="42", satisfied="93%", on_time="—", wait_target_min=30)
    # An older core without a board: no board, not a crash.
    s.apply_snapshot({"day": "2026-11-27", "counters": []}, now=2.0)
    assert s.view(2.0, dt.datetime(2026, 11, 27, 9, 0)).board is None


def _waits(*rows) -> st.DisplayState:
    s = st.DisplayState(commune="Xã A", centre="TT", keepalive_s=10, closed_fields={"kinh-te"})
    s.apply_snapshot({"day": "2026-11-27", "counters": [],
                      "waiting": [{"name_vi": r["field"], "prefix": "A", "next": [], **r} for r in rows]},
                     now=1.0)
    return s


def test_wall_says_the_forecast_range_the_pause_and_nobody():
    s = _waits(
        # 14.2-33.9 is 19.7 wide: the range alone, ends to fives.
        {"field": "wide", "waiting": 5, "estimated_wait_min": 20.0, "wait_low_min": 14.2, "wait_high_min": 33.9},
        # 2.5-6.1 is 3.6 wide: the wait alone.
        {"field": "narrow", "waiting": 2, "estimated_wait_min": 4.0, "wait_low_min": 2.5, "wait_high_min": 6.1},
        # The longest short form: 45-100 minutes.
        {"field": "hours", "waiting": 40, "estimated_wait_min": 70.0, "wait_low_min": 45.0,
         "wait_high_min": 100.0},
        {"field": "paused", "waiting": 7, "estimated_wait_min": None, "wait_low_min": None,
         "wait_high_min": None},
        {"field": "under", "waiting": 1, "estimated_wait_min": 0.4, "wait_low_min": 0.0, "wait_high_min": 1.0},
        # Nobody waits: so it says, paused or not; a closed field says it is closed.
        {"field": "nobody", "waiting": 0, "estimated_wait_min": None, "wait_low_min": None,
         "wait_high_min": None},
        {"field": "kinh-te", "waiting": 0, "estimated_wait_min": 0.0, "wait_low_min": 0.0, "wait_high_min": 0.0},
        # A core before the forecast sends no minutes at all: nothing said.
        {"field": "older", "waiting": 3})
    said = {r.name: st.short_wait(r).replace("\u00a0", "_") for r in s.view(1.0, WALL).waiting}
    assert said == {"wide": "15–35_phút", "narrow": "≈_4_phút", "hours": "45_phút – 1_giờ_40_phút",
                    "paused": "chờ quầy mở lại", "under": "<_1_phút", "nobody": "không chờ",
                    "kinh-te": "tạm ngừng", "older": ""}


def test_bad_wait_figures_are_logged_once_and_not_shown(caplog):
    rows = ({"field": "text", "waiting": 3, "estimated_wait_min": "soon"},
            {"field": "negative", "waiting": 3, "estimated_wait_min": 12.0, "wait_low_min": -5,
             "wait_high_min": 30.0},
            {"field": "reversed", "waiting": 3, "estimated_wait_min": 12.0, "wait_low_min": 30.0,
             "wait_high_min": 10.0},
            {"field": "nan", "waiting": 3, "estimated_wait_min": float("nan")},
            {"field": "flag", "waiting": 3, "estimated_wait_min": True})
    with caplog.at_level(logging.WARNING, logger="phucvu.display"):
        s = _waits(*rows)
        # The same snapshot again: no second line for the same figure.
        s.apply_snapshot(s.snapshot, now=2.0)
    said = {r.name: st.short_wait(r) for r in s.view(2.0, WALL).waiting}
    # A bad estimate: no wait rather than a wrong one; a bad range: the wait alone.
    assert said == {"text": "", "negative": "≈\u00a010\u00a0phút", "reversed": "≈\u00a010\u00a0phút",
                    "nan": "", "flag": ""}
    lines = [r.getMessage() for r in caplog.records]
    assert "display/snapshot: field text: estimated_wait_min = 'soon' is not minutes >= 0; not shown" in lines
    assert "display/snapshot: field negative: wait_low_min = -5 is not minutes >= 0; not shown" in lines
    assert "display/snapshot: field reversed: wait range 30.0-10.0 has its ends reversed; not shown" in lines
    assert len(lines) == 5, lines
