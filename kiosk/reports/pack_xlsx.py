"""The official pack as a workbook: one sheet per section of the PDF.

Each sheet: the section's title in row 1, bold headers in row 2 (frozen,
with filters), one row per group and the total in bold; numbers are real
numbers with formats (counts ``#,##0``, minutes ``0.0``, rates ``0.0%``,
times ``dd/mm/yyyy hh:mm``); the section's notes under the table.  The
workbook is written in openpyxl's write-only mode: a quarter of a large
centre has tens of thousands of follow-up cases, every one a row here.
"""
from __future__ import annotations

from pathlib import Path

from kiosk.reports.pack_tables import INT, MIN, PCT, TIME, Context, Section

FORMATS = {INT: "#,##0", MIN: "0.0", PCT: "0.0%", TIME: "dd/mm/yyyy hh:mm"}


def write(ctx: Context, sections: list[Section], path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold, title_font = Font(bold=True), Font(bold=True, size=12)
    wrap = Alignment(wrap_text=True, vertical="top")
    f = ctx.figures
    for s in sections:
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
        for n, row in enumerate(s.rows):
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
        notes = list(s.notes)
        if s.key == "summary":
            notes += [ctx.t("sources"), ctx.t("made", at=_made(ctx, f.made_at))]
        if notes:
            ws.append([])
            for note in notes:
                ws.append([note])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _period(ctx: Context) -> str:
    from kiosk.reports.pack_text import period_label
    f = ctx.figures
    return (f"{period_label(ctx.kind, f.date_from, ctx.lang)} "
            f"({f.date_from:%d/%m/%Y}–{f.date_to:%d/%m/%Y})")


def _made(ctx: Context, at: float) -> str:
    from kiosk.reports.pack_text import when
    return when(at, ctx.config.tz)
