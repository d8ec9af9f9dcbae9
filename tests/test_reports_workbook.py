"""The month's workbook, written without openpyxl, against what openpyxl writes.

kiosk/reports/workbook.py replaced openpyxl for speed: the reference here is
the openpyxl code the report used before, run on the same report, and every
cell reread by openpyxl must match (value and type, number format, bold,
alignment), as must the sheets, their order, widths, frozen row and filters.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk.reports import BREAKDOWNS, _level_names, _names, build, report_main, workbook
from kiosk.reports import catalogue as cat
from kiosk.reports.output import TEXT, rows
from tests.test_reports_scenarios import run_scenario

DAY = dt.date(2026, 11, 27)
ROOT = Path(__file__).resolve().parent.parent
FORMATS = {"int": "0", "min": "0.0", "pct": "0.0%", "text": "@"}


@pytest.fixture(scope="module")
def day_db(tmp_path_factory):
    from kiosk import config
    site = config.load(ROOT / "deploy" / "demo-site.toml")
    return run_scenario(site, "reports-ngay-thuong.toml",
                        tmp_path_factory.mktemp("workbook") / "day.db")


def _openpyxl_reference(site, db, first: str, lang: str, path: Path) -> None:
    """The report's workbook as openpyxl wrote it (kiosk/reports/output.py before)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    report, officials = build(site, db, DAY, DAY, BREAKDOWNS)
    names, level_names = _names(site, officials, lang), _level_names(site, lang)
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for by in [first] + [b for b in BREAKDOWNS if b != first]:
        ws = wb.create_sheet(cat.text(f"sheet.{by}", lang))
        cols, data = rows(report, by, lang, names, level_names)
        ws.append([c.header for c in cols])
        for cell in ws[1]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for r in data:
            ws.append([None if v is None else round(v, 1) if c.kind == "min" else v
                       for v, c in zip(r, cols)])
        for i, c in enumerate(cols, start=1):
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = FORMATS[c.kind]
            longest = max([len(c.header) // 2 + 2] +
                          [len(str(r[i - 1])) + 2 for r in data if c.kind == TEXT])
            ws.column_dimensions[get_column_letter(i)].width = min(40, max(9, longest))
        for cell in ws[ws.max_row]:
            cell.font = bold
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{ws.max_row - 1}"
    wb.active = 0
    wb.save(path)


def _cells(ws) -> list[tuple]:
    return [(c.coordinate, c.value, type(c.value), c.data_type, c.number_format, bool(c.font.b),
             c.alignment.wrap_text, c.alignment.vertical)
            for row in ws.iter_rows() for c in row]


@pytest.mark.parametrize("first, lang", [("official", "vi"), ("hour", "en")])
def test_the_workbook_matches_openpyxls_cell_for_cell(site, day_db, tmp_path, first, lang):
    from openpyxl import load_workbook
    ours = report_main(site, day_db, date_from=DAY, date_to=DAY, by=first, fmt="xlsx",
                       out=str(tmp_path / "ours.xlsx"), lang=lang)
    _openpyxl_reference(site, day_db, first, lang, tmp_path / "ref.xlsx")
    a, b = load_workbook(ours), load_workbook(tmp_path / "ref.xlsx")
    assert a.sheetnames == b.sheetnames and a.active.title == b.active.title
    for wa, wb in zip(a.worksheets, b.worksheets):
        assert wa.dimensions == wb.dimensions
        assert wa.freeze_panes == wb.freeze_panes == "A2"
        assert wa.auto_filter.ref == wb.auto_filter.ref
        assert {k: d.width for k, d in wa.column_dimensions.items()} == \
               {k: d.width for k, d in wb.column_dimensions.items()}
        assert _cells(wa) == _cells(wb)
    # Not a vacuous comparison: the day's report has figures and a bold total.
    ws = a.worksheets[0]
    assert ws.max_row >= 3 and ws.cell(ws.max_row, 3).font.b
    assert any(isinstance(c.value, float) for row in ws.iter_rows(min_row=2) for c in row)


def test_strings_are_kept_as_strings_past_column_z(tmp_path):
    from openpyxl import load_workbook
    header = [f"h{i}" for i in range(30)]
    odd = ["A & <B>", " lead", "=1+1", "bell\x07", "Nguyễn Thị Hương", 3, 2.5, None, ""]
    row = odd + [i for i in range(30 - len(odd))]
    kinds = ["text"] * 5 + ["int", "min", "pct", "text"] + ["int"] * (30 - len(odd))
    path = workbook.write([workbook.Sheet("Sổ 'A'", header, kinds, [row, row], [9] * 30)],
                          tmp_path / "w.xlsx")
    ws = load_workbook(path)["Sổ 'A'"]
    got = [c.value for c in ws[2]]
    assert got[:9] == ["A & <B>", " lead", "=1+1", "bell", "Nguyễn Thị Hương", 3, 2.5, None, None]
    assert ws.cell(2, 3).data_type == "s"          # text, never a formula
    assert ws["AD2"].value == 20 and ws["AD1"].value == "h29"
    assert ws.auto_filter.ref == "A1:AD2" and ws.cell(3, 1).font.b


def test_column_letters():
    assert [workbook.letter(i) for i in (0, 25, 26, 51, 701, 702)] == \
           ["A", "Z", "AA", "AZ", "ZZ", "AAA"]
