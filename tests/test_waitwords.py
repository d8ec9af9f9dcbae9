"""How a wait is said (kiosk/waitwords.py), case by case, worked out by hand.

``CASES`` is the table the JavaScript copies (phone.js, console.js) must
agree on too: (minutes, low, high, lang, phrase, short).  ``_`` stands for
a no-break space, which keeps a number with its unit on one line.
"""
from __future__ import annotations

import pytest

from kiosk import waitwords as ww

CASES = [
    # Under ten minutes: whole minutes, half up (6.5 -> 7), never under 1.
    (6.0, 4.0, 8.0, "vi", "khoảng 6_phút", "≈_6_phút"),
    (6.5, 5.0, 9.0, "vi", "khoảng 7_phút", "≈_7_phút"),
    (9.4, 7.0, 12.0, "vi", "khoảng 9_phút", "≈_9_phút"),
    # 9.5 rounds to 10, which is a multiple of five already.
    (9.5, 7.0, 12.0, "vi", "khoảng 10_phút", "≈_10_phút"),
    # Ten and over: to the nearest five (12.4 -> 10, 12.5 -> 15, 17.4 -> 15).
    (12.4, 9.0, 16.0, "vi", "khoảng 10_phút", "≈_10_phút"),
    (12.5, 9.0, 16.0, "vi", "khoảng 15_phút", "≈_15_phút"),
    (17.4, 14.0, 22.0, "vi", "khoảng 15_phút", "≈_15_phút"),
    # WIDE_MIN: 9.9 between the ends is not said, 10.0 is; ends to fives.
    (15.0, 10.0, 19.9, "vi", "khoảng 15_phút", "≈_15_phút"),
    (15.0, 10.0, 20.0, "vi", "khoảng 15_phút (10–20_phút)", "10–20_phút"),
    # 14.2 -> 15 (2.84 + .5 = 3.34 fives), 33.9 -> 35 (6.78 + .5 = 7.28 fives).
    (20.0, 14.2, 33.9, "vi", "khoảng 20_phút (15–35_phút)", "15–35_phút"),
    # 7.0 -> 5 (1.4 + .5 = 1.9 fives), 17.5 -> 20 (3.5 + .5 = 4.0 fives).
    (11.0, 7.0, 17.5, "vi", "khoảng 10_phút (5–20_phút)", "5–20_phút"),
    # A low end under 2.5 rounds to 0: "up to" the high end.
    (3.0, 0.0, 12.0, "vi", "khoảng 3_phút (có thể đến 10_phút)", "có thể đến 10_phút"),
    # Hours: 75 is a five already; 118 -> 120 is two hours flat.
    (75.0, 70.0, 78.0, "vi", "khoảng 1_giờ_15_phút", "≈_1_giờ_15_phút"),
    (118.0, 112.0, 121.0, "vi", "khoảng 2_giờ", "≈_2_giờ"),
    # A range reaching an hour says each end in full.
    (70.0, 45.0, 100.0, "vi", "khoảng 1_giờ_10_phút (45_phút – 1_giờ_40_phút)",
     "45_phút – 1_giờ_40_phút"),
    # Under a minute: never "0 phút".
    (0.4, 0.0, 1.0, "vi", "dưới_1_phút", "<_1_phút"),
    (0.0, 0.0, 0.0, "vi", "dưới_1_phút", "<_1_phút"),
    # ... unless the range is wide: then the rounded minute and the range.
    (0.4, 0.0, 12.0, "vi", "khoảng 1_phút (có thể đến 10_phút)", "có thể đến 10_phút"),
    # None: no open counter serves the field.
    (None, None, None, "vi", "chờ quầy mở lại", "chờ quầy mở lại"),
    # A missing range is a narrow one.
    (20.0, None, None, "vi", "khoảng 20_phút", "≈_20_phút"),
    (20.0, 14.2, 33.9, "en", "about 20_min (15–35_min)", "15–35_min"),
    (70.0, 45.0, 100.0, "en", "about 1_h_10_min (45_min – 1_h_40_min)", "45_min – 1_h_40_min"),
    (0.4, 0.0, 1.0, "en", "under_1_min", "<_1_min"),
    (3.0, 0.0, 12.0, "en", "about 3_min (up to 10_min)", "up to 10_min"),
    (None, None, None, "en", "when a counter reopens", "when a counter reopens"),
]


@pytest.mark.parametrize("minutes, low, high, lang, phrase, short", CASES)
def test_phrase_and_short(minutes, low, high, lang, phrase, short):
    assert ww.phrase(minutes, low, high, lang) == phrase.replace("_", ww.NBSP)
    assert ww.short(minutes, low, high, lang) == short.replace("_", ww.NBSP)


def test_rounding_and_width_rules():
    assert [ww.rounded(m) for m in (0.0, 0.4, 1.49, 1.5, 9.49, 9.5, 10.0, 12.49, 12.5, 62.4, 62.5)] == \
        [1, 1, 1, 2, 9, 10, 10, 10, 15, 60, 65]
    assert ww.WIDE_MIN == 10.0
    assert not ww.is_wide(10.0, 19.9) and ww.is_wide(10.0, 20.0)
    assert not ww.is_wide(None, 40.0) and not ww.is_wide(5.0, None)
    assert ww.duration(60) == "1\u00a0giờ" and ww.duration(61, "en") == "1\u00a0h\u00a01\u00a0min"


def test_no_line_ends_on_a_number():
    """Every number is followed by a no-break space (or ends the text), so a
    wrapped line never leaves "20" on one line and "phút" on the next."""
    import re
    for minutes, low, high, lang, *_ in CASES:
        for text in (ww.phrase(minutes, low, high, lang), ww.short(minutes, low, high, lang)):
            assert not re.search(r"\d ", text), text


def test_under_a_minute_keeps_its_number_with_its_unit():
    assert ww.phrase(0.4, lang="vi") == "dưới\u00a01\u00a0phút"
    assert ww.phrase(0.4, lang="en") == "under\u00a01\u00a0min"


def test_first_time_says_each_problem_once_up_to_its_bound():
    seen: set = set()
    assert ww.first_time(seen, ("A", "x")) and not ww.first_time(seen, ("A", "x"))
    assert ww.first_time(seen, ("B", "x"))
    for i in range(200):
        ww.first_time(seen, ("C", str(i)))
    assert len(seen) == 100 and not ww.first_time(seen, ("D", "y"))
    unbounded: set = set()
    assert all(ww.first_time(unbounded, (i,), limit=None) for i in range(150))
