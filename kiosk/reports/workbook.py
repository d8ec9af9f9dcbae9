"""The month's workbook written as SpreadsheetML, without openpyxl.

A month's workbook is five small sheets (some 5,000 cells).  openpyxl took
about 0.1 s to import and 0.1 s to write them (a Cell object, a style lookup
and an XML element per cell): a fifth of the report.  The same parts are
written here as text: the sheets, the styles openpyxl gave them (bold
headers wrapped at the top, one number format per column kind, the total
row bold), frozen header row, filters and column widths.  Strings are
inline, as openpyxl writes them.  tests/test_reports_output.py reopens the
file with openpyxl and compares it with the figures.
"""
from __future__ import annotations

import re
import zipfile
from math import isinf, isnan
from pathlib import Path
from typing import Any, Sequence
from xml.sax.saxutils import escape, quoteattr

# Built-in number formats: 1 is "0", 49 is "@"; 164 and 165 are declared below.
NUMBER_FORMATS = {"int": 1, "min": 164, "pct": 165, "text": 49}
_KINDS = tuple(NUMBER_FORMATS)
# cellXfs: 0 the default, 1 the header, then each kind plain, then each kind bold.
HEADER_STYLE = 1
_PLAIN = {k: 2 + i for i, k in enumerate(_KINDS)}
_BOLD = {k: 2 + len(_KINDS) + i for i, k in enumerate(_KINDS)}
# What XML 1.0 cannot carry (openpyxl refuses such a string outright).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


class Sheet:
    """One sheet: its title, header, column kinds and rows (the last is the total)."""

    def __init__(self, title: str, header: Sequence[str], kinds: Sequence[str],
                 rows: Sequence[Sequence[Any]], widths: Sequence[int]):
        self.title, self.header, self.kinds = title, header, kinds
        self.rows, self.widths = rows, widths


def letter(i: int) -> str:
    """Column letter of the 0-based column ``i``: A, …, Z, AA, …"""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell(ref: str, value: Any, style: int) -> str:
    # Numbers as openpyxl writes them (16 significant digits), so a value
    # reread is the value the workbook held before.
    if value is None:
        return f'<c r="{ref}" s="{style}" t="n"/>'
    if value == "":
        return f'<c r="{ref}" s="{style}" t="inlineStr"/>'
    if isinstance(value, bool):
        return f'<c r="{ref}" s="{style}" t="b"><v>{value:d}</v></c>'
    if isinstance(value, (int, float)):
        text = "" if isnan(value) or isinf(value) else "%.16g" % value
        return f'<c r="{ref}" s="{style}" t="n"><v>{text}</v></c>'
    text = _ILLEGAL.sub("", str(value))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return (f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{escape(text)}</t></is>'
            "</c>")


def _sheet_xml(s: Sheet, selected: bool) -> str:
    letters = [letter(i) for i in range(len(s.header))]
    tab = ' tabSelected="1"' if selected else ""
    last_col, last_row = letters[-1], len(s.rows) + 1
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                   for i, w in enumerate(s.widths, start=1))
    rows = ['<row r="1">' + "".join(_cell(f"{c}1", h, HEADER_STYLE)
                                    for c, h in zip(letters, s.header)) + "</row>"]
    plain = [_PLAIN[k] for k in s.kinds]
    bold = [_BOLD[k] for k in s.kinds]
    for n, row in enumerate(s.rows, start=2):
        styles = bold if n == last_row else plain
        rows.append(f'<row r="{n}">' + "".join(_cell(f"{c}{n}", v, st) for c, v, st in
                                               zip(letters, row, styles)) + "</row>")
    return (f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{last_col}{last_row}"/>'
            f'<sheetViews><sheetView workbookViewId="0"{tab}>'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
            f'<sheetData>{"".join(rows)}</sheetData>'
            f'<autoFilter ref="{_filter_ref(s)}"/>'
            '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
            "</worksheet>")


def _filter_ref(s: Sheet) -> str:
    # The filter covers the header and the groups, not the total row.
    return f"A1:{letter(len(s.header) - 1)}{len(s.rows)}"


def _styles_xml() -> str:
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
           'applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>']
    for font, apply in ((0, ""), (1, ' applyFont="1"')):
        xfs += [f'<xf numFmtId="{NUMBER_FORMATS[k]}" fontId="{font}" fillId="0" borderId="0" '
                f'xfId="0" applyNumberFormat="1"{apply}/>' for k in _KINDS]
    return (f'<styleSheet xmlns="{_MAIN}"><numFmts count="2">'
            '<numFmt numFmtId="164" formatCode="0.0"/><numFmt numFmtId="165" formatCode="0.0%"/>'
            '</numFmts><fonts count="2">'
            '<font><name val="Calibri"/><family val="2"/><sz val="11"/></font>'
            '<font><b val="1"/></font></fonts>'
            '<fills count="2"><fill><patternFill/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            f'</cellStyleXfs><cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>")


def write(sheets: list[Sheet], path: Path) -> Path:
    """The workbook, the first sheet active."""
    n = len(sheets)
    names = "".join(f'<sheet name={quoteattr(s.title)} sheetId="{i}" r:id="rId{i}"/>'
                    for i, s in enumerate(sheets, start=1))
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        + escape("'" + s.title.replace("'", "''") + "'!" +
                 re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", _filter_ref(s))) + "</definedName>"
        for i, s in enumerate(sheets))
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                      f'ContentType="{_CT}.worksheet+xml"/>' for i in range(1, n + 1))
            + "</Types>"),
        "_rels/.rels": (f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><bookViews>'
            f'<workbookView activeTab="0"/></bookViews><sheets>{names}</sheets>'
            f'<definedNames>{filters}</definedNames><calcPr calcId="124519" fullCalcOnLoad="1"/>'
            "</workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" '
                      f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>"),
        "xl/styles.xml": _styles_xml(),
    }
    for i, s in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = _sheet_xml(s, selected=i == 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            z.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)
    return path
