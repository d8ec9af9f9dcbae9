"""The official pack as a printable A4 PDF (reportlab Platypus).

DejaVu Sans (Debian's fonts-dejavu-core) is embedded as TrueType, so every
Vietnamese diacritic prints as written; the header of every page names the
centre and the period, the footer says "Trang x/y" (the total is known only
after the last page: the canvas keeps each page until then).  Tables repeat
their header row on every page they run onto.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.sax.saxutils import escape

from kiosk.reports.pack_tables import INT, MIN, PCT, TEXT, TIME, Context, Section
from kiosk.reports.pack_text import PackError, number, period_label, when

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {"DejaVuSans": "DejaVuSans.ttf", "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
         "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf",
         "DejaVuCond": "DejaVuSansCondensed.ttf", "DejaVuCond-Bold": "DejaVuSansCondensed-Bold.ttf"}


def _register() -> None:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if "DejaVuSans" in pdfmetrics.getRegisteredFontNames():
        return
    for name, file in FONTS.items():
        path = FONT_DIR / file
        if not path.is_file():
            # Without the font the diacritics would print as boxes: refuse.
            raise PackError(f"{path} is missing: the PDF needs the DejaVu fonts "
                            "(apt install fonts-dejavu-core)")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    addMapping("DejaVuSans", 0, 0, "DejaVuSans")
    addMapping("DejaVuSans", 1, 0, "DejaVuSans-Bold")
    addMapping("DejaVuSans", 0, 1, "DejaVuSans-Oblique")
    addMapping("DejaVuSans", 1, 1, "DejaVuSans-Bold")
    addMapping("DejaVuCond", 0, 0, "DejaVuCond")
    addMapping("DejaVuCond", 1, 0, "DejaVuCond-Bold")
    addMapping("DejaVuCond", 0, 1, "DejaVuCond")
    addMapping("DejaVuCond", 1, 1, "DejaVuCond-Bold")


def _styles():
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    base = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9, leading=12)
    return {
        "body": base,
        "note": ParagraphStyle("note", base, fontSize=8, leading=10.5, alignment=TA_JUSTIFY,
                               spaceBefore=2),
        "label": ParagraphStyle("label", base, fontName="DejaVuSans-Oblique", fontSize=8,
                                leading=10.5, alignment=TA_JUSTIFY, spaceBefore=3),
        "title": ParagraphStyle("title", base, fontName="DejaVuSans-Bold", fontSize=12.5,
                                leading=16, alignment=TA_CENTER, spaceBefore=10, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", base, alignment=TA_CENTER, spaceAfter=8),
        "h": ParagraphStyle("h", base, fontName="DejaVuSans-Bold", fontSize=10, leading=13,
                            spaceBefore=10, spaceAfter=4, keepWithNext=1),
        "head": ParagraphStyle("head", base, fontName="DejaVuCond-Bold", fontSize=7.5, leading=9,
                               alignment=TA_CENTER),
        "cell": ParagraphStyle("cell", base, fontName="DejaVuCond", fontSize=7.5, leading=9),
        "cell_b": ParagraphStyle("cell_b", base, fontName="DejaVuCond-Bold", fontSize=7.5,
                                 leading=9),
        "time": ParagraphStyle("time", base, fontName="DejaVuCond", fontSize=7.5, leading=9,
                               alignment=TA_CENTER),
        "num": ParagraphStyle("num", base, fontName="DejaVuCond", fontSize=7.5, leading=9,
                              alignment=TA_RIGHT),
        "centre": ParagraphStyle("centre", base, fontName="DejaVuSans", fontSize=9, leading=12,
                                 alignment=TA_CENTER),
        "centre_b": ParagraphStyle("centre_b", base, fontName="DejaVuSans-Bold", fontSize=9,
                                   leading=12, alignment=TA_CENTER),
    }


def _cell(value, kind: str, lang: str) -> str:
    if isinstance(value, str) and not value:
        return ""
    if value is None:
        return "" if kind in (TEXT, TIME) else "—"
    if kind == TIME:
        # Two lines (date, time): narrow columns in the cases' list.
        return value.strftime("%d/%m/%Y\n%H:%M") if isinstance(value, dt.datetime) else str(value)
    if kind in (INT, MIN, PCT):
        return number(value, kind, lang)
    return str(value)


def _table(ctx: Context, s: Section, st, width: float):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle
    rows = s.rows if s.pdf_rows is None else s.rows[:s.pdf_rows]
    data = [[Paragraph(escape(h), st["head"]) for h in s.header]]
    last = len(rows) - 1
    for n, row in enumerate(rows):
        bold = s.total and n == last
        out = []
        for value, kind in zip(row, s.kinds):
            text = escape(_cell(value, kind, ctx.lang))
            # Text wraps in its column; numbers are right-aligned plain strings.
            if kind == TEXT:
                out.append(Paragraph(text, st["cell_b" if bold else "cell"]))
            elif kind == TIME:
                out.append(Paragraph(text.replace("\n", "<br/>"), st["time"]))
            else:
                out.append(text)
        data.append(out)
    total_w = sum(s.widths)
    widths = [width * w / total_w for w in s.widths]
    style = [
        ("FONT", (0, 1), (-1, -1), "DejaVuCond", 7.5),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#808080")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ]
    for i, kind in enumerate(s.kinds):
        if kind in (INT, MIN, PCT):
            style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
        elif kind == TIME:
            style.append(("ALIGN", (i, 1), (i, -1), "CENTER"))
    if s.total and rows:
        style += [("FONT", (0, len(data) - 1), (-1, len(data) - 1), "DejaVuCond-Bold", 7.5),
                  ("BACKGROUND", (0, len(data) - 1), (-1, len(data) - 1),
                   colors.HexColor("#f2f2f2"))]
    t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle(style))
    return t


def write(ctx: Context, sections: list[Section], path: Path) -> Path:
    _register()
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as pdfcanvas
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    st = _styles()
    f, t = ctx.figures, ctx.t
    site = ctx.config.site
    period = period_label(ctx.kind, f.date_from, ctx.lang)
    first, last = f"{f.date_from:%d/%m/%Y}", f"{f.date_to:%d/%m/%Y}"
    header_text = f"{site.centre} — {period}"
    page_text = t("page", n="{n}", total="{total}")

    class NumberedCanvas(pdfcanvas.Canvas):
        # Pages are kept until the end, when "Trang x/y" can name y.
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for n, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont("DejaVuSans", 7.5)
                self.setFillGray(0.3)
                self.drawString(12 * mm, A4[1] - 10 * mm, header_text)
                self.drawRightString(A4[0] - 12 * mm, A4[1] - 10 * mm,
                                     f"{first}–{last}")
                self.drawCentredString(A4[0] / 2, 8 * mm,
                                       page_text.format(n=n, total=len(self._pages)))
                super().showPage()
            super().save()

    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=t("title"),
                            author=site.centre, subject=f"{period}")
    width = doc.width
    story: list = []
    # The heading as official documents have it: the body on the left, the
    # national motto on the right.
    left = [Paragraph(escape(site.commune.upper() if ctx.lang == "vi" else site.commune),
                      st["centre"]),
            Paragraph(escape(site.centre.upper()), st["centre_b"])]
    right = [Paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" if ctx.lang == "vi"
                       else "SOCIALIST REPUBLIC OF VIET NAM", st["centre_b"]),
             Paragraph("Độc lập – Tự do – Hạnh phúc" if ctx.lang == "vi"
                       else "Independence – Freedom – Happiness", st["centre_b"])]
    top = Table([[left, right]], colWidths=[width * 0.45, width * 0.55])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story += [top, Paragraph(escape(t("title")), st["title"]),
              Paragraph(escape(t("subtitle", centre=site.centre, period=period, first=first,
                                 last=last)), st["subtitle"])]
    for s in sections:
        story.append(Paragraph(escape(s.title), st["h"]))
        notes = s.pdf_notes or s.notes
        if s.key == "cases":
            # The counts first: the list under them may run over pages.
            story += [Paragraph(escape(n), st["note"]) for n in notes]
            story.append(Spacer(1, 3))
        if s.rows:
            story.append(_table(ctx, s, st, width))
        if s.key != "cases":
            style = st["note"]
            for n in notes:
                story.append(Paragraph(escape(n), style))
                if s.key == "estimate":
                    style = st["label"]
    story += [Spacer(1, 8), Paragraph(escape(t("sources")), st["note"]),
              Paragraph(escape(t("made", at=when(f.made_at, ctx.config.tz))), st["note"])]
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.build(story, canvasmaker=NumberedCanvas)
    return path
