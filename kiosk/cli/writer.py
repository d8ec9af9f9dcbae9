"""Where the command line's state changes go: the database's one writer.

A command builds the body the core takes on ``core/command`` or
``counter/N/command`` (docs/mqtt.md) and hands it to a ``Writer``:

- ``BusCore``: the running core, over MQTT, when it holds the database (its
  lock), so there is only ever one writer;
- ``LocalCore``: no core runs, so the command line opens the database and
  runs the body through the core's command pipeline, in this process.

Both answer with the reply the core publishes; ``send`` turns a refusal into
a one-line error.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import click

from kiosk.cli.options import CLI_LOGIN, fail, mqtt_settings

if TYPE_CHECKING:
    from kiosk.config import SiteConfig
    from kiosk.core.engine import Engine


class Writer(Protocol):
    def core_command(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def counter_command(self, n: int, body: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class BusCore:
    """The running core, asked over MQTT as the command line's own login."""

    def __init__(self, cfg: SiteConfig, mqtt: dict[str, Any]):
        from kiosk.core.client import BusError, CoreClient
        host, port, user, password = mqtt_settings(cfg, mqtt)
        try:
            self.client = CoreClient(cfg.topic_prefix, host=host, port=port, user=user,
                                     password=password, id_prefix=CLI_LOGIN)
        except BusError as e:
            fail(str(e))

    def core_command(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ask(self.client.topics.core_command, body)

    def counter_command(self, n: int, body: dict[str, Any]) -> dict[str, Any]:
        return self._ask(self.client.topics.counter_command(n), body)

    def _ask(self, topic: str, body: dict[str, Any]) -> dict[str, Any]:
        from kiosk.core.client import BusError
        try:
            return self.client.ask(topic, _from_cli(body))
        except BusError as e:
            fail(str(e))

    def close(self) -> None:
        self.client.close()


class LocalCore:
    """The database itself, when no core runs: the core's own command pipeline here.

    Each body goes through ``kiosk.core.commands.Commands`` (decode, dedupe,
    run, reply), the very code the running core runs on the bus, so the
    replies, refusals and PIN check are the core's and the commands cannot
    tell the two writers apart.  With no bus here, ``republish`` and
    ``notice`` reply ok and publish nothing.
    """

    def __init__(self, cfg: SiteConfig, engine: Engine):
        from kiosk.core.commands import Commands
        self.engine = engine
        self.commands = Commands(cfg, engine)
        # The pipeline logs for a running core's journal.  Here the user gets a
        # refusal as the one error line, and with no handler set up Python's
        # last resort would print each warning on stderr too; this handler
        # stops that and nothing else (set-up handlers still get the lines).
        self._quiet = logging.NullHandler()
        logging.getLogger("phucvu").addHandler(self._quiet)

    def core_command(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.commands.core_command(_with_id(body))

    def counter_command(self, n: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.commands.counter_command(n, _with_id(body))

    def close(self) -> None:
        logging.getLogger("phucvu").removeHandler(self._quiet)
        self.engine.store.close()


def _from_cli(body: dict[str, Any]) -> dict[str, Any]:
    """A body as the command line sends it, on either path."""
    return {"source": "cli", **body}


def _with_id(body: dict[str, Any]) -> dict[str, Any]:
    """The contract wants a command id; over the bus ``CoreClient`` adds the same kind."""
    from kiosk.core.client import new_command_id
    return {"command_id": new_command_id(CLI_LOGIN), **_from_cli(body)}


def open_writer(cfg: SiteConfig, db_path: str, mqtt: dict[str, Any]) -> Writer:
    """The database if it is free, else the core that holds it."""
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store, StoreLocked
    try:
        return LocalCore(cfg, Engine(cfg, Store(db_path)))
    except StoreLocked as e:
        try:
            return BusCore(cfg, mqtt)
        except click.ClickException as why:
            fail(f"{e}; and the core cannot be reached over MQTT: {why.message}")


def send(cfg: SiteConfig, db_path: str, mqtt: dict[str, Any], body: dict[str, Any], *,
         counter: int | None = None) -> dict[str, Any]:
    """Run one state change (at ``counter``, or the core's) through the writer; fail on a refusal."""
    writer = open_writer(cfg, db_path, mqtt)
    try:
        reply = writer.core_command(body) if counter is None else writer.counter_command(counter, body)
    finally:
        writer.close()
    return check(reply)


def ask_running_core(cfg: SiteConfig, mqtt: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A command only the running core can carry out (it owns the printer)."""
    core = BusCore(cfg, mqtt)
    try:
        return check(core.core_command(body))
    finally:
        core.close()


def check(reply: dict[str, Any]) -> dict[str, Any]:
    if not reply.get("ok"):
        err = reply.get("error", {})
        fail(err.get("message") or str(err))
    return reply
