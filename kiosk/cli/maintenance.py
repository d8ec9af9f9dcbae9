"""Upkeep and checks: backups, reprints, the printer and the voice, screenshots, the uplink's replay."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from kiosk.cli.options import (DEMO_SITE, common, config_option, demo_config_option, fail,
                               load_site, mqtt_options, mqtt_settings, read_db)
from kiosk.cli.writer import ask_running_core


@click.command()
@click.argument("path", required=False)
@click.option("--dir", "directory", default=None,
              help="Write phucvu-YYYYMMDD-HHMMSS.db here instead of PATH (the nightly timer).")
@click.option("--keep", type=click.IntRange(min=1), default=14, show_default=True,
              help="With --dir: how many copies to keep; older ones are deleted.")
@common
def backup(cfg, db_path: str, path: str | None, directory: str | None, keep: int) -> None:
    """Copy the live database to PATH (or into --dir) with SQLite's online backup."""
    import datetime as dt

    from kiosk.backup import rotate
    from kiosk.core.store import Store
    if (path is None) == (directory is None):
        fail("give either PATH or --dir DIR")
    if not Path(db_path).exists():
        fail(f"no database at {db_path}")
    store = Store(db_path, lock=False)
    try:
        if directory is None:
            target, gone = store.backup(path), []
        else:
            target, gone = rotate(Path(directory), store, keep, dt.datetime.now(cfg.tz))
    finally:
        store.close()
    click.echo(f"backup written to {target} ({target.stat().st_size} bytes, integrity ok)")
    for p in gone:
        click.echo(f"old backup deleted: {p}")


@click.command()
@click.argument("ticket", required=False)
@click.option("--list", "as_list", is_flag=True, help="List today's tickets waiting for a reprint.")
@click.option("--force", is_flag=True, help="Reprint a ticket that did print (lost or torn).")
@common
@mqtt_options
def reprint(cfg, db_path: str, ticket: str | None, as_list: bool, force: bool, mqtt: dict) -> None:
    """Reprint TICKET (e.g. A013) through the running core, or list the reprint queue."""
    if as_list or not ticket:
        _list_reprint_queue(db_path)
        return
    reply = ask_running_core(cfg, mqtt, {"action": "reprint", "ticket": ticket, "force": force})
    p = reply.get("print", {})
    click.echo(f"{reply['ticket']['label']}: reprint {p.get('status')}"
               + (f" ({p.get('reason')}: {p.get('detail')})" if p.get("status") != "printed" else ""))
    if p.get("status") != "printed":
        sys.exit(1)


def _list_reprint_queue(db_path: str) -> None:
    with read_db(db_path) as reader:
        day = reader.latest_day()
        rows = reader.reprint_queue(day) if day else []
    if not rows:
        click.echo("reprint queue is empty")
    for r in rows:
        click.echo(f"{r['label']}  {r['ticket_state']:<12}{r['print_state']:<16}{r['detail']}")


@click.command("print-test")
@click.option("--reprint", is_flag=True, help="Print the sample as a reprint (IN LẠI).")
@click.option("--printer", "printer_conn", default=None, help="Override [printer] connection.")
@common
def print_test(cfg, db_path: str, reprint: bool, printer_conn: str | None) -> None:
    """Print a sample ticket and say what the printer answered."""
    from kiosk.printing.tools import PrintTestError, print_test as run_print_test
    try:
        result = run_print_test(cfg, connection=printer_conn, reprint=reprint, say=click.echo)
    except PrintTestError as e:
        fail(str(e))
    if not result.printed:
        sys.exit(1)


@click.command("voice-test")
@click.argument("text")
@config_option
@click.option("--out", "out_dir", default=None, help="Write the wav here instead of playing it.")
def voice_test(text: str, config_path: str, out_dir: str | None) -> None:
    """Speak TEXT with the configured voice, e.g. "Mời công dân có số thứ tự B023"."""
    from display.voice import main as voice_main
    click.echo(str(voice_main(text, config_path, out_dir)))


@click.command()
@demo_config_option
@click.option("--out", default="docs/images", show_default=True, help="Where the PNGs go.")
def screenshots(config_path: str | None, out: str) -> None:
    """Render every kiosk screen, the wall display, the browser pages and sample tickets to PNG."""
    import datetime as dt

    from display.screenshots import main as display_shots
    from kiosk.phone.screenshots import main as phone_shots
    from kiosk.printing.tools import write_samples
    from kiosk.ui.screenshots import main as kiosk_shots
    from kiosk.web.screenshots import ScreenshotError
    from kiosk.web.screenshots import main as web_shots
    path = config_path or str(DEMO_SITE)
    cfg = load_site(path)
    made = display_shots(path, out)
    if kiosk_shots(["--config", path, "--out", out]) != 0:
        fail("kiosk screenshots failed")
    # A fixed moment, so the sample tickets do not change on every run.
    sizes = write_samples(cfg, out, now=dt.datetime(2026, 11, 27, 9, 41, tzinfo=cfg.tz))
    click.echo(f"{len(made)} display, the kiosk's screens and {len(sizes)} tickets written to {out}")
    # The browser pages start a centre of their own (broker, core, console)
    # and need chromium: last, so a missing browser costs only these.
    try:
        pages = web_shots(path, out)
        pages += phone_shots(path, out)
    except ScreenshotError as e:
        fail(f"browser pages not rendered: {e}")
    click.echo(f"{len(pages)} browser pages (console and phone page) written to {out}")


@click.command("replay-events")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First local day to republish, YYYY-MM-DD.")
@click.option("--from-id", type=int, default=1, show_default=True, help="First journal id to republish.")
@common
@mqtt_options
def replay_events(cfg, db_path: str, since, from_id: int, mqtt: dict) -> None:
    """Republish journaled ticket and rating events and follow-up case changes for the provincial uplink (docs/multi-site.md)."""
    from kiosk.province.uplink import ReplayError, replay
    host, port, user, password = mqtt_settings(cfg, mqtt)
    # The uplink reads the journal only; a file damaged elsewhere is named
    # before anything of it goes to the province.
    read_db(db_path).close()
    try:
        n, cases = replay(cfg, db_path, host=host, port=port, username=user, password=password,
                          since=since.date() if since else None, from_id=from_id)
    except ReplayError as e:
        fail(str(e))
    click.echo(f"{n} events and {cases} case changes republished")


COMMANDS = [backup, reprint, print_test, voice_test, screenshots, replay_events]
