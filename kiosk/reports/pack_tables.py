"""The official pack as tables: what both the workbook and the PDF show.

Each ``Section`` is one table with its title, headers, cell kinds and notes;
``pack_xlsx`` writes one sheet per section, ``pack_pdf`` one titled table
per section, so the two files say the same thing under the same headings.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import SiteConfig
from kiosk.reports import catalogue as cat
from kiosk.reports.figures import REASONS, Figures
from kiosk.reports.output import Names
from kiosk.reports.pack_figures import GRADES, PackFigures, grade_share
from kiosk.reports.rates import closed_on_time
from kiosk.reports.pack_text import number, text

TEXT, INT, PCT, MIN, TIME = "text", "int", "pct", "min", "time"
# A cell with nothing to say (a count's share column): blank in both files;
# None is a figure with no value (a rate over nothing), printed "—".
NA = ""
# The PDF lists at most this many cases (those not closed on time first,
# some three pages); the workbook lists every one (docs/reports.md, "The
# official pack").
PDF_CASES = 100


@dataclass
class Section:
    key: str                     # sheet.<key> names its sheet
    title: str
    header: list[str]
    kinds: list[str]
    rows: list[list[Any]]
    widths: list[float]          # relative column widths in the PDF
    notes: list[str] = field(default_factory=list)
    total: bool = False          # the last row is a total (bold)
    pdf_rows: int | None = None  # the PDF shows only the first this many rows
    pdf_notes: list[str] = field(default_factory=list)


_EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class Context:
    config: SiteConfig
    figures: PackFigures
    names: Names
    kind: str
    lang: str
    _offsets: dict[int, float] = field(default_factory=dict)

    def t(self, key: str, **values: object) -> str:
        return text(key, self.lang, **values)

    def local(self, at: float | None) -> dt.datetime | None:
        # Naive local time: what a spreadsheet cell and a printed page show.
        # The UTC offset is looked up once per quarter hour (every offset
        # in use is whole quarters), not once per time.
        if at is None:
            return None
        q = int(at // 900)
        offset = self._offsets.get(q)
        if offset is None:
            offset = self._offsets[q] = dt.datetime.fromtimestamp(
                q * 900, self.config.tz).utcoffset().total_seconds()
        return _EPOCH + dt.timedelta(seconds=at + offset)

    def official(self, code: str | None) -> str:
        if code is None:
            return self.t("none")
        name = self.names.officials.get(code)
        return f"{name} ({code})" if name else code

    def counter(self, number: int | None) -> str:
        if number is None:
            return self.t("none")
        # A counter the config no longer has: by its number (never "#n",
        # which names a follow-up case in the pack).
        return self.names.counters.get(number, f"{self.t('c.counter')} {number}")

    def field(self, code: str | None) -> str:
        if code is None:
            return self.t("none")
        return self.names.fields.get(code, code)


def sections(ctx: Context) -> list[Section]:
    return [summary(ctx), *(three_levels(ctx, by) for by in ("field", "counter", "official")),
            waits(ctx), longest(ctx), hours(ctx), anomalies(ctx), cases(ctx), estimate(ctx)]


def summary(ctx: Context) -> Section:
    f, t = ctx.figures, ctx.t
    total = f.report.breakdowns["field"].total
    three = f.three(total)
    rows: list[list[Any]] = [
        [t("r.issued"), total.issued, NA],
        [t("r.served"), total.served, NA],
        [t("r.rated"), total.rated, total.rated_share],
    ]
    rows += [[_grade_name(ctx, g), three[g],
              grade_share(three, g)] for g in GRADES]
    rows += [[t("r.satisfaction"), total.satisfied, total.satisfaction],
             [t("r.within"), f.wait_total.within, f.wait_total.share],
             [t("r.on_time"), total.on_time, total.on_time_share],
             [t("r.anomalies"), total.anomalies, NA],
             [t("r.cases"), f.case_counts["cases"], f.cases_on_time_share],
             [t("r.estimate"), f.estimate.served - f.estimate.flagged, f.estimate.share]]
    return Section("summary", t("s.summary"), [t("c.indicator"), t("c.value"), t("c.share")],
                   [TEXT, INT, PCT], rows, [6, 1.4, 1.4], notes=[t("levels.note")])


def _grade_name(ctx: Context, grade: str) -> str:
    vi = {"rat-hai-long": "Rất hài lòng", "hai-long": "Hài lòng", "khong-hai-long": "Không hài lòng"}
    en = {"rat-hai-long": "Very satisfied", "hai-long": "Satisfied",
          "khong-hai-long": "Not satisfied"}
    return (vi if ctx.lang == "vi" else en)[grade]


def three_levels(ctx: Context, by: str) -> Section:
    t, f = ctx.t, ctx.figures
    b = f.report.breakdowns[by]
    name = {"field": ctx.field, "counter": ctx.counter, "official": ctx.official}[by]
    header = [t(f"c.{by}"), t("c.served"), t("c.rated"), t("c.rated_share")]
    kinds = [TEXT, INT, INT, PCT]
    for g in GRADES:
        header += [_grade_name(ctx, g), t("c.pct")]
        kinds += [INT, PCT]

    def row(label: str, fig: Figures) -> list[Any]:
        three = f.three(fig)
        out: list[Any] = [label, fig.served, fig.rated, fig.rated_share]
        for g in GRADES:
            out += [three[g], grade_share(three, g)]
        return out

    # The unattributed group (tickets never called, presses with no ticket)
    # is a row only when it holds a served ticket or a rating.
    rows = [row(name(g.key), g) for g in b.groups if g.key is not None or g.served or g.rated]
    rows.append(row(t("total"), b.total))
    return Section(by, t(f"s.{by}"), header, kinds, rows,
                   [4.2, 1.2, 1.2, 1.3, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1],
                   notes=[t("levels.note")], total=True)


def waits(ctx: Context) -> Section:
    t, f = ctx.t, ctx.figures
    served_in = {g.key: g for g in f.report.breakdowns["field"].groups}
    rows: list[list[Any]] = []
    for w in f.wait_by_field:
        on = served_in.get(w.key)
        rows.append([ctx.field(w.key), ctx.config.wait_target_min(w.key), w.base, w.within,
                     w.missed, w.share, ctx.config.service_target_min(w.key),
                     on.on_time_share if on else None])
    total = f.report.breakdowns["field"].total
    rows.append([t("total"), NA, f.wait_total.base, f.wait_total.within, f.wait_total.missed,
                 f.wait_total.share, NA, total.on_time_share])
    return Section("waits", t("s.waits"),
                   [t("c.field"), t("c.wait_target"), t("c.base"), t("c.within"), t("c.missed"),
                    t("c.within_share"), t("c.service_target"), t("c.on_time_share")],
                   [TEXT, MIN, INT, INT, INT, PCT, MIN, PCT], rows,
                   [4, 1.3, 1.1, 1.2, 1.2, 1.3, 1.4, 1.3], notes=[t("waits.note")], total=True)


def longest(ctx: Context) -> Section:
    t = ctx.t
    rows = [[i, w.label, w.ticket_id, ctx.local(w.issued_at), ctx.field(w.field),
             ctx.counter(w.counter), ctx.official(w.official), w.minutes]
            for i, w in enumerate(ctx.figures.longest, start=1)]
    return Section("longest", t("s.longest"),
                   [t("c.rank"), t("c.ticket"), t("c.ticket_id"), t("c.issued"), t("c.field"),
                    t("c.counter"), t("c.official"), t("c.wait_min")],
                   [INT, TEXT, TEXT, TIME, TEXT, TEXT, TEXT, MIN], rows,
                   [0.6, 1.0, 2.0, 1.4, 2.6, 1.3, 2.6, 1.0])


def hours(ctx: Context) -> Section:
    t = ctx.t
    rows = [[f"{h.key:02d}:00–{(h.key + 1) % 24:02d}:00", h.base, h.missed, h.share]
            for h in ctx.figures.hours_missed]
    return Section("hours", t("s.hours"),
                   [t("c.hour"), t("c.base"), t("c.missed"), t("c.within_share")],
                   [TEXT, INT, INT, PCT], rows, [2, 1.4, 1.4, 1.6],
                   notes=[] if rows else [t("hours.none")])


def anomalies(ctx: Context) -> Section:
    t, b = ctx.t, ctx.figures.report.breakdowns["official"]
    reasons = list(REASONS) + sorted({r for g in b.groups for r in g.reasons} - set(REASONS))
    header = [t("c.official"), t("c.anomalies")]
    header += [cat.text(f"reason.{r}", ctx.lang) if r in REASONS else r for r in reasons]
    rows = [[ctx.official(g.key), g.anomalies, *(g.reasons.get(r, 0) for r in reasons)]
            for g in b.groups if g.key is not None or g.anomalies]
    rows.append([t("total"), b.total.anomalies, *(b.total.reasons.get(r, 0) for r in reasons)])
    return Section("anomalies", t("s.anomalies"), header, [TEXT] + [INT] * (len(header) - 1),
                   rows, [4] + [1.2] * (len(header) - 1), total=True)


def cases(ctx: Context) -> Section:
    # A quarter of a large centre has tens of thousands of cases: every
    # word is looked up once, not once per case.
    t, f = ctx.t, ctx.figures
    reason_names = ctx.names.reasons
    level_names = {lv.code: (lv.name_vi if ctx.lang == "vi" else lv.name_en)
                   for lv in ctx.config.rating.levels}
    yes, no, overdue = t("yes"), t("no"), t("status.overdue")
    statuses = {k: t(f"status.{k}") for k in ("open", "looked_into", "closed")}
    fields, officials, said = {}, {}, {}

    def reasons(raw) -> str:
        # Reasons by name; never the citizen's comment (it stays on the head's screen).
        # CaseRow decodes them to a list; the column itself is JSON text.
        key = raw if isinstance(raw, str) or raw is None else tuple(raw)
        if key not in said:
            codes = raw or []
            if isinstance(raw, str):
                try:
                    codes = json.loads(raw)
                except ValueError:
                    codes = []
            said[key] = ", ".join(reason_names.get(c, str(c)) for c in codes if isinstance(c, str))
        return said[key]

    keyed = []
    for c in f.cases:
        if c.status == "closed":
            status, on_time = statuses["closed"], yes if closed_on_time(c.closed_at, c.due_at) else no
        elif c.due_at < f.made_at:
            status, on_time = overdue, no
        else:
            status, on_time = statuses.get(c.status, c.status), ""
        if c.field not in fields:
            fields[c.field] = ctx.field(c.field)
        if c.official not in officials:
            officials[c.official] = ctx.official(c.official)
        row = [f"#{c.id}", c.ticket_id or "", fields[c.field], officials[c.official],
               level_names.get(c.level, c.level), reasons(c.reasons), ctx.local(c.opened_at),
               ctx.local(c.due_at), status, ctx.local(c.closed_at), on_time]
        # Those not closed on time first (what the head must answer for), then by due time.
        keyed.append(((on_time == yes, c.due_at, c.id), row))
    keyed.sort(key=lambda kr: kr[0])
    rows = [r for _, r in keyed]
    counts = f.case_counts
    share = f.cases_on_time_share
    notes = [t("cases.summary", share=number(share, PCT, ctx.lang), **counts)]
    pdf_notes = list(notes)
    if len(rows) > PDF_CASES:
        pdf_notes.append(t("cases.cut", shown=PDF_CASES, cases=len(rows)))
    if not rows:
        notes.append(t("cases.none"))
        pdf_notes.append(t("cases.none"))
    return Section("cases", t("s.cases"),
                   [t("c.case"), t("c.ticket_id"), t("c.field"), t("c.official"), t("c.level"),
                    t("c.reasons"), t("c.opened"), t("c.due"), t("c.status"), t("c.closed"),
                    t("c.on_time")],
                   [TEXT] * 6 + [TIME, TIME, TEXT, TIME, TEXT], rows,
                   [24, 68, 52, 54, 40, 62, 49, 49, 38, 49, 32],
                   notes=notes, pdf_rows=PDF_CASES, pdf_notes=pdf_notes)


def estimate(ctx: Context) -> Section:
    t, e = ctx.t, ctx.figures.estimate
    rows = [[t("e.served"), e.served, NA], [t("e.flagged"), e.flagged, NA],
            [t("e.bad"), e.rated_bad_or_case, NA], [t("e.late"), e.late, NA],
            [t("e.share"), NA, e.share], [t("e.points"), NA, e.points]]
    return Section("estimate", t("s.estimate"), [t("c.indicator"), t("c.value"), t("c.share")],
                   [TEXT, INT, PCT], rows, [6, 1.4, 1.4], notes=[t("e.formula"), t("e.label")])
