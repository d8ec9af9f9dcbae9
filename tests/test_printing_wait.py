"""The printed ticket's wait line (kiosk/waitwords.py wording), decoded back
from the ESC/POS bytes on 58 and 80 mm paper: a wide range said and wrapped
whole, a narrow one left unsaid, every counter paused said in words."""
from __future__ import annotations

import logging

import pytest

from kiosk.printing import decode, profiles
from kiosk.printing.layout import WAIT_PAUSED, WAIT_PREFIX, VText, layout, wait_text
from kiosk.printing.render import MARGIN, TicketRenderer
from kiosk.printing.tools import view_from_ticket
from tests.test_printing_render import same, view

NB = "\u00a0"
WIDE = "Thời gian chờ dự kiến: khoảng 20\u00a0phút (15–35\u00a0phút)"
# A long morning: 70 minutes told, 45 to 100.
HOURS = "Thời gian chờ dự kiến: khoảng 1\u00a0giờ\u00a010\u00a0phút (45\u00a0phút – 1\u00a0giờ\u00a040\u00a0phút)"


def test_wait_line_wording():
    # 14.2 -> 15 and 33.9 -> 35 (to fives); 19.7 wide, so said.
    assert wait_text(20.0, 14.2, 33.9) == WIDE
    # 17-24 is 7 wide: the range is left unsaid; 12.5 is 15 to the nearest five.
    assert wait_text(20.0, 17.0, 24.0) == "Thời gian chờ dự kiến: khoảng 20\u00a0phút"
    assert wait_text(12.5) == "Thời gian chờ dự kiến: khoảng 15\u00a0phút"
    assert wait_text(70.0, 45.0, 100.0) == HOURS
    assert wait_text(0.2) == "Thời gian chờ dự kiến: dưới\u00a01\u00a0phút"
    assert wait_text(None) == WAIT_PAUSED == "Các quầy đang tạm dừng, vui lòng chờ quầy mở lại"


def _wait_rasters(profile: str, **kw):
    """The wait line's wrapped text and its rasters as decoded from the ticket's bytes."""
    r = TicketRenderer(profiles.get(profile), "raster")
    v = view(**kw)
    els = [e for e in r.elements(v) if isinstance(e, VText)]
    ops = [op for op in decode.parse(r.render(v)) if isinstance(op, decode.Raster)]
    drawn = [(e, img) for e in els for img in r.text_images(e)]
    assert len(ops) == len(drawn)
    at = next(i for i, (e, _) in enumerate(drawn) if e.text == wait_text(
        v.estimated_wait_min, v.wait_low_min, v.wait_high_min))
    el = drawn[at][0]
    n = len(r.wrap(el))
    return r, r.wrap(el), [(img, op.image) for (_, img), op in zip(drawn[at:at + n], ops[at:at + n])]


@pytest.mark.parametrize("profile, kw, lines", [
    # 80 mm (560 dots for text) holds the whole wide line.
    ("80mm", {"wait_low_min": 14.2, "wait_high_min": 33.9}, [WIDE]),
    # 58 mm (368 dots) breaks before the range, never inside "20 phút" or "35 phút".
    ("58mm", {"wait_low_min": 14.2, "wait_high_min": 33.9},
     ["Thời gian chờ dự kiến: khoảng 20\u00a0phút", "(15–35\u00a0phút)"]),
    ("80mm", {"estimated_wait_min": None}, [WAIT_PAUSED]),
    ("58mm", {"estimated_wait_min": None}, ["Các quầy đang tạm dừng, vui lòng chờ", "quầy mở lại"]),
])
def test_wait_line_wraps_whole_and_decodes_within_the_paper(profile, kw, lines):
    r, wrapped, pairs = _wait_rasters(profile, **kw)
    assert wrapped == lines
    width = profiles.get(profile).width_dots
    for img, decoded in pairs:
        assert same(decoded, img)
        # Ink inside the margins, and really there.
        box = decoded.convert("L").point(lambda v: 255 - v).getbbox()
        assert box is not None and decoded.width <= width
        assert r.profile.raster_align is False or box[2] - box[0] <= width - 2 * MARGIN
    # The whole ticket decodes to a picture as wide as the paper.
    page = decode.decode(r.render(view(**kw)), width)
    assert page.width >= width


