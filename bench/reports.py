"""A month of a large centre, reported by official in every format.

150,000 tickets over 30 days, 60 officials at 30 counters, ratings for most
served tickets and some anomalies.  The database is generated with bulk
SQL straight into the core's schema (data generation, not the system under
test; the schema comes from the store's own migrations), then
``report_main(by="official")`` is timed per format, each run in a fresh
process (the writer library's import included): open read-only, read the
month, compute, write.

Each format runs --repeat times (default 5). Prints report_month_<format>_s
(the median) and report_month_<format>_min_s per format, and report_month_s,
the slowest format's median (the figure held against the 2 s target).

Then the official pack of a large centre's quarter: 450,000 tickets over
Q4 2026 (92 days) in a database of its own, with a follow-up case for every
counted "không hài lòng" rating (most closed, some late, some open), and
``pack_main(kind="quarterly")`` timed the same way (workbook and PDF
written); prints report_pack_quarter_s (the median; target 5 s) and
report_pack_quarter_min_s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import ROOT, emit  # noqa: E402

from kiosk import config as site_config  # noqa: E402
from kiosk.core.store import Store  # noqa: E402
from kiosk.reports import FORMATS, report_main  # noqa: E402

REASONS = ("no_window", "after_window", "extra_press", "too_fast")


def generate(cfg, db: Path, tickets: int, officials: int, days: int, first: dt.date,
             seed: int = 8, cases: bool = False, weights: tuple[int, ...] = (6, 3, 1)) -> None:
    """``cases``: a follow-up case per counted rating at a level graded
    "khong-hai-long" (as the core opens them): 70 % closed on time, 15 %
    closed late, the rest still open.  ``weights``: how often each of the
    first three levels is pressed (the docs' demo quarter is happier)."""
    rnd = random.Random(seed)
    Store(db).close()   # the real schema, through the store's migrations
    import sqlite3
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous = OFF")
    fields = [f.code for f in cfg.fields]
    prefixes = {f.code: f.prefix for f in cfg.fields}
    levels = [(i + 1, lv.code) for i, lv in enumerate(cfg.rating.levels)]
    classes = [p.code for p in cfg.priority.classes]
    counters = max(1, officials // 2)
    conn.executemany("INSERT INTO officials (code, name, pin_hash, active) VALUES (?, ?, NULL, 1)",
                     [(f"nv{i:02d}", f"Cán bộ Số {i:02d}") for i in range(1, officials + 1)])
    per_day = tickets // days
    t_rows, c_rows, r_rows = [], [], []
    seq = call_seq = 0
    for d in range(days):
        day = first + dt.timedelta(days=d)
        opening = dt.datetime.combine(day, dt.time(7, 0), tzinfo=cfg.tz).timestamp()
        numbers = dict.fromkeys(fields, 0)
        n_today = per_day + (tickets - per_day * days if d == days - 1 else 0)
        for _ in range(n_today):
            seq += 1
            field = rnd.choice(fields)
            numbers[field] += 1
            number = numbers[field]
            label = f"{prefixes[field]}{number:04d}"
            tid = f"{day:%Y%m%d}-{label}"
            issued = opening + rnd.uniform(0, 10 * 3600)
            priority = rnd.choice(classes) if rnd.random() < 0.1 else None
            counter = rnd.randint(1, counters)
            official = f"nv{(counter - 1) * 2 + (1 if issued - opening < 5 * 3600 else 2):02d}"
            roll = rnd.random()
            state, close_reason, transfers, final_field = "finished", None, 0, field
            called = issued + rnd.expovariate(1 / 900)
            finished = called + rnd.expovariate(1 / 480)
            if roll < 0.02:
                state, close_reason, called, finished, counter, official = (
                    "no_show", "day_closed", None, None, None, None)
            elif roll < 0.08:
                state, finished = "no_show", called + 120
            elif roll < 0.11:
                transfers, final_field = 1, rnd.choice(fields)
            if called is not None:
                call_seq += 1
                c_rows.append((f"{day}-{call_seq}", call_seq, tid, counter, called, 0, 0, official))
                if rnd.random() < 0.05:
                    call_seq += 1
                    c_rows.append((f"{day}-{call_seq}", call_seq, tid, counter, called + 60, 1, 0,
                                   official))
            t_rows.append((tid, day.isoformat(), final_field, field, number, label, priority, seq,
                           issued, state, counter, None, called,
                           finished if state == "finished" else None, 0, transfers, close_reason,
                           official, called))
            if state == "finished" and rnd.random() < 0.7:
                idx, code = rnd.choices(levels, weights=weights[:len(levels)] +
                                        (1,) * (len(levels) - 3))[0]
                r_rows.append((f"r{seq}", tid, counter, code, idx, finished + 10, 1, None, official,
                               final_field, called - issued, finished - called, "box", "{}"))
            if rnd.random() < 0.03:
                reason = rnd.choice(REASONS)
                ticket = None if reason == "no_window" else tid
                r_rows.append((f"a{seq}", ticket, counter or 1, levels[0][1], 1, issued + 3600, 0,
                               reason, official, final_field if ticket else None, None, None, "box",
                               "{}"))
    conn.executemany(
        "INSERT INTO tickets (id, day, field, origin_field, number, label, priority, seq, issued_at, "
        "state, counter, target_counter, called_at, finished_at, recalls, transfers, close_reason, "
        "official, first_called_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        t_rows)
    if cases:
        grades = cfg.rating.grades()
        case_rows = []
        for r in r_rows:
            rid, tid, counter, code, _, at, counted, _, official, fld = r[:10]
            if not counted or grades.get(code) != "khong-hai-long":
                continue
            due = at + 3 * 86400
            roll = rnd.random()
            status, closed = ("closed", at + rnd.uniform(600, 2.5 * 86400)) if roll < 0.7 else \
                ("closed", due + rnd.uniform(600, 86400)) if roll < 0.85 else ("open", None)
            day = f"{tid[:4]}-{tid[4:6]}-{tid[6:8]}"    # ids are "<yyyymmdd>-<label>"
            case_rows.append((len(case_rows) + 1, rid, tid, day, fld, counter, official,
                              code, "box", None, at, due, status, closed,
                              "head01" if closed else None,
                              "Đã liên hệ công dân." if closed else None, closed or at))
        conn.executemany(
            "INSERT INTO cases (id, rating_id, ticket_id, day, field, counter, official, level, "
            "source, reasons, opened_at, due_at, status, closed_at, closed_by, note, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", case_rows)
    conn.executemany("INSERT INTO calls (call_id, call_seq, ticket_id, counter, at, recall, specific, "
                     "official) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", c_rows)
    conn.executemany(
        "INSERT INTO ratings (id, ticket_id, counter, level, level_index, at, counted, reason, "
        "official, field, wait_s, service_s, source, payload) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", r_rows)
    conn.commit()
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def one(db: str, fmt: str, out: str, first: str, last: str) -> None:
    """One timed report in this process; prints seconds, lines and the path."""
    cfg = site_config.load(ROOT / "deploy" / "demo-site.toml")
    t0 = time.perf_counter()
    result = report_main(cfg, db, date_from=dt.date.fromisoformat(first),
                         date_to=dt.date.fromisoformat(last), by="official", fmt=fmt,
                         out=None if out == "-" else out)
    seconds = time.perf_counter() - t0
    lines = result.count("\n") if out == "-" else 0
    print(seconds, lines, "-" if out == "-" else result)


def one_pack(db: str, out: str) -> None:
    """One timed quarterly pack in this process; prints seconds and the paths."""
    from kiosk.reports.pack import pack_main
    cfg = site_config.load(ROOT / "deploy" / "demo-site.toml")
    t0 = time.perf_counter()
    paths = pack_main(cfg, db, kind="quarterly", period="2026-Q4", out_dir=out,
                      today=dt.date(2027, 1, 15))
    print(time.perf_counter() - t0, *paths)


def time_pack(db: Path, out: Path, repeat: int) -> list[float] | None:
    times = []
    for _ in range(repeat):
        r = subprocess.run([sys.executable, __file__, "--pack-one", str(db), str(out)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"bench: the quarterly pack failed: {r.stderr}", file=sys.stderr)
            return None
        seconds, *paths = r.stdout.split()
        if any(not Path(p).stat().st_size for p in paths) or len(paths) != 2:
            print(f"bench: the quarterly pack wrote {paths}", file=sys.stderr)
            return None
        times.append(float(seconds))
    return times


def main() -> int:
    if sys.argv[1:2] == ["--one"]:
        one(*sys.argv[2:7])
        return 0
    if sys.argv[1:2] == ["--pack-one"]:
        one_pack(*sys.argv[2:4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=150_000)
    ap.add_argument("--officials", type=int, default=60)
    ap.add_argument("--days", type=int, default=30)
    # A shared VM's timings swing by half from run to run (its page cache is
    # reclaimed in the background): each format runs this many times and the
    # median is the figure.
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quarter-tickets", type=int, default=450_000)
    ap.add_argument("--only-pack", action="store_true", help="Time the quarterly pack only.")
    args = ap.parse_args()
    cfg = site_config.load(ROOT / "deploy" / "demo-site.toml")
    first = dt.date(2026, 11, 1)
    last = first + dt.timedelta(days=args.days - 1)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        db = Path(tmp) / "month.db"
        t0 = time.perf_counter()
        generate(cfg, db, args.tickets, args.officials, args.days, first)
        figures["generate_s"] = time.perf_counter() - t0
        for fmt in () if args.only_pack else FORMATS:
            times = []
            for _ in range(args.repeat):
                # A fresh process per run, as 'phucvu report' is: the writer
                # library (matplotlib, openpyxl) is imported inside the timing.
                out = "-" if fmt in ("table", "csv") else str(Path(tmp) / f"month.{fmt}")
                r = subprocess.run([sys.executable, __file__, "--one", str(db), fmt, out,
                                    first.isoformat(), last.isoformat()],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"bench: {fmt} report failed: {r.stderr}", file=sys.stderr)
                    return 1
                seconds, lines, written = r.stdout.split()
                times.append(float(seconds))
                if fmt in ("table", "csv"):
                    # 60 officials, the unattributed row and the total, at least.
                    if int(lines) < args.officials + 2:
                        print(f"bench: {fmt} report has too few lines", file=sys.stderr)
                        return 1
                elif not Path(written).stat().st_size:
                    print(f"bench: {fmt} report {written} is empty", file=sys.stderr)
                    return 1
            figures[f"report_month_{fmt}_s"] = statistics.median(times)
            figures[f"report_month_{fmt}_min_s"] = min(times)
        quarter = Path(tmp) / "quarter.db"
        t0 = time.perf_counter()
        generate(cfg, quarter, args.quarter_tickets, args.officials, 92, dt.date(2026, 10, 1),
                 cases=True)
        figures["generate_quarter_s"] = time.perf_counter() - t0
        times = time_pack(quarter, Path(tmp) / "pack", args.repeat)
        if times is None:
            return 1
        figures["report_pack_quarter_s"] = statistics.median(times)
        figures["report_pack_quarter_min_s"] = min(times)
    if not args.only_pack:
        figures["report_month_s"] = max(figures[f"report_month_{f}_s"] for f in FORMATS)
    figures["tickets"] = args.tickets
    figures["quarter_tickets"] = args.quarter_tickets
    figures["officials"] = args.officials
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
