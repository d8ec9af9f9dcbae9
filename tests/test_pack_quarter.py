"""The official pack of a demo quarter: the PDF's pages rendered to PNG (the
pictures in docs/reports.md; PHUCVU_UPDATE_IMAGES=1 refreshes
docs/images/pack-quarter-page-*.png), and the long lists: the PDF lists a
limited number of cases, the workbook every one.

The quarter is the report bench's generator (bench/reports.py) at a small
centre's size: 6,000 tickets over Q3 2026, ten officials with names, a
follow-up case for every counted "không hài lòng" rating (Q3, so that every
time in it is before the pack is made).
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sqlite3
import subprocess
import unicodedata

import pytest

from kiosk.reports import pack_tables, pack_xlsx
from kiosk.reports.pack import pack_main
from tests.pack_helpers import ROOT, site_with_targets

NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em",
         "Vũ Thị Phương", "Đặng Văn Giang", "Bùi Thị Hà", "Đỗ Văn Khánh", "Ngô Thị Lan"]
REASONS = [["cho-lau"], ["thai-do"], ["huong-dan", "di-lai"], None]


def _generator():
    spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "bench" / "reports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quarter")
    cfg = site_with_targets(tmp)
    db = tmp / "quarter.db"
    _generator()(cfg, db, 6000, 10, 92, dt.date(2026, 7, 1), seed=19, cases=True,
                 weights=(70, 28, 2))
    conn = sqlite3.connect(db)
    conn.executemany("UPDATE officials SET name = ? WHERE code = ?",
                     [(n, f"nv{i:02d}") for i, n in enumerate(NAMES, start=1)])
    # Some cases came from the phone page, with the citizen's reasons.
    for i, reasons in enumerate(REASONS):
        conn.execute("UPDATE cases SET source = 'phone', reasons = ? WHERE id % 4 = ?",
                     (json.dumps(reasons) if reasons else None, i))
    cases = conn.execute("SELECT COUNT(*) FROM cases WHERE day BETWEEN '2026-07-01' AND "
                         "'2026-09-30'").fetchone()[0]
    conn.commit()
    conn.close()
    return cfg, db, tmp, cases


def _text(pdf) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return unicodedata.normalize("NFC", out)


def test_quarter_pages(quarter):
    from PIL import Image
    cfg, db, tmp, cases = quarter
    xlsx, pdf = pack_main(cfg, db, kind="quarterly", period="2026-Q3", out_dir=tmp / "out",
                          today=dt.date(2026, 10, 10))
    text = _text(pdf)
    pages = text.count("\f")
    assert "Quý III/2026" in text and f"Trang {pages}/{pages}" in text
    for n in ("I.", "II.", "III.", "IV.", "V.", "V.2.", "V.3.", "VI.", "VII.", "VIII."):
        assert f"\n {n} " in text or f"\n{n} " in text, n
    assert "Phạm Thị Dung (nv04)" in text and "Nguồn / căn cứ" in text
    assert 0 < cases <= pack_tables.PDF_CASES, "the demo quarter lists every case in the PDF"
    out = ROOT / "docs" / "images" if os.environ.get("PHUCVU_UPDATE_IMAGES") else tmp / "png"
    out.mkdir(exist_ok=True)
    for old in out.glob("pack-quarter-page-*.png"):
        old.unlink()
    # 100 dpi: an A4 page 827 pixels wide, readable on a screen.
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(pdf), str(out / "pack-quarter-page")],
                   check=True)
    images = sorted(out.glob("pack-quarter-page-*.png"))
    assert len(images) == pages
    for p in images:
        img = Image.open(p).convert("L")
        assert img.size[1] in (1169, 1170) and sum(img.histogram()[:128]) > 5000, p


def test_long_lists(quarter, monkeypatch):
    """Past PDF_CASES the PDF lists the cases not closed on time first and says
    how many it left out; past FAST_ROWS the workbook's rows are written as
    XML: both read back the same as the cases in the file."""
    from openpyxl import load_workbook

    from kiosk.core.read import open_readonly
    from kiosk.core.read.cases import read_cases
    cfg, db, tmp, cases = quarter
    monkeypatch.setattr(pack_tables, "PDF_CASES", 20)
    monkeypatch.setattr(pack_xlsx, "FAST_ROWS", 10)
    xlsx, pdf = pack_main(cfg, db, kind="quarterly", period="2026-Q3", out_dir=tmp / "long",
                          today=dt.date(2026, 10, 10))
    flat = " ".join(_text(pdf).split())
    assert f"Bản in liệt kê 20 trong {cases} phiếu" in flat
    listed = {w for w in flat.split() if w.startswith("#") and w[1:].isdigit()}
    assert len(listed) == 20
    conn = open_readonly(db, {"cases": ("id",)})
    rows = {f"#{c.id}": c for c in read_cases(conn, day_from="2026-07-01", day_to="2026-09-30")}
    conn.close()
    ws = load_workbook(xlsx)["Phiếu theo dõi"]
    got = [[c.value for c in r] for r in ws.iter_rows(min_row=3, max_row=2 + cases)]
    assert len(got) == cases and {r[0] for r in got} == set(rows)
    tz = cfg.tz
    for r in got:
        case = rows[r[0]]
        assert r[1] == case.ticket_id
        assert r[7] == dt.datetime.fromtimestamp(case.due_at, tz).replace(tzinfo=None, microsecond=0) \
            or abs((r[7] - dt.datetime.fromtimestamp(case.due_at, tz).replace(tzinfo=None))
                   .total_seconds()) < 0.01
        assert (r[8] == "Đã đóng") == (case.status == "closed")
    # The ones the PDF lists are those not closed on time, soonest due first.
    late = [r[0] for r in got if r[10] != "Có"]
    assert [r[0] for r in got[:len(late)]] == late
    assert ws.cell(row=4, column=7).number_format == "dd/mm/yyyy hh:mm"
    # The notes follow the rows.
    assert ws.cell(row=4 + cases, column=1).value.startswith("Số phiếu:")
