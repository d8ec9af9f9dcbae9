"""The reports the head of a centre reads (docs/reports.md defines every figure).

Floors: ``figures`` computes over plain rows (pure; ``rates`` holds the
definitions it shares with the province's ranking, ``grouping`` the numpy
grouping under it); the core's read side (kiosk/core/read/period.py) reads
a period from the SQLite file; ``output`` and ``charts`` format it
(``workbook`` writes the XLSX without a library), ``catalogue`` holds every
header in Vietnamese and English.
``report_main`` is what ``phucvu report`` calls.  The official pack
(``phucvu report --pack``) is ``pack``: ``pack_figures`` computes its figures
over the same read, ``pack_tables`` lays them out once, ``pack_xlsx`` and
``pack_pdf`` write them, ``pack_text`` holds its words.
"""
from __future__ import annotations

import datetime as dt
import importlib
import threading
from pathlib import Path

from kiosk.config import SiteConfig
from kiosk.reports import catalogue as cat
from kiosk.reports.figures import (
    BREAKDOWNS,
    Level,
    Report,
    ReportError,
    Rules,
    compute,
)
from kiosk.reports.output import Names

FORMATS = ("table", "csv", "xlsx", "png")
# The workbook is written without a library (kiosk/reports/workbook.py).
_WRITERS = {"png": ("matplotlib.figure", "matplotlib.backends.backend_agg")}
_SUFFIX = {"table": ".txt", "csv": ".csv", "xlsx": ".xlsx", "png": ".png"}

__all__ = ["BREAKDOWNS", "FORMATS", "ReportError", "build", "report_main", "rules_of"]


def rules_of(config: SiteConfig) -> Rules:
    return Rules(
        levels=tuple(Level(lv.code, lv.satisfied) for lv in config.rating.levels),
        service_min={f.code: config.service_target_min(f.code) for f in config.fields},
        tz=config.tz,
        reasons=tuple(r.code for r in config.rating.reasons),
        wait_min={f.code: config.wait_target_min(f.code) for f in config.fields},
        grades=config.rating.grades(),
    )


def build(config: SiteConfig, db_path: str | Path, date_from: dt.date, date_to: dt.date,
          breakdowns: list[str] | tuple[str, ...] = BREAKDOWNS) -> tuple[Report, dict[str, str]]:
    """Read the period and compute the breakdowns; also the roster's names."""
    from kiosk.core.read import ReadError
    from kiosk.core.read.period import read_period
    try:
        period = read_period(db_path, date_from, date_to, config.tz, breakdowns)
    except ReadError as e:
        raise ReportError(str(e)) from None
    report = compute(period.tickets, period.ratings, rules_of(config), date_from, date_to,
                     breakdowns, present={"official": period.on_duty})
    return report, period.officials


def _names(config: SiteConfig, officials: dict[str, str], lang: str) -> Names:
    return Names(
        officials=officials,
        counters={c.number: c.name for c in config.counters},
        fields={f.code: (f.name_vi if lang == "vi" else f.name_en) for f in config.fields},
        reasons={r.code: (r.name_vi if lang == "vi" else r.name_en) for r in config.rating.reasons},
    )


def _level_names(config: SiteConfig, lang: str) -> dict[str, str]:
    return {lv.code: (lv.name_vi if lang == "vi" else lv.name_en) for lv in config.rating.levels}


def _group_labels(by: str, names: Names, report: Report, lang: str) -> dict:
    labels: dict = {}
    for f in report.breakdowns[by].groups:
        if f.key is None:
            labels[None] = cat.text(f"none.{by}", lang)
        elif by == "official":
            name = names.officials.get(f.key)
            labels[f.key] = f"{name} ({f.key})" if name else str(f.key)
        elif by == "counter":
            labels[f.key] = names.counters.get(f.key, f"#{f.key}")
        else:
            labels[f.key] = names.fields.get(f.key, str(f.key))
    return labels


def report_main(config: SiteConfig, db_path: str | Path, *, date_from: dt.date,
                date_to: dt.date, by: str, fmt: str, out: str | None,
                lang: str = "vi") -> str:
    """Make one report; returns the text to print (table, csv without --out) or the path written."""
    if by not in BREAKDOWNS:
        raise ReportError(f"--by {by!r}: expected one of {', '.join(BREAKDOWNS)}")
    if fmt not in FORMATS:
        raise ReportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if lang not in cat.LANGS:
        raise ReportError(f"--lang {lang!r}: expected one of {', '.join(cat.LANGS)}")
    # The workbook holds every breakdown, one sheet each; the other formats one.
    wanted = BREAKDOWNS if fmt == "xlsx" else (by,)
    if fmt in _WRITERS:
        # Importing matplotlib takes about half a second; SQLite
        # reads the month with the GIL released meanwhile, so the import runs
        # on the other core instead of after the read.
        threading.Thread(target=lambda: [importlib.import_module(m) for m in _WRITERS[fmt]],
                         name=f"import-{fmt}", daemon=True).start()
    report, officials = build(config, db_path, date_from, date_to, wanted)
    names = _names(config, officials, lang)
    level_names = _level_names(config, lang)
    if out is None and fmt in ("xlsx", "png"):
        out = f"phucvu-report-{by}-{date_from.isoformat()}-{date_to.isoformat()}{_SUFFIX[fmt]}"
    from kiosk.reports import output
    if fmt == "table":
        text = output.table(report, by, lang, names, level_names, config.site.centre)
    elif fmt == "csv":
        text = output.csv_text(report, by, lang, names, level_names)
    elif fmt == "xlsx":
        return str(output.xlsx(report, by, lang, names, level_names, Path(out)))
    else:
        from kiosk.reports import charts
        return str(charts.render(report, by, lang, Path(out),
                                 group_labels=_group_labels(by, names, report, lang),
                                 level_names=level_names))
    if out is None:
        return text
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A BOM lets Excel open the CSV as UTF-8 instead of mangling the diacritics.
    path.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    return str(path)
