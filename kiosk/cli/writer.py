"""Where the command line's state changes go: the database's one writer.

A command builds the body the core takes on ``core/command`` or
``counter/N/command`` (docs/mqtt.md) and hands it to a ``Writer``:

- ``BusCore``: the running core, over MQTT, when it holds the database (its
  lock), so there is only ever one writer;
- ``LocalCore``: no core runs, so the command line opens the database and
  runs the body on an engine of its own.

Both answer with the reply the core publishes; ``send`` turns a refusal into
a one-line error.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import click

from kiosk.cli.options import CLI_LOGIN, fail, mqtt_settings
from kiosk.config import SiteConfig

if TYPE_CHECKING:
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
            return self.client.ask(topic, {"source": "cli", **body})
        except BusError as e:
            fail(str(e))

    def close(self) -> None:
        self.client.close()


# A counter command's action, as the engine's operation.
_COUNTER_OPS = {"next": "call_next", "call": "call_specific"}


class LocalCore:
    """The database itself, when no core runs: each body run on an engine here.

    It keeps its own mapping of actions to engine operations and its own PIN
    check until the core's commands can be run in process; the replies have
    the core's shape, so the commands cannot tell the two writers apart.
    """

    def __init__(self, cfg: SiteConfig, engine: Engine):
        self.cfg = cfg
        self.engine = engine

    def core_command(self, body: dict[str, Any]) -> dict[str, Any]:
        from kiosk.core import views
        from kiosk.core.auth import pin_matches
        from kiosk.core.domain import DomainError
        from kiosk.core.store import StoreError
        action = body["action"]
        try:
            if action == "issue":
                events = self.engine.run("issue", body["field"], body.get("priority"))
                t = self.engine.ticket(events[-1]["ticket_id"])
                return {"ok": True, "ticket": views.ticket_full(self.cfg, self.engine.queue, t)}
            if action == "login":
                pin = body.get("pin")
                if pin is not None and not pin_matches(self.engine.store.official(body["official"]), pin):
                    return _refused("bad_login", "wrong official code or PIN")
                self.engine.run("login", body["counter"], body["official"])
            elif action == "logout":
                self.engine.run("logout", body["counter"])
            elif action == "close_day":
                self.engine.run("close_day")
            else:
                # The roster's actions; the store refuses any other.
                fields = {k: v for k, v in body.items() if k not in ("action", "official")}
                try:
                    self.engine.store.apply_roster(action, body["official"], **fields)
                except StoreError as e:
                    return _refused("roster", str(e))
        except DomainError as e:
            return _refused(e.code, e.message)
        return {"ok": True}

    def counter_command(self, n: int, body: dict[str, Any]) -> dict[str, Any]:
        from kiosk.core import views
        from kiosk.core.domain import DomainError
        args = {k: v for k, v in body.items() if k != "action"}
        action = body["action"]
        pos = [n] + ([args.pop("number")] if action == "call" else [])
        try:
            self.engine.run(_COUNTER_OPS.get(action, action), *pos, **args)
        except DomainError as e:
            return _refused(e.code, e.message)
        return {"ok": True, "ticket": views.counter_reply_ticket(self.engine.queue, n)}

    def close(self) -> None:
        self.engine.store.close()


def _refused(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


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
