"""TCVN-3 mode: every Vietnamese letter survives the printer's code pages."""
from __future__ import annotations

import unicodedata

from kiosk.printing import decode, profiles
from kiosk.printing.layout import VText
from kiosk.printing.render import TicketRenderer

BASES = "aăâeêioôơuưy"
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]


def vietnamese_letters() -> list[str]:
    lower = [unicodedata.normalize("NFC", b + t) for b in BASES for t in TONES]
    lower = [c for c in lower if not c.isascii()] + ["đ"]
    return lower + [c.upper() for c in lower]


def test_there_are_134_letters():
    letters = vietnamese_letters()
    assert len(letters) == len(set(letters)) == 134
    assert {"đ", "Đ", "ơ", "Ơ", "ư", "Ư", "ộ", "Ỵ"} <= set(letters)


def test_every_letter_round_trips_through_tcvn3_pages():
    r = TicketRenderer(profiles.get("80mm"), "tcvn3")
    letters = vietnamese_letters()
    text = " ".join(letters)
    data = r.encode([VText(text, "body")])
    pages = {data[i + 2] for i in range(len(data) - 2) if data[i : i + 2] == b"\x1bt"}
    # Only the pages the profile lists, never a CP1258 fallback.
    assert pages <= {0, 30, 31} and {30, 31} <= pages
    lines = [op for op in decode.parse(data) if isinstance(op, decode.TextLine)]
    assert "".join(op.text for op in lines).replace(" ", "") == "".join(letters)
    assert "?" not in "".join(op.text for op in lines)


def test_each_letter_alone():
    r = TicketRenderer(profiles.get("80mm"), "tcvn3")
    for ch in vietnamese_letters():
        lines = [op for op in decode.parse(r.encode([VText(ch)])) if isinstance(op, decode.TextLine)]
        assert [op.text for op in lines] == [ch]


def test_tcvn3_ticket_is_small_and_has_the_sentences():
    from tests.test_printing_render import view

    r = TicketRenderer(profiles.get("80mm"), "tcvn3")
    data = r.render(view())
    texts = [op.text for op in decode.parse(data) if isinstance(op, decode.TextLine)]
    assert "Có 4 người đang chờ trước bạn" in texts
    assert "Vui lòng giữ phiếu và chờ gọi số" in texts
    assert "Tư pháp - Hộ tịch" in texts
    assert len(data) < 1500