@pytest.mark.parametrize("profile", ["80mm", "58mm"])
def test_an_hours_range_wraps_between_words_and_decodes(profile):
    """70 minutes told, 45 to 100: the longest line a ticket has.  Each
    number stays with its unit (no-break spaces); it decodes and fits."""
    r, wrapped, pairs = _wait_rasters(profile, estimated_wait_min=70.0, wait_low_min=45.0,
                                      wait_high_min=100.0)
    assert " ".join(wrapped) == HOURS and len(wrapped) == 2
    for line in wrapped:
        assert not line[-1].isdigit() and not line.startswith(("phút", "giờ"))
    for img, decoded in pairs:
        assert same(decoded, img) and decoded.width <= profiles.get(profile).width_dots


@pytest.mark.parametrize("profile", ["80mm", "58mm"])
def test_a_duration_is_never_split_across_lines(profile):
    r, wrapped, _ = _wait_rasters(profile, estimated_wait_min=70.0, wait_low_min=45.0, wait_high_min=100.0)
    assert not any(line.endswith("giờ") for line in wrapped), wrapped


def test_tcvn3_prints_the_range_as_text_without_no_break_spaces():
    r = TicketRenderer(profiles.get("80mm"), "tcvn3")
    data = r.render(view(wait_low_min=14.2, wait_high_min=33.9))
    texts = [op.text for op in decode.parse(data) if isinstance(op, decode.TextLine)]
    # 48 columns: the range goes to the next line, its dash as TCVN-3 has it.
    assert "Thời gian chờ dự kiến: khoảng 20 phút" in texts and "(15-35 phút)" in texts
    assert NB.encode("latin-1") not in data


def test_view_from_the_cores_ticket(site, caplog):
    ticket = {"ticket_id": "20261127-A013", "label": "A013", "field_name_vi": "Tư pháp – Hộ tịch",
              "issued_at": 1795747260.0, "ahead": 4, "estimated_wait_min": 20.0, "wait_low_min": 14.2,
              "wait_high_min": 33.9, "counters": [1, 2]}
    v = view_from_ticket(site, ticket)
    assert (v.estimated_wait_min, v.wait_low_min, v.wait_high_min) == (20.0, 14.2, 33.9)
    paused = view_from_ticket(site, {**ticket, "estimated_wait_min": None, "wait_low_min": None,
                                     "wait_high_min": None})
    assert paused.estimated_wait_min is None
    assert wait_text(paused.estimated_wait_min) == WAIT_PAUSED
    # A ticket from a core that sends no range: the wait alone.
    old = {k: v for k, v in ticket.items() if k not in ("wait_low_min", "wait_high_min")}
    assert view_from_ticket(site, old).wait_low_min is None
    # A range upside down is left off with a log line; the ticket still prints its wait.
    with caplog.at_level(logging.WARNING, logger="kiosk.printing.tools"):
        bad = view_from_ticket(site, {**ticket, "wait_low_min": 40.0, "wait_high_min": "x"})
    assert (bad.estimated_wait_min, bad.wait_low_min, bad.wait_high_min) == (20.0, None, None)
    assert "ticket 20261127-A013: wait_high_min = 'x' is not minutes >= 0; printed without it" in caplog.text
    # A malformed wait (one rule for every reader: kiosk.waitwords.checked)
    # prints no wait line at all: neither a wrong wait nor "paused".
    with caplog.at_level(logging.WARNING, logger="kiosk.printing.tools"):
        broken = view_from_ticket(site, {**ticket, "estimated_wait_min": "soon"})
    assert "ticket 20261127-A013: estimated_wait_min = 'soon' is not minutes >= 0; printed without it" \
        in caplog.text
    assert not broken.wait_said and paused.wait_said and v.wait_said
    def said(v):
        return [e.text for e in layout(v, number_size=4) if isinstance(e, VText)
                if e.text.startswith(WAIT_PREFIX) or e.text == WAIT_PAUSED]
    assert said(broken) == [] and said(paused) == [WAIT_PAUSED] and len(said(v)) == 1


def test_bad_wait_figures_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="estimated_wait_min must be None or a finite number"):
        view(estimated_wait_min=float("nan"))
    with pytest.raises(ValueError, match="wait_low_min must be None or a finite number"):
        view(wait_low_min=-1.0, wait_high_min=5.0)
    with pytest.raises(ValueError, match="low <= high"):
        view(wait_low_min=30.0, wait_high_min=20.0)
    with pytest.raises(ValueError, match="both be None"):
        view(wait_low_min=10.0)
