"""The official pack's files: the workbook reopened with openpyxl, the PDF read
back by poppler (pdftotext) and rendered to PNG pages (pdftoppm); the
periods; the command line.

The figures checked here are the scenario month's (tests/pack_helpers.py),
worked out by hand in tests/test_pack_figures.py.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from kiosk.reports.pack import PackError, pack_main, parse_period
from tests.pack_helpers import COMMENT, ROOT, month_db, site_with_targets

TODAY = dt.date(2026, 12, 2)


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pack")
    cfg = site_with_targets(tmp)
    db = month_db(cfg, tmp / "month.db")
    paths = pack_main(cfg, db, kind="monthly", period="2026-11", out_dir=tmp / "out", today=TODAY)
    return cfg, db, paths, tmp


def test_names_of_the_files(pack):
    _, _, paths, tmp = pack
    assert [p.name for p in paths] == ["phucvu-bao-cao-thang-loc-2026-11.xlsx",
                                       "phucvu-bao-cao-thang-loc-2026-11.pdf"]
    assert all(p.parent == tmp / "out" and p.stat().st_size > 0 for p in paths)


def test_workbook_cell_by_cell(pack):
    from openpyxl import load_workbook
    wb = load_workbook(pack[2][0])
    assert wb.sheetnames == ["Tổng hợp", "Theo lĩnh vực", "Theo quầy", "Theo cán bộ",
                             "Chờ theo lĩnh vực", "Chờ lâu nhất", "Giờ vượt mục tiêu",
                             "Bấm bất thường", "Phiếu theo dõi", "Ước tính 766"]
    s = wb["Tổng hợp"]
    assert s.freeze_panes == "A3"
    assert s["A1"].value.startswith("I. TỔNG HỢP CHUNG CỦA TRUNG TÂM")
    assert [c.value for c in s[2]] == ["Chỉ tiêu", "Số lượng", "Tỷ lệ"]
    rows = {r[0].value: (r[1].value, r[2].value) for r in s.iter_rows(min_row=3, max_row=14)}
    assert rows["Số phiếu cấp"] == (11, None)
    assert rows["Số lượt đã phục vụ"] == (8, None)
    # 7 ratings of 8 served; 2/2/3 of 7 at the three levels.
    assert rows["Số lượt đánh giá (tỷ lệ được đánh giá trên số đã phục vụ)"] == (7, 0.875)
    assert rows["Rất hài lòng"] == (2, pytest.approx(2 / 7))
    assert rows["Hài lòng"] == (2, pytest.approx(2 / 7))
    assert rows["Không hài lòng"] == (3, pytest.approx(3 / 7))
    assert rows["Gọi trong thời gian chờ mục tiêu"] == (6, pytest.approx(0.6))
    assert rows["Phục vụ đúng thời gian mục tiêu"] == (6, pytest.approx(0.75))
    assert rows["Lượt bấm bất thường (không tính)"] == (4, None)
    assert rows["Phiếu theo dõi không hài lòng (đóng đúng hạn)"] == (3, pytest.approx(1 / 3))
    assert rows["Tỷ lệ hài lòng theo cách tính Bộ chỉ số 766 (Trung tâm tự ước tính)"] == (
        4, pytest.approx(0.5))
    assert s["C3"].number_format == "0.0%" or s["C5"].number_format == "0.0%"
    assert s["B3"].number_format == "#,##0"

    o = wb["Theo cán bộ"]
    by_name = {r[0].value: [c.value for c in r] for r in o.iter_rows(min_row=3)}
    # nv01: served 4, rated 4 (100 %), 2 rất hài lòng (50 %), 0 hài lòng, 2 không (50 %).
    assert by_name["Nguyễn Văn An (nv01)"] == [
        "Nguyễn Văn An (nv01)", 4, 4, 1.0, 2, 0.5, 0, 0.0, 2, 0.5]
    assert by_name["Toàn Trung tâm"][1:4] == [8, 7, 0.875]
    total_row = next(r for r in o.iter_rows(min_row=3) if r[0].value == "Toàn Trung tâm")
    assert total_row[1].font.bold and not o["B3"].font.bold

    w = {r[0].value: [c.value for c in r] for r in wb["Chờ theo lĩnh vực"].iter_rows(min_row=3)}
    # Chứng thực: target 20, 3 in the base, 2 within, 1 over, 2/3; service target 5, 1/1 on time.
    assert w["Chứng thực"] == ["Chứng thực", 20, 3, 2, 1, pytest.approx(2 / 3), 5, 1.0]
    assert w["Đất đai – Xây dựng"][1:6] == [45, 2, 1, 1, 0.5]

    lw = wb["Chờ lâu nhất"]
    assert [lw.cell(row=3, column=i).value for i in (1, 2, 3, 5, 6, 8)] == [
        1, "C001", "20261103-C001", "Đất đai – Xây dựng", "Quầy 3", 70]
    assert lw["D3"].value == dt.datetime(2026, 11, 3, 10, 20)
    assert lw["D3"].number_format == "dd/mm/yyyy hh:mm"

    h = [[c.value for c in r] for r in wb["Giờ vượt mục tiêu"].iter_rows(min_row=3, max_row=5)]
    assert h == [["08:00–09:00", 4, 1, 0.75], ["09:00–10:00", 2, 1, 0.5],
                 ["10:00–11:00", 3, 2, pytest.approx(1 / 3)]]

    a = {r[0].value: [c.value for c in r] for r in wb["Bấm bất thường"].iter_rows(min_row=3)}
    # Columns: official, total, no_window, after_window, extra_press, too_fast, bad_level.
    assert a["Nguyễn Văn An (nv01)"] == ["Nguyễn Văn An (nv01)", 2, 0, 0, 1, 1, 0]
    assert a["Trần Thị Bình (nv02)"][1:3] == [1, 1]

    c = wb["Phiếu theo dõi"]
    cases = [[x.value for x in r] for r in c.iter_rows(min_row=3, max_row=5)]
    # Not closed on time first (#2 late, #3 overdue, by due time), then #1.
    assert [r[0] for r in cases] == ["#2", "#3", "#1"]
    assert cases[1][1:6] == ["20261103-C001", "Đất đai – Xây dựng", "Lê Văn Cường (nv03)",
                             "Không hài lòng", "Thái độ cán bộ, Hướng dẫn chưa rõ"]
    assert cases[1][8] == "Quá hạn" and cases[0][10] == "Không" and cases[2][10] == "Có"
    assert cases[2][9] == dt.datetime(2026, 11, 4, 10, 0)

    e = [[x.value for x in r] for r in wb["Ước tính 766"].iter_rows(min_row=3, max_row=8)]
    assert [r[1] for r in e[:4]] == [8, 4, 3, 2]
    assert e[4][2] == pytest.approx(0.5) and e[5][2] == pytest.approx(0.5 / 0.9)
    every = " ".join(str(x.value) for ws in wb for r in ws.iter_rows() for x in r)
    assert "SECRET-COMMENT" not in every


def _pdftotext(path: Path, *options: str) -> str:
    out = subprocess.run(["pdftotext", *options, str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return unicodedata.normalize("NFC", out)


def test_pdf_reads_back_with_the_figures_and_headings(pack):
    text = _pdftotext(pack[2][1], "-layout")
    # A table cell may wrap onto a second line: each line's words in order.
    flat = " ".join(_pdftotext(pack[2][1]).split())
    for words in ("Thái độ cán bộ,", "Hướng dẫn", "Lê Văn Cường", "Chờ lâu", "Quá hạn"):
        assert words in flat, words
    for heading in ("BÁO CÁO KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN",
                    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập – Tự do – Hạnh phúc",
                    "I. TỔNG HỢP CHUNG CỦA TRUNG TÂM", "IV. MỨC ĐỘ HÀI LÒNG THEO CÁN BỘ, CÔNG CHỨC",
                    "V. THỜI GIAN CHỜ SO VỚI MỤC TIÊU", "VII. THEO DÕI, XỬ LÝ Ý KIẾN KHÔNG HÀI LÒNG",
                    "Tháng 11/2026", "Nguồn / căn cứ: Thông tư số 01/2018/TT-VPCP ngày 23/11/2018 (Chương III)",
                    "Nghị định số 118/2025/NĐ-CP", "Trung tâm tự ước tính", "Nguyễn Văn An (nv01)",
                    "Quá hạn"):
        assert heading in text, heading
    # The figures as printed: 87,5% rated, 60,0% within target, 75,0% on time,
    # 33,3% cases closed on time, 50,0% the estimate, 55,6% of the points.
    for figure in ("87,5%", "60,0%", "75,0%", "33,3%", "50,0%", "55,6%", "#1", "#2", "#3"):
        assert figure in text, figure
    assert "Tỷ lệ = (A − B) ÷ A" in text
    assert "SECRET-COMMENT" not in text and "#4" not in text
    pages = text.count("\f")
    assert f"Trang 1/{pages}" in text and f"Trang {pages}/{pages}" in text


def test_pdf_pages_render(pack):
    from PIL import Image
    pdf, tmp = pack[2][1], pack[3]
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp / "page")], check=True)
    pages = sorted(tmp.glob("page-*.png"))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    count = int(next(ln for ln in info.splitlines() if ln.startswith("Pages:")).split()[1])
    assert count == len(pages) and 2 <= count <= 4
    for p in pages:
        img = Image.open(p).convert("L")
        # A4 (210 x 297 mm) at 60 dpi: 496-497 x 702 pixels; ink on the page (not blank).
        assert img.size[0] in (496, 497) and img.size[1] == 702
        dark = sum(img.histogram()[:128])
        assert dark > 2000, p


@pytest.mark.parametrize("kind,text,expected", [
    ("monthly", "2026-11", (dt.date(2026, 11, 1), dt.date(2026, 11, 30), "Tháng 11/2026")),
    ("monthly", "2024-02", (dt.date(2024, 2, 1), dt.date(2024, 2, 29), "Tháng 2/2024")),
    ("monthly", None, (dt.date(2026, 11, 1), dt.date(2026, 11, 30), "Tháng 11/2026")),
    ("quarterly", "2026-Q4", (dt.date(2026, 10, 1), dt.date(2026, 12, 31), "Quý IV/2026")),
    ("quarterly", "2026-q1", (dt.date(2026, 1, 1), dt.date(2026, 3, 31), "Quý I/2026")),
    ("quarterly", None, (dt.date(2026, 7, 1), dt.date(2026, 9, 30), "Quý III/2026")),
    ("yearly", "2025", (dt.date(2025, 1, 1), dt.date(2025, 12, 31), "Năm 2025")),
    ("yearly", None, (dt.date(2025, 1, 1), dt.date(2025, 12, 31), "Năm 2025")),
])
def test_parse_period(kind, text, expected):
    assert parse_period(kind, text, TODAY) == expected


def test_parse_period_in_january_goes_back_a_year():
    jan = dt.date(2027, 1, 15)
    assert parse_period("monthly", None, jan)[2] == "Tháng 12/2026"
    assert parse_period("quarterly", None, jan)[2] == "Quý IV/2026"


@pytest.mark.parametrize("kind,text,message", [
    ("weekly", None, "--pack 'weekly': expected one of monthly, quarterly, yearly"),
    ("monthly", "2026-13", "there is no month 13"),
    ("monthly", "11/2026", "expected a month as 2026-11"),
    ("quarterly", "2026-Q5", "expected a quarter as 2026-Q4"),
    ("yearly", "26", "expected a year as 2026"),
    ("yearly", "1999", "between 2000 and 9998"),
    ("monthly", "2027-01", "has not begun yet"),
])
def test_parse_period_refuses(kind, text, message):
    with pytest.raises(PackError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_period(kind, text, TODAY)


def test_pack_of_a_missing_or_old_database(tmp_path):
    cfg = site_with_targets(tmp_path)
    with pytest.raises(PackError, match="does not exist"):
        pack_main(cfg, tmp_path / "none.db", kind="monthly", out_dir=tmp_path, today=TODAY)
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all, just text" * 10)
    with pytest.raises(PackError, match="not a SQLite database"):
        pack_main(cfg, tmp_path / "junk.db", kind="monthly", out_dir=tmp_path, today=TODAY)
    assert not list(tmp_path.glob("phucvu-bao-cao-*"))


def test_cli_pack_and_its_errors(pack):
    cfg_path, db, tmp = pack[3] / "site.toml", pack[1], pack[3]

    def run(*args):
        return subprocess.run([sys.executable, "-m", "kiosk.cli", "report", *args, "--config",
                               str(cfg_path), "--db", str(db)], capture_output=True, text=True,
                              cwd=ROOT)
    p = run("--pack", "monthly", "--period", "2026-11", "--out", str(tmp / "cli"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(tmp / "cli" / f"phucvu-bao-cao-thang-loc-2026-11.{x}")
                                for x in ("xlsx", "pdf")]
    for args, message in [(("--pack", "monthly", "--period", "2026-13"), "there is no month 13"),
                          (("--period", "2026-11"), "--period goes with --pack"),
                          ((), "give --from and --to")]:
        p = run(*args)
        assert p.returncode != 0 and message in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    # The command line writes the PDF in a forked child: its error is one line too.
    (tmp / "blocked" / "phucvu-bao-cao-thang-loc-2026-11.pdf").mkdir(parents=True)
    p = run("--pack", "monthly", "--period", "2026-11", "--out", str(tmp / "blocked"))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.strip().endswith("phucvu-bao-cao-thang-loc-2026-11.pdf: cannot write it: "
                                     "Is a directory")
    # The ordinary report still works beside it.
    p = run("--from", "2026-11-01", "--to", "2026-11-30", "--by", "field")
    assert p.returncode == 0 and "Chứng thực" in p.stdout


@pytest.mark.parametrize("blocked", ["xlsx", "pdf"])
def test_a_file_that_cannot_be_written_is_one_line(pack, tmp_path, blocked):
    # The PDF is written by a forked child (two cores): its error comes back too.
    cfg, db = pack[0], pack[1]
    (tmp_path / f"phucvu-bao-cao-thang-loc-2026-11.{blocked}").mkdir()
    with pytest.raises(PackError, match=rf"phucvu-bao-cao-thang-loc-2026-11\.{blocked}: cannot "
                                        "write it: Is a directory"):
        pack_main(cfg, db, kind="monthly", period="2026-11", out_dir=tmp_path, today=TODAY)


def test_one_file_only_when_one_is_asked_for(pack, tmp_path):
    # The web sends one file: the other is not made.
    cfg, db = pack[0], pack[1]
    paths = pack_main(cfg, db, kind="monthly", period="2026-11", out_dir=tmp_path, today=TODAY,
                      formats=("pdf",))
    assert [p.name for p in paths] == ["phucvu-bao-cao-thang-loc-2026-11.pdf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phucvu-bao-cao-thang-loc-2026-11.pdf"]
    assert paths[0].read_bytes().startswith(b"%PDF")
    with pytest.raises(PackError, match="expected some of xlsx, pdf"):
        pack_main(cfg, db, kind="monthly", period="2026-11", out_dir=tmp_path, today=TODAY,
                  formats=("docx",))
