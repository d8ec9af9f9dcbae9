"""Report formats on a real day's database: XLSX reopened, CSV parsed, PNGs measured."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.reports import BREAKDOWNS, ReportError, report_main
from kiosk.reports import catalogue as cat
from kiosk.reports.charts import size_px
from tests.test_reports_scenarios import run_scenario

DAY = dt.date(2026, 11, 27)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def day_db(tmp_path_factory):
    from kiosk import config
    site = config.load(ROOT / "deploy" / "demo-site.toml")
    return run_scenario(site, "reports-ngay-thuong.toml",
                        tmp_path_factory.mktemp("reports") / "day.db")


def run(site, db, **kw):
    args = dict(date_from=DAY, date_to=DAY, by="official", fmt="table", out=None)
    args.update(kw)
    return report_main(site, db, **args)


def test_xlsx_has_a_sheet_per_breakdown_with_formats(site, day_db, tmp_path):
    from openpyxl import load_workbook
    path = run(site, day_db, fmt="xlsx", by="field", out=str(tmp_path / "r.xlsx"))
    wb = load_workbook(path)
    # The asked-for breakdown first, then the others in their usual order.
    assert wb.sheetnames == ["Theo lĩnh vực", "Theo cán bộ", "Theo quầy", "Theo ngày", "Theo giờ"]
    assert wb.active.title == "Theo lĩnh vực"
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.cell(1, 1).font.bold
    ws = wb["Theo cán bộ"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["Mã cán bộ", "Họ tên", "Số phiếu cấp"]
    rows = {r[0]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert list(rows) == ["nv01", "nv02", "nv03", "nv04", "—", "Tổng cộng"]
    nv02 = rows["nv02"]
    assert nv02["Họ tên"] == "Trần Thị Bích"
    assert nv02["Số phiếu cấp"] == 3 and nv02["Vắng mặt"] == 1
    assert nv02["Chờ trung vị (phút)"] == 11.0 and nv02["Chờ p90 (phút)"] == 11.5
    assert nv02["Tỷ lệ được đánh giá"] == 0.5 and nv02["BT: quá nhanh"] == 1
    assert rows["—"]["Tỷ lệ hài lòng"] is None          # no ratings: empty, not 0 %
    assert rows["Tổng cộng"]["Tỷ lệ hài lòng"] == 0.75
    col = {h: i + 1 for i, h in enumerate(header)}
    assert ws.cell(2, col["Tỷ lệ hài lòng"]).number_format == "0.0%"
    assert ws.cell(2, col["Chờ p90 (phút)"]).number_format == "0.0"
    assert ws.cell(2, col["Số phiếu cấp"]).number_format == "0"
    assert wb["Theo giờ"].cell(2, 1).value == "08:00–09:00"


def test_csv_is_utf8_with_bom_and_machine_numbers(site, day_db, tmp_path):
    out = tmp_path / "r.csv"
    assert run(site, day_db, fmt="csv", by="counter", out=str(out)) == str(out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["Quầy"] for r in rows] == ["1", "2", "3", "4", "—", "Tổng cộng"]
    assert rows[1]["Tên quầy"] == "Quầy 2"
    assert rows[1]["Tỷ lệ được đánh giá"] == "0.5000" and rows[1]["Chờ p90 (phút)"] == "11.5"
    assert rows[3]["Tỷ lệ hài lòng"] == ""            # counter 4: presses, no ratings
    # Printed (no --out) it is the same text without the BOM.
    assert run(site, day_db, fmt="csv", by="counter") == raw.decode("utf-8-sig")


def test_english_on_request(site, day_db):
    text = run(site, day_db, by="field", lang="en")
    assert "Satisfaction rate" in text and "Justice and civil status" in text
    assert "Tỷ lệ" not in text
    # English decimals use a point, Vietnamese a comma.
    assert re.search(r"\b11\.5\b", text)
    assert re.search(r"\b11,5\b", run(site, day_db, by="field"))


def _pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=float)


@pytest.mark.parametrize("by, groups", [("official", 4), ("counter", 5), ("hour", 2), ("day", 1)])
def test_charts_have_their_size_and_are_not_blank(site, day_db, tmp_path, by, groups):
    path = run(site, day_db, fmt="png", by=by, out=str(tmp_path / f"{by}.png"))
    img = Image.open(path)
    assert img.format == "PNG"
    assert img.size == size_px(by, groups)
    px = _pixels(path)
    assert px.std() > 10
    # Ink where the plot is, not only in the titles.
    h = px.shape[0]
    assert (px[h // 4: h * 3 // 4] < 245).mean() > 0.05


def test_satisfaction_bars_use_the_level_colours(site, day_db, tmp_path):
    # nv03's only rating is "Không hài lòng": its row is the worst level's red.
    path = run(site, day_db, fmt="png", by="official", out=str(tmp_path / "o.png"))
    rgb = np.asarray(Image.open(path).convert("RGB"))
    red = np.all(np.abs(rgb.astype(int) - (0xd7, 0x30, 0x27)) < 8, axis=2)
    green = np.all(np.abs(rgb.astype(int) - (0x1a, 0x98, 0x50)) < 8, axis=2)
    assert red.sum() > 20000 and green.sum() > 10000


def test_default_output_path_for_files(site, day_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = run(site, day_db, fmt="xlsx")
    assert path == "phucvu-report-official-2026-11-27-2026-11-27.xlsx"
    assert (tmp_path / path).stat().st_size > 0


@pytest.mark.parametrize("kw, message", [
    ({"by": "week"}, "--by 'week'"),
    ({"fmt": "pdf"}, "--format 'pdf'"),
    ({"lang": "fr"}, "--lang 'fr'"),
    ({"date_from": DAY, "date_to": DAY - dt.timedelta(days=1)}, "ends"),
])
def test_bad_arguments_are_named(site, day_db, kw, message):
    with pytest.raises(ReportError, match=re.escape(message)):
        run(site, day_db, **kw)


def test_missing_or_old_database_is_explained(site, tmp_path):
    with pytest.raises(ReportError, match="does not exist; run phucvu init first"):
        run(site, tmp_path / "nope.db")
    # A file of schema 4, as a core before migration 5 left it.
    from kiosk.core.schema import MIGRATIONS
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(";".join(MIGRATIONS[:4]) + "; PRAGMA user_version = 4;")
    conn.close()
    with pytest.raises(ReportError, match="lacks column"):
        run(site, old)


def test_docs_define_every_figure_and_breakdown():
    doc = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    for key in ("issued", "served", "no_show", "expired", "transferred", "wait_p50", "wait_p90",
                "service_p50", "service_p90", "rated", "satisfaction", "rated_share", "anomalies",
                "reason.no_window", "reason.after_window", "reason.extra_press",
                "reason.too_fast", "priority_share", "on_time_share"):
        for lang in cat.LANGS:
            assert cat.text(key, lang) in doc, f"docs/reports.md lacks {cat.text(key, lang)!r}"
    for by in BREAKDOWNS:
        assert f"`--by {by}`" in doc
