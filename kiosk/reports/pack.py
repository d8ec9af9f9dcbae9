"""The official pack: one workbook and one printable A4 PDF for a month, a quarter or a year.

``pack_main`` is what ``phucvu report --pack`` and the dashboard's button
call (docs/reports.md, "The official pack"): it reads the period once
(kiosk/core/read/period.py, with the pack's extras), computes every figure
(``pack_figures``) and writes ``pack_xlsx`` and ``pack_pdf`` from the same
figures, so the two files never disagree.
"""
from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import threading
import time
from pathlib import Path

from kiosk.config import SiteConfig
from kiosk.reports.pack_text import LANGS, PACK_BREAKDOWNS, PackError, period_label

__all__ = ["KINDS", "PackError", "pack_main", "parse_period", "period_token"]
KINDS = ("monthly", "quarterly", "yearly")
FILES = ("xlsx", "pdf")
_PATTERNS = {"monthly": (re.compile(r"^(\d{4})-(\d{2})$"), "a month as 2026-11"),
             "quarterly": (re.compile(r"^(\d{4})-[Qq]([1-4])$"), "a quarter as 2026-Q4"),
             "yearly": (re.compile(r"^(\d{4})$"), "a year as 2026")}


def _bounds(kind: str, year: int, part: int) -> tuple[dt.date, dt.date]:
    if kind == "monthly":
        first = dt.date(year, part, 1)
        nxt = dt.date(year + (part == 12), part % 12 + 1, 1)
    elif kind == "quarterly":
        first = dt.date(year, 3 * part - 2, 1)
        nxt = dt.date(year + (part == 4), (3 * part) % 12 + 1, 1)
    else:
        first, nxt = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    return first, nxt - dt.timedelta(days=1)


def parse_period(kind: str, text: str | None, today: dt.date) -> tuple[dt.date, dt.date, str]:
    """(first day, last day, Vietnamese label) of the period ``text`` names.

    ``text`` None: the last complete period before ``today`` (in November
    2026: October for ``monthly``, Q3 for ``quarterly``, 2025 for ``yearly``).
    """
    if kind not in KINDS:
        raise PackError(f"--pack {kind!r}: expected one of {', '.join(KINDS)}")
    if text is None:
        if kind == "monthly":
            year, part = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        elif kind == "quarterly":
            q = (today.month - 1) // 3 + 1
            year, part = (today.year, q - 1) if q > 1 else (today.year - 1, 4)
        else:
            year, part = today.year - 1, 1
    else:
        pattern, expected = _PATTERNS[kind]
        m = pattern.match(text.strip())
        if not m:
            raise PackError(f"--period {text!r}: expected {expected} for --pack {kind}")
        year = int(m.group(1))
        part = int(m.group(2)) if kind != "yearly" else 1
        if kind == "monthly" and not 1 <= part <= 12:
            raise PackError(f"--period {text!r}: there is no month {part:02d}; months are 01 to 12")
        if not 2000 <= year <= 9998:
            raise PackError(f"--period {text!r}: the year must be between 2000 and 9998")
    first, last = _bounds(kind, year, part)
    if first > today:
        raise PackError(f"--period {text}: the period has not begun yet (today is {today})")
    return first, last, period_label(kind, first, "vi")


def period_token(kind: str, first: dt.date) -> str:
    """The period in a file name: 2026-11, 2026-Q4, 2026."""
    if kind == "monthly":
        return f"{first:%Y-%m}"
    if kind == "quarterly":
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    return str(first.year)


def pack_main(config: SiteConfig, db_path: str | Path, *, kind: str, period: str | None = None,
              out_dir: str | Path, lang: str = "vi", today: dt.date | None = None,
              formats: tuple[str, ...] = FILES) -> list[Path]:
    """Write ``phucvu-bao-cao-<site id>-<period>.xlsx`` and ``.pdf`` in ``out_dir``;
    returns [xlsx, pdf].  ``today`` (default: the site's local date) picks
    the last complete period when ``period`` is None.  ``formats`` (a part
    of ``FILES``) writes only those, returned in ``FILES`` order: the web
    sends one file and need not make the other."""
    from kiosk.core.read import ReadError
    from kiosk.core.read.period import read_period
    if lang not in LANGS:
        raise PackError(f"--lang {lang!r}: expected one of {', '.join(LANGS)}")
    if not formats or any(f not in FILES for f in formats):
        raise PackError(f"formats {formats!r}: expected some of {', '.join(FILES)}")
    now = time.time()
    if today is None:
        today = dt.datetime.fromtimestamp(now, config.tz).date()
    first, last, _ = parse_period(kind, period, today)
    # The pack's figures, openpyxl and reportlab take about a second to
    # import in a fresh process; a thread imports them while SQLite reads
    # (with the GIL released), so that the forked writer (``_write``) finds
    # them loaded.
    importer = threading.Thread(target=lambda: [importlib.import_module(m) for m in
                                                ("kiosk.reports.pack_figures", "openpyxl",
                                                 "reportlab.platypus")],
                                name="import-pack", daemon=True)
    importer.start()
    good = tuple(code for code, grade in config.rating.grades().items()
                 if grade != "khong-hai-long")
    try:
        data = read_period(db_path, first, last, config.tz, PACK_BREAKDOWNS, pack=good)
    except ReadError as e:
        raise PackError(str(e)) from None
    importer.join()
    from kiosk.reports import _names, rules_of
    from kiosk.reports.pack_figures import compute_pack
    rules = rules_of(config)
    figures = compute_pack(data, rules, first, last, now)
    names = _names(config, data.officials, lang)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PackError(f"{out}: cannot make the folder: {e.strerror}") from None
    stem = f"phucvu-bao-cao-{config.site.id}-{period_token(kind, first)}"
    from kiosk.reports import pack_pdf, pack_tables, pack_xlsx
    context = pack_tables.Context(config, figures, names, kind, lang)
    tables = pack_tables.sections(context)
    formats = tuple(f for f in FILES if f in formats)
    paths = [out / f"{stem}.{f}" for f in formats]
    writers = {"xlsx": pack_xlsx.write, "pdf": pack_pdf.write}
    jobs = [lambda w=writers[f], p=p: w(context, tables, p) for f, p in zip(formats, paths)]
    try:
        if len(jobs) == 2:
            _write(*jobs)
        else:
            jobs[0]()
    except OSError as e:
        raise PackError(f"{e.filename or out}: cannot write it: {e.strerror}") from None
    return paths


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _write(xlsx, pdf) -> None:
    """Write both files; on two cores at once when this process can fork safely.

    Both writers are pure Python (the GIL allows no threads side by side):
    a forked child writes the PDF while this process writes the workbook,
    a second off a quarter's pack.  Only a process with no other thread
    forks (the command line; a web server's worker thread writes one after
    the other), as a fork copies no thread and a lock another thread held
    would stay held in the child.
    """
    if not _can_fork():
        xlsx()
        pdf()
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                               # the child: the PDF, then out
        code = 0
        try:
            os.close(read)
            pdf()
        except BaseException as e:             # noqa: BLE001 - reported to the parent
            code = 1
            message = str(e) if isinstance(e, PackError) else (
                f"{e.filename}: cannot write it: {e.strerror}" if isinstance(e, OSError)
                else f"the PDF could not be written: {type(e).__name__}: {e}")
            os.write(write, message.encode("utf-8", "replace")[:4000])
        finally:
            os._exit(code)
    os.close(write)
    try:
        xlsx()
    finally:
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read, "rb") as r:
            message = r.read().decode("utf-8", "replace")
    if status != 0:
        raise PackError(message or "the PDF could not be written")
