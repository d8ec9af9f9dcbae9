"""The officials (CBCC): the roster, and who serves at which counter.

Roster changes and log-ins are bodies of ``core/command`` (docs/mqtt.md),
sent through the one writer (``kiosk.cli.writer``); a PIN leaves this
process only as its scrypt hash, except for a log-in's check.
"""
from __future__ import annotations

import sys

import click

from kiosk.cli.options import common, fail, mqtt_options, read_db
from kiosk.cli.writer import send


def _pin_hash(pin: str) -> str:
    from kiosk.core.auth import hash_pin
    try:
        return hash_pin(pin)
    except ValueError as e:
        fail(str(e))


@click.group()
def official() -> None:
    """The roster of officials (CBCC) who serve at the counters."""


@official.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--role", type=click.Choice(["staff", "head", "admin"]), default="staff",
              show_default=True, help="staff serve; head reads reports; admin keeps the roster.")
@click.option("--pin", default=None, help="4-12 digits; asked for when omitted on a terminal.")
@common
@mqtt_options
def official_add(cfg, db_path: str, code: str, name: str, role: str, pin: str | None,
                 mqtt: dict) -> None:
    """Add an official: CODE (e.g. nv01) and full NAME.  The first admin is made here."""
    if pin is None and sys.stdin.isatty():
        pin = click.prompt("PIN", hide_input=True, confirmation_prompt=True)
    if pin is None and role != "staff":
        fail(f"a {role} needs a PIN (--pin)")
    pin_hash = _pin_hash(pin) if pin else None
    send(cfg, db_path, mqtt, {"action": "official_add", "official": code, "name": name,
                              "role": role, "pin_hash": pin_hash})
    click.echo(f"official {code} ({name}, {role}) added" + ("" if pin_hash else " without a PIN"))


@official.command("pin")
@click.argument("code")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
@common
@mqtt_options
def official_pin(cfg, db_path: str, code: str, pin: str, mqtt: dict) -> None:
    """Set CODE's PIN (stored as a scrypt hash)."""
    send(cfg, db_path, mqtt, {"action": "official_pin", "official": code, "pin_hash": _pin_hash(pin)})
    click.echo(f"PIN of {code} set")


@official.command("disable")
@click.argument("code")
@common
@mqtt_options
def official_disable(cfg, db_path: str, code: str, mqtt: dict) -> None:
    """CODE may no longer log in (history stays attributed)."""
    send(cfg, db_path, mqtt, {"action": "official_active", "official": code, "active": False})
    click.echo(f"{code} disabled")


@official.command("list")
@common
def official_list(cfg, db_path: str) -> None:
    """List the roster."""
    with read_db(db_path) as reader:
        rows = reader.officials()
    for r in rows:
        click.echo(f"{r['code']:<10}{r['name']:<30}{r['role']:<7}{'PIN' if r['has_pin'] else 'no PIN':<8}"
                   f"{'active' if r['active'] else 'inactive'}")


@click.command()
@click.argument("counter", type=int)
@click.argument("code")
@click.option("--pin", default=None, help="Check the official's PIN too.")
@common
@mqtt_options
def login(cfg, db_path: str, counter: int, code: str, pin: str | None, mqtt: dict) -> None:
    """Official CODE starts serving at COUNTER: calls, finishes and ratings are theirs."""
    send(cfg, db_path, mqtt, {"action": "login", "counter": counter, "official": code, "pin": pin})
    click.echo(f"{code} logged in at {cfg.counter(counter).name}")


@click.command()
@click.argument("counter", type=int)
@common
@mqtt_options
def logout(cfg, db_path: str, counter: int, mqtt: dict) -> None:
    """Nobody serves at COUNTER any more."""
    send(cfg, db_path, mqtt, {"action": "logout", "counter": counter})
    click.echo(f"logged out at {cfg.counter(counter).name}")


COMMANDS = [official, login, logout]
