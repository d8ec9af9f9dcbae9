"""``phucvu report --province``: the centres of a province, ranked.

One row per site over a period of service days: tickets issued and served,
satisfaction, share rated, on-time share, wait p50/p90.  The figures mean
what they mean in a centre's own report (docs/reports.md): the rates, the
percentiles and the on-time rule are ``kiosk.reports.rates``, applied here
to the aggregated events; docs/multi-site.md lists them.  Ranked by
satisfaction, then on-time share, then wait p50 (shorter first); a site with
no figure ranks below every site with one.

``compute`` and the formatters are pure; ``read`` is the only part that
touches PostgreSQL.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from kiosk.reports.rates import Rates, percentile, served_on_time


class ProvinceReportError(Exception):
    pass


@dataclass(frozen=True)
class TicketRow:
    site: str
    field: str | None
    state: str
    issued_at: float | None
    first_called_at: float | None
    last_called_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class RatingRow:
    site: str
    level: str


@dataclass(frozen=True)
class SiteFacts:
    site: str
    centre: str
    commune: str
    satisfied: frozenset[str]
    levels: frozenset[str]
    minutes_per_citizen: dict[str, float]


@dataclass
class SiteFigures(Rates):
    site: str
    centre: str
    commune: str
    issued: int = 0
    served: int = 0
    rated: int = 0
    satisfied: int = 0
    on_time: int = 0
    on_time_base: int = 0
    waits: list[float] = field(default_factory=list)
    rank: int = 0
    # False until the site's site/info arrives: which levels are satisfied
    # is then unknown, and a rate would be a guess.
    known: bool = True

    @property
    def satisfaction(self) -> float | None:
        return super().satisfaction if self.known else None

    @property
    def wait_p50(self) -> float | None:
        return percentile(sorted(self.waits), 50)

    @property
    def wait_p90(self) -> float | None:
        return percentile(sorted(self.waits), 90)


@dataclass
class ProvinceReport:
    date_from: dt.date
    date_to: dt.date
    sites: list[SiteFigures]
    warnings: list[str]


def compute(tickets: list[TicketRow], ratings: list[RatingRow], facts: dict[str, SiteFacts],
            date_from: dt.date, date_to: dt.date) -> ProvinceReport:
    """Figures per site and the ranking.  ``ratings`` are the counted ones of the period."""
    warnings: list[str] = []
    out: dict[str, SiteFigures] = {
        s: SiteFigures(s, f.centre, f.commune) for s, f in facts.items()}

    def row(site: str) -> SiteFigures:
        if site not in out:
            warnings.append(f"site {site}: no site/info received yet; shown by its id, "
                            "without satisfaction levels or typical minutes")
            out[site] = SiteFigures(site, site, "", known=False)
        return out[site]

    unknown_fields: dict[str, set[str]] = {}
    for t in tickets:
        f = row(t.site)
        f.issued += 1
        if t.first_called_at is not None and t.issued_at is not None:
            f.waits.append(max(0.0, t.first_called_at - t.issued_at) / 60)
        if t.state == "finished":
            f.served += 1
            typical = facts[t.site].minutes_per_citizen.get(t.field or "") if t.site in facts else None
            if typical is None:
                if t.site in facts:
                    unknown_fields.setdefault(t.site, set()).add(str(t.field))
            elif t.finished_at is not None and t.last_called_at is not None:
                f.on_time_base += 1
                if served_on_time(max(0.0, t.finished_at - t.last_called_at), typical):
                    f.on_time += 1
    for site, fields in sorted(unknown_fields.items()):
        warnings.append(f"site {site}: served tickets in fields its site/info does not list "
                        f"({', '.join(sorted(fields))}) are left out of the on-time share")
    unknown_levels: dict[str, set[str]] = {}
    for r in ratings:
        f = row(r.site)
        f.rated += 1
        known = facts.get(r.site)
        if known is not None and r.level in known.satisfied:
            f.satisfied += 1
        elif known is not None and r.level not in known.levels:
            unknown_levels.setdefault(r.site, set()).add(r.level)
    for site, levels in sorted(unknown_levels.items()):
        warnings.append(f"site {site}: ratings at levels its site/info does not list "
                        f"({', '.join(sorted(levels))}) count as not satisfied")

    def key(f: SiteFigures) -> tuple:
        # Missing figures rank last: (True, 0) sorts after every (False, x).
        sat, on, wait = f.satisfaction, f.on_time_share, f.wait_p50
        return ((sat is None, -(sat or 0)), (on is None, -(on or 0)),
                (wait is None, wait or 0), f.site)

    ranked = sorted(out.values(), key=key)
    for i, f in enumerate(ranked, start=1):
        f.rank = i
    return ProvinceReport(date_from, date_to, ranked, warnings)


# ------------------------------------------------------------------ reading
def read(conninfo: str, date_from: dt.date, date_to: dt.date) -> ProvinceReport:
    """Read the period from the provincial database (read-only) and compute."""
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
        facts = {}
        for site, centre, commune, info in conn.execute(
                "SELECT site, centre, commune, info FROM sites"):
            facts[site] = SiteFacts(
                site, centre, commune,
                satisfied=frozenset(lv["code"] for lv in info.get("levels", []) if lv.get("satisfied")),
                levels=frozenset(lv["code"] for lv in info.get("levels", [])),
                minutes_per_citizen={f["code"]: float(f["minutes_per_citizen"])
                                     for f in info.get("fields", [])})
        tickets = [TicketRow(*r) for r in conn.execute(
            "SELECT site, field, state, issued_at, first_called_at, last_called_at, finished_at "
            "FROM tickets WHERE day BETWEEN %s AND %s", (date_from, date_to))]
        # A rating belongs to its ticket's service day, as in a centre's report.
        ratings = [RatingRow(*r) for r in conn.execute(
            "SELECT r.site, r.level FROM ratings r JOIN tickets t "
            "ON t.site = r.site AND t.ticket_id = r.ticket_id "
            "WHERE r.counted AND t.day BETWEEN %s AND %s", (date_from, date_to))]
        waiting = conn.execute("SELECT count(*) FROM tickets WHERE day IS NULL").fetchone()[0]
        rejects = conn.execute("SELECT count(*) FROM rejects").fetchone()[0]
    report = compute(tickets, ratings, facts, date_from, date_to)
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
    "satisfaction": ("Tỷ lệ hài lòng", "Satisfaction rate"),
    "rated_share": ("Tỷ lệ được đánh giá", "Share rated"),
    "on_time_share": ("Tỷ lệ đúng hạn", "On-time share"),
    "wait_p50": ("Chờ trung vị (phút)", "Wait p50 (min)"),
    "wait_p90": ("Chờ p90 (phút)", "Wait p90 (min)"),
}
_KINDS = {"rank": "int", "centre": "text", "site": "text", "issued": "int", "served": "int",
          "rated": "int", "satisfaction": "pct", "rated_share": "pct", "on_time_share": "pct",
          "wait_p50": "min", "wait_p90": "min"}
COLUMNS = list(HEADERS)


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
