"""The official pack as a workbook: one sheet per section of the PDF.

Each sheet: the section's title in row 1, bold headers in row 2 (frozen,
with filters), one row per group and the total in bold; numbers are real
numbers with formats (counts ``#,##0``, minutes ``0.0``, rates ``0.0%``,
times ``dd/mm/yyyy hh:mm``); the section's notes under the table.

A quarter of a large centre has tens of thousands of follow-up cases,
every one a row of its sheet.  openpyxl spends some 25 µs on each cell (a
Cell object, type checks, a style lookup, an XML element): 300,000 cells
were most of the pack's time.  So a sheet of more than ``FAST_ROWS`` rows
gets its first data row from openpyxl (which registers the cell styles)
and the rest as the same XML written here, with the style ids openpyxl
gave that first row; the workbook is reread in tests/test_pack_files.py.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from kiosk.reports.pack_tables import INT, MIN, PCT, TEXT, TIME, Context, Section

FORMATS = {INT: "#,##0", MIN: "0.0", PCT: "0.0%", TIME: "dd/mm/yyyy hh:mm"}
FAST_ROWS = 500
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def write(ctx: Context, sections: list[Section], path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    # A path that cannot be written fails here, before openpyxl's write-only
    # sheets hold writers that would complain again when collected.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab"):
        pass
    wb = Workbook(write_only=True)
    bold, title_font = Font(bold=True), Font(bold=True, size=12)
    wrap = Alignment(wrap_text=True, vertical="top")
    f = ctx.figures
    fast: dict[int, Section] = {}
    for index, s in enumerate(sections):
        if len(s.rows) > FAST_ROWS:
            fast[index + 1] = s
        ws = wb.create_sheet(ctx.t(f"sheet.{s.key}")[:31])
        # Widths and panes first: a write-only sheet writes them before the rows.
        for i, (head, kind) in enumerate(zip(s.header, s.kinds), start=1):
            longest = max([len(head) // 2 + 3] + [len(str(r[i - 1])) + 2 for r in s.rows[:500]
                                                   if kind == "text" and r[i - 1] is not None])
            if kind == TIME:
                longest = 17
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(9, longest))
        ws.freeze_panes = "A3"
        title = WriteOnlyCell(ws, value=f"{s.title} — {ctx.config.site.centre}, "
                                        f"{_period(ctx)}")
        title.font = title_font
        ws.append([title])
        heads = []
        for h in s.header:
            c = WriteOnlyCell(ws, value=h)
            c.font, c.alignment = bold, wrap
            heads.append(c)
        ws.append(heads)
        last = len(s.rows) - 1
        for n, row in enumerate(s.rows[:1] if index + 1 in fast else s.rows):
            total = s.total and n == last
            cells = []
            for value, kind in zip(row, s.kinds):
                if value is None or value == "" or (kind == "text" and not total):
                    value = None if value == "" else value
                    cells.append(value)
                    continue
                c = WriteOnlyCell(ws, value=round(value, 1) if kind == MIN else value)
                if kind in FORMATS:
                    c.number_format = FORMATS[kind]
                if total:
                    c.font = bold
                cells.append(c)
            ws.append(cells)
        if s.rows:
            ws.auto_filter.ref = (f"A2:{get_column_letter(len(s.header))}"
                                  f"{2 + len(s.rows) - (1 if s.total else 0)}")
        notes = [] if index + 1 in fast else list(s.notes)
        if s.key == "summary":
            notes += [ctx.t("sources"), ctx.t("made", at=_made(ctx, f.made_at))]
        if notes:
            ws.append([])
            for note in notes:
                ws.append([note])
    wb.save(path)
    if fast:
        _fill(path, fast)
    return path


def _fill(path: Path, fast: dict[int, Section]) -> None:
    """Write the rows after the first of each long sheet (see the module's note)."""
    tmp = path.with_name(path.name + ".part")
    # The fastest deflate: a long sheet compresses well anyway, and the
    # default level took a third of the time.
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                                                       compresslevel=1) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", item.filename)
            if m and int(m.group(1)) in fast:
                data = _rows_xml(data.decode("utf-8"), fast[int(m.group(1))]).encode("utf-8")
            dst.writestr(item, data)
    shutil.move(tmp, path)


def _rows_xml(sheet: str, s: Section) -> str:
    first = re.search(r'<row r="3"[^>]*>(.*?)</row>', sheet)
    # The style openpyxl gave each kind of cell in the first data row.
    styles: dict[str, str] = {}
    for col, style in re.findall(r'<c r="([A-Z]+)3"(?: s="(\d+)")?', first.group(1)):
        kind = s.kinds[_column_index(col)]
        if style:
            styles.setdefault(kind, style)
    letters = [_letter(i) for i in range(len(s.kinds))]
    out = []
    said: dict = {}
    r = 3
    for row in s.rows[1:]:
        r += 1
        cells = []
        for letter, kind, value in zip(letters, s.kinds, row):
            if value is None or value == "":
                continue
            ref = f"{letter}{r}"
            if kind == TEXT or isinstance(value, str):
                text = said.get(value)
                if text is None:      # names, levels and statuses repeat: escaped once
                    text = said[value] = escape(str(value))
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
                continue
            if kind == TIME:
                value = (value - _EXCEL_EPOCH).total_seconds() / 86400
            elif kind == MIN:
                value = round(value, 1)
            style = f' s="{styles[kind]}"' if kind in styles else ""
            cells.append(f'<c r="{ref}"{style} t="n"><v>{value!r}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    if s.notes:
        r += 1
        for note in s.notes:
            r += 1
            out.append(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{escape(note)}</t></is>'
                       "</c></row>")
    end = first.end()
    return sheet[:end] + "".join(out) + sheet[end:]


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(i + 1)


def _column_index(letters: str) -> int:
    from openpyxl.utils import column_index_from_string
    return column_index_from_string(letters) - 1


def _period(ctx: Context) -> str:
    from kiosk.reports.pack_text import period_label
    f = ctx.figures
    return (f"{period_label(ctx.kind, f.date_from, ctx.lang)} "
            f"({f.date_from:%d/%m/%Y}–{f.date_to:%d/%m/%Y})")


def _made(ctx: Context, at: float) -> str:
    from kiosk.reports.pack_text import when
    return when(at, ctx.config.tz)
