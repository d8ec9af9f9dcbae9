"""``phucvu report --province``: the centres of a province, ranked.

One row per site over a period of service days: tickets issued and served,
the share rated, the three-level shares (Circular 01/2018), the
satisfaction rate, on-time and within-wait-target shares, waits, follow-up
cases and their share closed on time, and the Decision 766-style estimate
with its fraction of the group's points.  The figures (``report_figures``)
mean what they mean in a centre's own report and pack (docs/reports.md);
docs/multi-site.md lists them.  Ranked by the 766 estimate, then the
satisfaction rate, then the within-target share; a site with no figure
ranks below every site with one.

``compute`` and the formatters are pure; ``read`` is the only part that
touches PostgreSQL.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any

from kiosk.province.report_figures import (  # noqa: F401  (the report's names)
    CaseRow, ProvinceReport, RatingRow, SiteFacts, SiteFigures, TicketRow, compute, fallback_grades)


class ProvinceReportError(Exception):
    pass


# ------------------------------------------------------------------ reading
def facts_of(site: str, centre: str, commune: str, info: dict) -> SiteFacts:
    """What a stored site/info says; a site/info from before issue 19 has no
    ``targets`` (no wait target: the within-target share stays blank) and no
    ``grades`` (derived from ``satisfied``: ``fallback_grades``)."""
    levels = [(lv["code"], bool(lv.get("satisfied"))) for lv in info.get("levels", [])]
    targets = info.get("targets")
    return SiteFacts(
        site, centre, commune,
        satisfied=frozenset(code for code, ok in levels if ok),
        levels=frozenset(code for code, _ in levels),
        minutes_per_citizen={f["code"]: float(f["minutes_per_citizen"]) for f in info.get("fields", [])},
        grades=info.get("grades") or fallback_grades(levels),
        wait_target=None if targets is None else {c: float(t["wait_min"]) for c, t in targets.items()},
        service_target=None if targets is None else {c: float(t["service_min"]) for c, t in targets.items()})


def read(conninfo: str, date_from: dt.date, date_to: dt.date, now: float | None = None) -> ProvinceReport:
    """Read the period from the provincial database (read-only) and compute.

    ``now`` (default: the clock) decides which open cases are already late."""
    import psycopg
    if date_to < date_from:
        raise ProvinceReportError(f"the period ends ({date_to}) before it starts ({date_from})")
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as e:
        raise ProvinceReportError(f"cannot reach the provincial database: {str(e).strip()}") from None
    with conn:
        conn.execute("SET default_transaction_read_only = on")
        if conn.execute("SELECT to_regclass('public.tickets')").fetchone()[0] is None:
            raise ProvinceReportError("the provincial database has no phucvu tables yet; "
                                      "start phucvu aggregate once to create them")
        facts = {site: facts_of(site, centre, commune, info) for site, centre, commune, info in
                 conn.execute("SELECT site, centre, commune, info FROM sites")}
        tickets = [TicketRow(*r) for r in conn.execute(
            "SELECT site, field, state, issued_at, first_called_at, last_called_at, finished_at, "
            "origin_field, ticket_id FROM tickets WHERE day BETWEEN %s AND %s", (date_from, date_to))]
        # A rating belongs to its ticket's service day, as in a centre's report.
        ratings = [RatingRow(*r) for r in conn.execute(
            "SELECT r.site, r.level, r.ticket_id FROM ratings r JOIN tickets t "
            "ON t.site = r.site AND t.ticket_id = r.ticket_id "
            "WHERE r.counted AND t.day BETWEEN %s AND %s", (date_from, date_to))]
        # A case's day is its rated ticket's service day (docs/reports.md, "Follow-up cases").
        cases = [CaseRow(*r) for r in conn.execute(
            "SELECT site, case_id, ticket_id, status, due_at, closed_at FROM cases "
            "WHERE day BETWEEN %s AND %s", (date_from, date_to))] \
            if conn.execute("SELECT to_regclass('public.cases')").fetchone()[0] is not None else []
        waiting = conn.execute("SELECT count(*) FROM tickets WHERE day IS NULL").fetchone()[0]
        rejects = conn.execute("SELECT count(*) FROM rejects").fetchone()[0]
    report = compute(tickets, ratings, facts, date_from, date_to, cases, now=time.time() if now is None else now)
    if waiting:
        report.warnings.append(f"{waiting} tickets have events but their ticket_issued has not "
                               "arrived yet; they are not in any period")
    if rejects:
        report.warnings.append(f"{rejects} messages are kept in the rejects table (see docs/multi-site.md)")
    return report


# ---------------------------------------------------------------- formatting
HEADERS = {
    "rank": ("Hạng", "Rank"),
    "centre": ("Trung tâm", "Centre"),
    "site": ("Mã", "Site"),
    "issued": ("Số phiếu cấp", "Tickets issued"),
    "served": ("Đã phục vụ", "Served"),
    "rated": ("Số đánh giá", "Ratings"),
    "rated_share": ("Tỷ lệ được đánh giá", "Share rated"),
    # Circular 01/2018's three levels, as shares of the counted ratings.
    "very_share": ("Rất hài lòng", "Very satisfied"),
    "fair_share": ("Hài lòng", "Satisfied"),
    "unhappy_share": ("Không hài lòng", "Not satisfied"),
    "satisfaction": ("Tỷ lệ hài lòng", "Satisfaction rate"),
    "on_time_share": ("Tỷ lệ phục vụ đúng thời gian mục tiêu", "On-time share"),
    "within_share": ("Tỷ lệ gọi trong thời gian chờ mục tiêu", "Within wait target"),
    "wait_p50": ("Chờ trung vị (phút)", "Wait p50 (min)"),
    "wait_p90": ("Chờ p90 (phút)", "Wait p90 (min)"),
    "cases": ("Số phiếu theo dõi", "Follow-up cases"),
    "cases_on_time_share": ("Tỷ lệ đóng phiếu theo dõi đúng hạn", "Cases closed on time"),
    # The centres' own estimate, labelled so: the official figure comes
    # from the province's dossier system.
    "estimate": ("Ước tính QĐ 766 (tỷ lệ)", "Decision 766 estimate (share)"),
    "estimate_points": ("Ước tính QĐ 766 (phần điểm)", "Decision 766 estimate (points fraction)"),
}
_KINDS = {"rank": "int", "centre": "text", "site": "text", "issued": "int", "served": "int",
          "rated": "int", "rated_share": "pct", "very_share": "pct", "fair_share": "pct",
          "unhappy_share": "pct", "satisfaction": "pct", "on_time_share": "pct", "within_share": "pct",
          "wait_p50": "min", "wait_p90": "min", "cases": "int", "cases_on_time_share": "pct",
          "estimate": "pct", "estimate_points": "pct"}
COLUMNS = list(HEADERS)


# Decision 766's figure is the province's, from its dossier system; what the
# centres' visits give is an estimate and must say so (issue 19).
_NOTE = ("* Ước tính QĐ 766 = (số lượt đã phục vụ − số lượt bị đánh giá không hài lòng, có phiếu "
         "theo dõi hoặc phục vụ quá thời gian mục tiêu) ÷ số lượt đã phục vụ; đủ điểm từ 90%, dưới 90% tính "
         "theo tỷ lệ. Đây là ước tính của trung tâm từ lượt phục vụ tại quầy, không phải điểm chính "
         "thức (lấy từ hệ thống giải quyết thủ tục hành chính của tỉnh).",
         "* Decision 766 estimate = (served − served tickets rated not satisfied, with a follow-up "
         "case or served over the target) ÷ served; full points from 90 %, in proportion below. The "
         "centres' own estimate from counter visits, not the official score (which comes from the "
         "province's dossier system).")


def _title(report: ProvinceReport, lang: str) -> str:
    if lang == "vi":
        return (f"Xếp hạng các trung tâm, từ {report.date_from:%d/%m/%Y} "
                f"đến {report.date_to:%d/%m/%Y}")
    return f"Centres ranked, {report.date_from.isoformat()} to {report.date_to.isoformat()}"


def _values(f: SiteFigures) -> list[Any]:
    return [getattr(f, c) for c in COLUMNS]


def _cell(value: Any, kind: str, lang: str) -> str:
    if value is None:
        return "—"
    if kind == "min":
        s = f"{value:.1f}"
    elif kind == "pct":
        s = f"{value * 100:.1f}%"
    else:
        return str(value)
    return s.replace(".", ",") if lang == "vi" else s


def table(report: ProvinceReport, lang: str = "vi") -> str:
    heads = [HEADERS[c][0 if lang == "vi" else 1] for c in COLUMNS]
    cells = [heads] + [[_cell(v, _KINDS[c], lang) for v, c in zip(_values(f), COLUMNS)]
                       for f in report.sites]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = [_title(report, lang), ""]
    for n, r in enumerate(cells):
        lines.append("  ".join(s.ljust(w) if _KINDS[c] == "text" else s.rjust(w)
                               for s, w, c in zip(r, widths, COLUMNS)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", _NOTE[0 if lang == "vi" else 1]]
    lines += [f"! {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"


def csv_text(report: ProvinceReport, lang: str = "vi") -> str:
    """CRLF lines, rates as fractions with four decimals, minutes with one."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([HEADERS[c][0 if lang == "vi" else 1] for c in COLUMNS])
    for f in report.sites:
        row = []
        for v, c in zip(_values(f), COLUMNS):
            kind = _KINDS[c]
            row.append("" if v is None else f"{v:.4f}" if kind == "pct" else
                       f"{v:.1f}" if kind == "min" else v)
        w.writerow(row)
    return buf.getvalue()


def report_main(conninfo: str, date_from: dt.date, date_to: dt.date, fmt: str = "table",
                lang: str = "vi", out: str | None = None) -> str:
    """What ``phucvu report --province`` calls; returns what to print."""
    report = read(conninfo, date_from, date_to)
    text = table(report, lang) if fmt == "table" else csv_text(report, lang)
    if out:
        # A byte-order mark in a file, so Excel reads the diacritics.
        with open(out, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as f:
            f.write(text)
        return out
    return text
