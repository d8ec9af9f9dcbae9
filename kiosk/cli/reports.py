"""What the command line reads and shows: the queue now, and reports over a period.

Everything here reads the database read-only, so it works beside the running
core.
"""
from __future__ import annotations

import json
import time
from typing import Any

import click

from kiosk.cli.options import DEFAULT_PROVINCE_CONFIG, common, config_option, fail, read_db


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the queue summary as JSON.")
@common
def status(cfg, db_path: str, as_json: bool) -> None:
    """The queue summary: waiting per field, what each counter serves."""
    from kiosk.core.domain import Queue
    # Read-only: works while the core holds the write lock.
    with read_db(db_path) as reader:
        q = Queue(cfg, reader.load_state([c.number for c in cfg.counters]))
    summary = q.summary(time.time())
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(f"{cfg.site.centre} — {summary['day'] or 'no service day yet'}"
               + (" (closed)" if summary["day_closed"] else ""))
    from kiosk import waitwords
    # The wait last: "when a counter reopens" (no open counter for the
    # field) is longer than any number and would push the columns apart.
    click.echo(f"{'field':<26}{'waiting':>8}{'prio':>6}{'issued':>8}  open  wait told now")
    for f in summary["fields"]:
        wait = waitwords.plain(waitwords.short(f["estimated_wait_min"], f["wait_low_min"],
                                               f["wait_high_min"], "en"))
        click.echo(f"{f['prefix']} {f['name_vi']:<24}{f['waiting']:>8}{f['priority_waiting']:>6}"
                   f"{f['issued']:>8}  {'yes' if f['open'] else 'no':<4}  {wait}")
    for c in cfg.counters:
        k = q.state.counters[c.number]
        cur = q.state.tickets.get(k.current) if k.current else None
        click.echo(f"{c.name:<10}{k.status:<8}{cur.label if cur else '-':<6}")


@click.command()
@click.option("--from", "date_from", default=None, type=click.DateTime(["%Y-%m-%d"]),
              help="First service day, YYYY-MM-DD (required without --pack).")
@click.option("--to", "date_to", default=None, type=click.DateTime(["%Y-%m-%d"]),
              help="Last service day, YYYY-MM-DD (required without --pack).")
@click.option("--pack", default=None, type=click.Choice(["monthly", "quarterly", "yearly"]),
              help="The official pack (workbook and A4 PDF) for a month, quarter or year.")
@click.option("--period", default=None,
              help="With --pack: 2026-11, 2026-Q4 or 2026; default: the last complete one.")
@click.option("--by", default="official", show_default=True,
              type=click.Choice(["official", "counter", "field", "day", "hour"]))
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "xlsx", "png"]))
@click.option("--out", default=None, help="File to write; xlsx/png default to a name in this "
              "folder.  With --pack: the folder to write into (default: this one).")
@click.option("--lang", default="vi", show_default=True, type=click.Choice(["vi", "en"]))
@click.option("--province", is_flag=True,
              help="Rank every centre of the province from the aggregate database (docs/multi-site.md).")
@click.option("--province-config", envvar="PHUCVU_PROVINCE_CONFIG", default=DEFAULT_PROVINCE_CONFIG,
              show_default=True, help="With --province: the province config (TOML).")
@config_option
@click.option("--db", "db_path", envvar="PHUCVU_DB", default=None,
              help="SQLite file; default: [store] path in the config.")
def report(province: bool, province_config: str, config_path: str, db_path: str | None,
           pack: str | None, period: str | None, **kwargs: Any) -> None:
    """Tickets, waits, service times, satisfaction and anomalies for a period (docs/reports.md).

    With --pack: the official pack for a month, quarter or year (docs/reports.md,
    "The official pack").  With --province: the province's centres ranked
    (docs/multi-site.md)."""
    if pack is not None:
        if province:
            fail("--pack and --province: choose one")
        common(_pack)(config_path=config_path, db_path=db_path, kind=pack, period=period,
                      out=kwargs["out"], lang=kwargs["lang"])
        return
    if period is not None:
        fail("--period goes with --pack")
    if kwargs["date_from"] is None or kwargs["date_to"] is None:
        fail("give --from and --to (service days, YYYY-MM-DD), or --pack")
    if province:
        _province_report(province_config, **kwargs)
    else:
        # A provincial server has no site config: it is loaded only here.
        common(_site_report)(config_path=config_path, db_path=db_path, **kwargs)


def _province_report(province_config: str, date_from, date_to, by: str, fmt: str,
                     out: str | None, lang: str) -> None:
    from kiosk import config as site_config
    from kiosk.province import config as province_cfg
    from kiosk.province.report import ProvinceReportError, report_main
    if fmt not in ("table", "csv"):
        fail(f"--province writes table or csv, not {fmt}")
    try:
        cfg = province_cfg.load(province_config)
        result = report_main(cfg.database.conninfo, date_from.date(), date_to.date(), fmt=fmt,
                             lang=lang, out=out)
    except (site_config.ConfigError, ProvinceReportError) as e:
        fail(str(e))
    click.echo(result, nl=not result.endswith("\n"))


def _site_report(cfg, db_path: str, date_from, date_to, by: str, fmt: str, out: str | None,
                 lang: str) -> None:
    from kiosk.reports import ReportError, report_main
    try:
        result = report_main(cfg, db_path, date_from=date_from.date(), date_to=date_to.date(),
                             by=by, fmt=fmt, out=out, lang=lang)
    except ReportError as e:
        fail(str(e))
    click.echo(result)


def _pack(cfg, db_path: str, kind: str, period: str | None, out: str | None, lang: str) -> None:
    from kiosk.reports.pack import PackError, pack_main
    try:
        paths = pack_main(cfg, db_path, kind=kind, period=period, out_dir=out or ".", lang=lang)
    except PackError as e:
        fail(str(e))
    for p in paths:
        click.echo(str(p))


COMMANDS = [status, report]
