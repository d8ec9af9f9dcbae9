"""The site config file itself: ``config check`` and ``config diff``.

Both read files only (no broker, no database), so they work on a copy being
edited on a laptop as well as on the centre's own file.
"""
from __future__ import annotations

import click

from kiosk import config as site_config
from kiosk.cli.options import fail
from kiosk.config.changes import diff as config_diff


@click.group("config")
def config_group() -> None:
    """Check a site config file, or say what differs between two."""


class Trouble(click.ClickException):
    exit_code = 2          # as diff(1): 0 same, 1 different, 2 trouble


def _load(path: str, trouble: bool = False) -> site_config.SiteConfig:
    try:
        return site_config.load(path)
    except site_config.ConfigError as e:
        if trouble:
            raise Trouble(str(e)) from None
        fail(str(e))


@config_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check(path: str) -> None:
    """Validate PATH as the core would at start-up; every problem, one per line."""
    cfg = _load(path)
    click.echo(f"{path}: ok ({cfg.site.centre}: {len(cfg.fields)} fields, "
               f"{len(cfg.counters)} counters, {len(cfg.rating.levels)} rating levels)")


@config_group.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
def diff(old: str, new: str) -> None:
    """What differs from OLD to NEW, key by key (defaults filled in, comments ignored).

    Exit status 0 when they mean the same, 1 when they differ, 2 when a file
    cannot be read or is not a valid config (as diff(1)).
    """
    changes = config_diff(_load(old, trouble=True), _load(new, trouble=True))
    for change in changes:
        click.echo(change.describe())
    if not changes:
        click.echo(f"{old} and {new} configure the same centre")
    raise SystemExit(1 if changes else 0)


COMMANDS = [config_group]
