"""A computed report as a text table, CSV or an XLSX workbook.

All three show the same columns under the same headers (``catalogue``):
the table is for a person at a terminal (Vietnamese decimal commas,
percentages), the CSV for another program (fractions, minutes with one
decimal, UTF-8 with a BOM so Excel reads the diacritics), the workbook for
the head of the centre (one sheet per breakdown, frozen header row, real
numbers with percent and minute formats).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kiosk.reports import catalogue as cat
from kiosk.reports.figures import BREAKDOWNS, REASONS, Breakdown, Figures, Report

INT, MIN, PCT, TEXT = "int", "min", "pct", "text"


@dataclass(frozen=True)
class Column:
    id: str
    header: str
    kind: str
    value: Callable[[Figures], Any]


@dataclass
class Names:
    """Display names for group keys: the roster's officials, the config's counters and fields."""

    officials: dict[str, str]
    counters: dict[int, str]
    fields: dict[str, str]
    reasons: dict[str, str] = field(default_factory=dict)   # [[rating.reasons]] code -> name


NAMED = {"official": "officials", "counter": "counters", "field": "fields"}


def columns(report: Report, by: str, lang: str, level_names: dict[str, str],
            reason_names: dict[str, str] | None = None) -> list[Column]:
    t = lambda k, **values: cat.text(k, lang, **values)  # noqa: E731
    cols = [Column("key", t(f"key.{by}"), TEXT, lambda f: f.key)]
    if by in NAMED:
        cols.append(Column("name", t(f"name.{by}"), TEXT, lambda f: None))
    simple = [("issued", INT), ("served", INT), ("no_show", INT), ("expired", INT),
              ("transferred", INT), ("wait_p50", MIN), ("wait_p90", MIN),
              ("service_p50", MIN), ("service_p90", MIN)]
    cols += [Column(k, t(k), kind, _attr(k)) for k, kind in simple]
    for lv in report.levels:
        cols.append(Column(f"level.{lv.code}", level_names.get(lv.code, lv.code), INT,
                           _level(lv.code)))
    cols += [Column("rated", t("rated"), INT, _attr("rated")),
             Column("satisfaction", t("satisfaction"), PCT, _attr("satisfaction")),
             Column("rated_share", t("rated_share"), PCT, _attr("rated_share")),
             Column("anomalies", t("anomalies"), INT, _attr("anomalies"))]
    cols += [Column(f"reason.{r}", t(f"reason.{r}"), INT, _reason(r)) for r in REASONS]
    # The phone page's ratings, and why their citizens were not satisfied.
    cols.append(Column("phone", t("phone"), INT, _attr("phone")))
    cols += [Column(f"complaint.{c}", t("complaint", name=(reason_names or {}).get(c, c)), INT,
                    _complaint(c)) for c in report.complaint_codes]
    cols += [Column("priority_share", t("priority_share"), PCT, _attr("priority_share")),
             Column("on_time_share", t("on_time_share"), PCT, _attr("on_time_share")),
             Column("est_mae", t("est_mae"), MIN, _attr("est_mae")),
             Column("est_within_5", t("est_within_5"), PCT, _attr("est_within_5"))]
    return cols


def _attr(name: str) -> Callable[[Figures], Any]:
    return lambda f: getattr(f, name)


def _level(code: str) -> Callable[[Figures], Any]:
    return lambda f: f.levels.get(code, 0)


def _reason(reason: str) -> Callable[[Figures], Any]:
    return lambda f: f.reasons.get(reason, 0)


def _complaint(code: str) -> Callable[[Figures], Any]:
    return lambda f: f.complaints.get(code, 0)


def rows(report: Report, by: str, lang: str, names: Names,
         level_names: dict[str, str]) -> tuple[list[Column], list[list[Any]]]:
    """Header columns and one row of raw values per group, then the total row."""
    cols = columns(report, by, lang, level_names, names.reasons)
    b: Breakdown = report.breakdowns[by]
    out: list[list[Any]] = []
    lookup = getattr(names, NAMED[by]) if by in NAMED else {}
    for f in b.groups:
        row = [c.value(f) for c in cols]
        if f.key is None:
            row[0] = "—" if by in NAMED else cat.text(f"none.{by}", lang)
            if by in NAMED:
                row[1] = cat.text(f"none.{by}", lang)
        else:
            if by == "hour":
                row[0] = cat.hour_text(f.key)
            if by in NAMED:
                row[1] = lookup.get(f.key, "")
        out.append(row)
    total = [c.value(b.total) for c in cols]
    total[0] = cat.text("total", lang)
    if by in NAMED:
        total[1] = ""
    out.append(total)
    return cols, out


# ---------------------------------------------------------------- table
def _cell(value: Any, kind: str, lang: str) -> str:
    if value is None:
        return "—"
    if kind == MIN:
        s = f"{value:.1f}"
    elif kind == PCT:
        s = f"{value * 100:.1f}%"
    else:
        return str(value)
    return s.replace(".", ",") if lang == "vi" else s


def table(report: Report, by: str, lang: str, names: Names, level_names: dict[str, str],
          centre: str) -> str:
    cols, data = rows(report, by, lang, names, level_names)
    title = cat.text("title", lang, centre=centre,
                     date_from=cat.date_text(report.date_from, lang),
                     date_to=cat.date_text(report.date_to, lang))
    title += f" — {cat.text(f'sheet.{by}', lang)}"
    cells = [[c.header for c in cols]] + [[_cell(v, c.kind, lang) for v, c in zip(r, cols)]
                                          for r in data]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = [title, ""]
    for n, row in enumerate(cells):
        parts = []
        for i, (s, c) in enumerate(zip(row, cols)):
            parts.append(s.ljust(widths[i]) if c.kind == TEXT else s.rjust(widths[i]))
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"! {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ csv
def _csv_value(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == MIN:
        return f"{value:.1f}"
    if kind == PCT:
        return f"{value:.4f}"
    return value


def csv_text(report: Report, by: str, lang: str, names: Names,
             level_names: dict[str, str]) -> str:
    cols, data = rows(report, by, lang, names, level_names)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.header for c in cols])
    for r in data:
        w.writerow([_csv_value(v, c.kind) for v, c in zip(r, cols)])
    return buf.getvalue()


# ----------------------------------------------------------------- xlsx
def xlsx(report: Report, first: str, lang: str, names: Names, level_names: dict[str, str],
         path: Path) -> Path:
    """One sheet per breakdown in the report, ``first``'s sheet first and active
    (written by ``workbook``, see there why not openpyxl)."""
    from kiosk.reports import workbook

    order = [first] + [b for b in BREAKDOWNS if b != first and b in report.breakdowns]
    sheets = []
    for by in order:
        cols, data = rows(report, by, lang, names, level_names)
        widths = []
        for i, c in enumerate(cols):
            longest = max([len(c.header) // 2 + 2] +
                          [len(str(r[i])) + 2 for r in data if c.kind == TEXT])
            widths.append(min(40, max(9, longest)))
        sheets.append(workbook.Sheet(
            cat.text(f"sheet.{by}", lang), [c.header for c in cols], [c.kind for c in cols],
            [[_xlsx_value(v, c.kind) for v, c in zip(r, cols)] for r in data], widths))
    return workbook.write(sheets, path)


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == MIN:
        # Stored rounded as shown, so a sum or a copy matches the screen.
        return round(value, 1)
    return value
