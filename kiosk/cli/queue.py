"""The queue's commands: create the database, issue, act at a counter, close the day.

Each state change is the body the core takes on the bus (docs/mqtt.md), sent
through the one writer (``kiosk.cli.writer``).
"""
from __future__ import annotations

from typing import Any

import click

from kiosk.cli.options import common, fail, mqtt_options
from kiosk.cli.writer import send


@click.command()
@common
def init(cfg, db_path: str) -> None:
    """Create (or migrate) the database for this site."""
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store
    store = Store(db_path)
    Engine(cfg, store)
    click.echo(f"{db_path}: schema {store.schema_version}, site {cfg.site.id}, "
               f"{len(cfg.fields)} fields, {len(cfg.counters)} counters")
    store.close()


@click.command()
@click.argument("field")
@click.option("--priority", default=None, help="Priority class code, e.g. cao-tuoi.")
@common
@mqtt_options
def issue(cfg, db_path: str, field: str, priority: str | None, mqtt: dict) -> None:
    """Issue a ticket for FIELD (a field code from the config)."""
    from kiosk import waitwords
    t = send(cfg, db_path, mqtt, {"action": "issue", "field": field, "priority": priority})["ticket"]
    mark = f" [{t['priority_name_vi']}]" if t.get("priority_name_vi") else ""
    # The wait as the ticket says it: a range when wide, "when a counter
    # reopens" when none is open for the field (all three None).
    wait = waitwords.plain(waitwords.phrase(t.get("estimated_wait_min"), t.get("wait_low_min"),
                                            t.get("wait_high_min"), "en"))
    click.echo(f"{t['label']}  {t['field_name_vi']}{mark}  {t['ahead']} ahead, wait {wait}")


@click.command()
@click.argument("counter", type=int)
@click.argument("action", type=click.Choice(
    ["next", "recall", "finish", "no-show", "pause", "resume", "call", "transfer"]))
@click.argument("number", required=False)
@click.option("--to", "to", default=None, help="transfer: a field code, or a counter number.")
@common
@mqtt_options
def counter(cfg, db_path: str, counter: int, action: str, number: str | None, to: str | None,
            mqtt: dict) -> None:
    """Act at COUNTER: next, recall, finish, no-show, pause, resume, call NUMBER, transfer --to X."""
    reply = send(cfg, db_path, mqtt, _counter_body(action, number, to), counter=counter)
    t = reply.get("ticket")
    name = cfg.counter(counter).name
    click.echo(f"{name}: {action} ok; serving {t['label'] if t else 'nobody'}")


def _counter_body(action: str, number: str | None, to: str | None) -> dict[str, Any]:
    """The ``counter/N/command`` body for what was typed, or a one-line error."""
    body: dict[str, Any] = {"action": action.replace("-", "_")}
    if action == "call":
        if not number:
            fail("call needs a ticket number, e.g. phucvu counter 2 call B023")
        body["number"] = number
    elif number:
        fail(f"{body['action']} takes no number")
    if action == "transfer":
        if not to:
            fail("transfer needs --to FIELD or --to COUNTER")
        body.update({"to_counter": int(to)} if to.isdigit() else {"to_field": to})
    elif to:
        fail("--to is only for transfer")
    return body


@click.command("close-day")
@common
@mqtt_options
def close_day(cfg, db_path: str, mqtt: dict) -> None:
    """Close today's service day: waiting tickets expire, counters close."""
    send(cfg, db_path, mqtt, {"action": "close_day"})
    click.echo("service day closed")


COMMANDS = [init, issue, counter, close_day]
