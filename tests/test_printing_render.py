"""Ticket bytes decoded back and compared with what Pillow drew."""
from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
import zoneinfo

import pytest
from PIL import ImageChops

from kiosk.printing import decode, profiles
from kiosk.printing.layout import Cut, Feed, Native, TicketView, VText, ahead_text, wait_text
from kiosk.printing.render import TicketRenderer, raster_command

TZ = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def view(**kw) -> TicketView:
    base = dict(
        commune="Xã Thắng Lộc",
        centre="Trung tâm Phục vụ hành chính công xã Thắng Lộc",
        field_name_vi="Tư pháp – Hộ tịch",
        label="A013",
        priority_name_vi=None,
        issued_at=dt.datetime(2026, 11, 27, 9, 41, tzinfo=TZ),
        ahead=4,
        estimated_wait_min=20.0,
        counters=["Quầy 1", "Quầy 2"],
        ticket_id="20261127-A013",
    )
    base.update(kw)
    return TicketView(**base)


def same(a, b) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


@pytest.mark.parametrize("profile", ["80mm", "58mm"])
def test_rasters_decode_pixel_exact_to_the_pillow_rendering(profile):
    r = TicketRenderer(profiles.get(profile), "raster")
    v = view(priority_name_vi="Người cao tuổi")
    expected = [(e, img) for e in r.elements(v) if isinstance(e, VText) for img in r.text_images(e)]
    rasters = [op for op in decode.parse(r.render(v)) if isinstance(op, decode.Raster)]
    assert len(rasters) == len(expected) >= 8
    for (el, img), op in zip(expected, rasters):
        assert same(op.image, img), el.text
        assert op.image.width <= profiles.get(profile).width_dots
        assert op.align == "center"
    # The rasters really contain ink: a blank renderer would also "match".
    assert all(op.image.convert("L").getextrema()[0] == 0 for op in rasters)


def _as_padded_images(r: TicketRenderer, elements) -> bytes:
    """The ticket as raster mode sent it up to issue 21: every line one image
    with its blank rows (PAD_Y) drawn in, each element encoded on its own."""
    out = b""
    for el in elements:
        if isinstance(el, VText):
            align = el.align if r.profile.raster_align else "left"
            out += b"\x1ba" + bytes(({"left": 0, "center": 1, "right": 2}[align],))
            out += b"".join(raster_command(r.padded(el, img)) for img in r.text_images(el))
        else:
            out += r.encode([el])
    return out


@pytest.mark.parametrize("profile", ["80mm", "58mm", "58mm-no-image-align"])
@pytest.mark.parametrize("kw", [{}, {"priority_name_vi": "Người cao tuổi"}, {"reprint": True},
                                {"qr_data": "https://a.example/t/1/x", "qr_note": "Quét mã để xem lượt chờ\nvà đánh giá"}])
def test_blank_rows_go_as_feeds_and_the_paper_looks_the_same(profile, kw):
    # A printer that ignores ESC a for images gets left-aligned, paper-wide rasters.
    prof = (dataclasses.replace(profiles.get("58mm"), raster_align=False) if profile.endswith("no-image-align")
            else profiles.get(profile))
    r = TicketRenderer(prof, "raster")
    els = r.elements(view(**kw))
    data = r.render(view(**kw))
    ops = decode.parse(data)
    # The same picture, dot for dot, as the lines with their blank rows drawn in.
    old = _as_padded_images(r, els)
    assert same(decode.to_image(ops, prof.width_dots), decode.decode(old, prof.width_dots))
    # ...for fewer bytes: no plain line carries a blank row (a row of 80 mm is up to 72 bytes).
    for op in ops:
        if isinstance(op, decode.Raster):
            box = ImageChops.invert(op.image.convert("L")).getbbox()
            assert (box[1], box[3]) == (0, op.image.height)
    assert len(data) <= len(old) - 400


def test_long_feeds_are_split_into_escj_steps():
    r = TicketRenderer(profiles.get("80mm"), "raster")
    data = r.encode([Feed(200), Feed(200), Cut()])
    assert data.count(b"\x1bJ") == 2
    assert sum(op.dots for op in decode.parse(data) if isinstance(op, decode.Feed)) == 400


def test_number_time_and_id_are_native_text_at_the_profile_size():
    prof = profiles.get("80mm")
    r = TicketRenderer(prof, "raster")
    data = r.render(view(label="B023"))
    n = prof.number_size
    assert b"\x1d!" + bytes(((n - 1) << 4 | (n - 1),)) + b"\x1bE\x01B023\n" in data
    lines = {op.text: op for op in decode.parse(data) if isinstance(op, decode.TextLine)}
    big = lines["B023"].runs[0]
    assert (big.width, big.height, big.bold) == (n, n, True)
    assert lines["27/11/2026  09:41"].runs[0].height == 1
    assert "20261127-A013" in lines


def test_qr_is_the_native_command_with_the_ticket_id():
    r = TicketRenderer(profiles.get("80mm"), "raster")
    data = r.render(view())
    qrs = [op for op in decode.parse(data) if isinstance(op, decode.QrCode)]
    assert [q.data for q in qrs] == ["20261127-A013"]
    assert b"\x1d(k" in data and len(data) < 6000
    no_qr = TicketRenderer(profiles.get("80mm"), "raster", qr=False).render(view())
    assert not [op for op in decode.parse(no_qr) if isinstance(op, decode.QrCode)]


def test_typical_ticket_fits_the_6kb_budget():
    r = TicketRenderer(profiles.get("80mm"), "raster")
    assert len(r.render(view())) <= 6000
    assert len(TicketRenderer(profiles.get("58mm"), "raster").render(view())) <= 6000


def test_decomposed_input_prints_the_same_bytes_as_composed():
    r = TicketRenderer(profiles.get("80mm"), "raster")
    nfd = {k: unicodedata.normalize("NFD", getattr(view(), k)) for k in ("commune", "centre", "field_name_vi")}
    assert r.render(view(**nfd, counters=[unicodedata.normalize("NFD", "Quầy 1")])) == r.render(
        view(counters=["Quầy 1"])
    )


def test_reprint_is_marked_in_lai():
    r = TicketRenderer(profiles.get("80mm"), "raster")
    els = r.elements(view(reprint=True))
    marks = [e for e in els if isinstance(e, VText) and e.text == "IN LẠI"]
    assert len(marks) == 2 and marks[0].invert and els[0] == marks[0]
    rasters = [op for op in decode.parse(r.render(view(reprint=True))) if isinstance(op, decode.Raster)]
    assert same(rasters[0].image, r.text_images(marks[0])[0])
    assert not any(isinstance(e, VText) and "IN LẠI" in e.text for e in r.elements(view()))


def test_full_raster_is_one_picture_plus_cut():
    r = TicketRenderer(profiles.get("80mm"), "full_raster")
    v = view()
    ops = decode.parse(r.render(v))
    assert not [op for op in ops if isinstance(op, (decode.TextLine, decode.QrCode))]
    assert isinstance(ops[-1], decode.Cut)
    bands = [op.image for op in ops if isinstance(op, decode.Raster)]
    expected = r.full_raster_page(r.elements(v))
    assert expected.width < 576 and expected.height > 400
    y = 0
    for band in bands:
        assert same(band, expected.crop((0, y, expected.width, y + band.height)))
        y += band.height
    assert y == expected.height


def test_a_line_is_drawn_once_and_a_new_ticket_reuses_it():
    r = TicketRenderer(profiles.get("80mm"), "raster")
    first = r.render(view())
    drawn = r._lines.cache_info()
    # A second ticket of the same field and queue: every line is a hit, the bytes the same.
    assert r.render(view()) == first
    again = r._lines.cache_info()
    assert again.misses == drawn.misses and again.hits > drawn.hits
    # A line the cache has not seen is drawn, and drawn right.
    line = VText(ahead_text(3))
    images = r.text_images(line)
    assert r.text_images(line) == images and r._lines.cache_info().misses == again.misses + 1
    # The cache is bounded, so a day of different waits cannot grow the core.
    for n in range(400):
        r.text_images(VText(ahead_text(n)))
    assert r._lines.cache_info().currsize <= 256


def test_wording():
    assert ahead_text(4) == "Có 4 người đang chờ trước bạn"
    assert ahead_text(0) == "Không có ai đang chờ trước bạn"
    # kiosk/waitwords.py's words, no-break spaces after numbers (tests/test_printing_wait.py).
    assert wait_text(20.0) == "Thời gian chờ dự kiến: khoảng 20\u00a0phút"
    assert wait_text(75) == "Thời gian chờ dự kiến: khoảng 1\u00a0giờ\u00a015\u00a0phút"


def test_bad_views_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="time-zone aware"):
        view(issued_at=dt.datetime(2026, 11, 27, 9, 41))
    with pytest.raises(ValueError, match="ASCII"):
        view(label="Ă013")
    with pytest.raises(ValueError, match="ahead"):
        view(ahead=-1)


def test_tcvn3_needs_a_profile_that_has_it():
    with pytest.raises(ValueError, match="TCVN-3"):
        TicketRenderer(profiles.get("58mm"), "tcvn3")
    with pytest.raises(profiles.ProfileError, match="unknown printer profile"):
        profiles.get("76mm")


def test_decoder_names_the_offset_of_bad_bytes():
    with pytest.raises(decode.DecodeError, match="byte 2"):
        decode.parse(b"AB\x1b\x99\x00")
    with pytest.raises(decode.DecodeError, match="ends inside"):
        decode.parse(b"\x1dv0\x00\x02\x00\x02\x00\xff")


def test_native_element_width_shrinks_to_fit_paper():
    r = TicketRenderer(profiles.get("58mm"), "raster")
    data = r.encode([Native("A1234", 8, 8, bold=True)])
    line = next(op for op in decode.parse(data) if isinstance(op, decode.TextLine))
    assert line.runs[0].width * 12 * 5 <= 384
