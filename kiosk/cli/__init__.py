"""The ``phucvu`` command: thin wrappers over the library.

Each command parses its arguments, loads the validated config, wires objects
and prints one line or a small table.  Bad input gives a one-line error and
a non-zero exit, never a traceback.

State-changing commands work on the database directly when no core runs; when
the core holds the database (its lock), they go through the core over MQTT,
so there is only ever one writer.
"""
from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import click

from kiosk import config as site_config
from kiosk.contract import PayloadError

DEFAULT_CONFIG = "/etc/phucvu/site.toml"
DEFAULT_PROVINCE_CONFIG = "/etc/phucvu/province.toml"


# ----------------------------------------------------------------- plumbing
def _fail(message: str) -> None:
    raise click.ClickException(message)


def common(f: Callable) -> Callable:
    """--config and --db, shared by every command that touches a site."""
    @click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
                  show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
    @click.option("--db", "db_path", envvar="PHUCVU_DB", default=None,
                  help="SQLite file; default: [store] path in the config.")
    @functools.wraps(f)
    def wrapper(config_path: str, db_path: str | None, **kwargs: Any) -> Any:
        from kiosk.core.domain import DomainError
        from kiosk.core.store import StoreError
        try:
            cfg = site_config.load(config_path)
        except site_config.ConfigError as e:
            _fail(str(e))
        try:
            return f(cfg, db_path or cfg.store.path, **kwargs)
        except DomainError as e:
            _fail(e.message)
        except (StoreError, PayloadError, OSError) as e:
            _fail(str(e))
    return wrapper


# The login the command line uses when it goes through the running core: its
# own (docs/mqtt.md, "Logins and ACLs"), never the core's.  The broker takes
# the login as the client id, so a command line that logged in as ``core``
# would cut the running core off the bus.
CLI_LOGIN = "cli"


def _mqtt_options(login: str) -> Callable[[Callable], Callable]:
    """--mqtt-host/port/user/password-file; ``login`` is the default login
    (``core`` for ``phucvu core``, ``cli`` for everything else)."""
    if login == "core":
        user_help = "Login; default: [mqtt] username."
        pw_help = "File holding the password; default: [mqtt] password_file."
    else:
        user_help = f"Login; default: {login} (never the core's: it would cut the core off)."
        pw_help = (f"File holding the login's password; default: <login>.password in the folder of "
                   f"[mqtt] password_file (e.g. /etc/phucvu/secrets/{login}.password).")

    def decorate(f: Callable) -> Callable:
        @click.option("--mqtt-host", default=None, help="Broker host; default: [mqtt] host.")
        @click.option("--mqtt-port", type=int, default=None, help="Broker port; default: [mqtt] port.")
        @click.option("--mqtt-user", default=None, help=user_help)
        @click.option("--mqtt-password-file", default=None, help=pw_help)
        @functools.wraps(f)
        def wrapper(*args: Any, mqtt_host: str | None, mqtt_port: int | None, mqtt_user: str | None,
                    mqtt_password_file: str | None, **kwargs: Any) -> Any:
            kwargs["mqtt"] = {"host": mqtt_host, "port": mqtt_port, "user": mqtt_user,
                              "password_file": mqtt_password_file, "login": login}
            return f(*args, **kwargs)
        return wrapper
    return decorate


mqtt_options = _mqtt_options(CLI_LOGIN)


def _mqtt_settings(cfg, overrides: dict[str, Any] | None) -> tuple[str, int, str, str]:
    """Host, port, login and password for the login ``overrides["login"]`` (default core)."""
    from kiosk.contract import read_password
    o = overrides or {}
    host = o.get("host") or cfg.mqtt.host
    port = o.get("port") or cfg.mqtt.port
    if o.get("login", "core") == "core":
        user = o.get("user") or cfg.mqtt.username
        pw_file = o.get("password_file") or cfg.mqtt.password_file
        hint = "pass --mqtt-password-file or set [mqtt] password_file"
    else:
        user = o.get("user") or o["login"]
        # The site's password files sit together (/etc/phucvu/secrets/).
        beside = cfg.mqtt.password_file
        pw_file = o.get("password_file") or (str(Path(beside).with_name(f"{user}.password"))
                                             if beside else "")
        hint = (f"pass --mqtt-password-file with the {user!r} login's password, or set [mqtt] "
                f"password_file ({user}.password is then read from the same folder)")
    if not pw_file:
        _fail(f"no MQTT password for the {user!r} login: {hint}")
    try:
        return host, port, user, read_password(pw_file)
    except PayloadError as e:
        raise click.ClickException(str(e)) from None


class _Writer:
    """Either the database itself, or the running core over MQTT."""

    def __init__(self, cfg, db_path: str, mqtt: dict[str, Any] | None = None):
        from kiosk.core.engine import Engine
        from kiosk.core.store import Store, StoreLocked
        self.cfg = cfg
        self.engine = None
        self.remote = None
        try:
            self.engine = Engine(cfg, Store(db_path))
        except StoreLocked as e:
            try:
                self.remote = _Remote(cfg, *_mqtt_settings(cfg, mqtt))
            except click.ClickException as why:
                _fail(f"{e}; and the core cannot be reached over MQTT: {why.message}")

    def issue(self, field: str, priority: str | None) -> dict:
        if self.remote:
            return self.remote.core({"action": "issue", "field": field, "priority": priority})
        from kiosk.core import views
        events = self.engine.run("issue", field, priority)
        t = self.engine.ticket(events[-1]["ticket_id"])
        return {"ok": True, "ticket": views.ticket_full(self.cfg, self.engine.queue, t)}

    def counter(self, n: int, action: str, **args: Any) -> dict:
        if self.remote:
            return self.remote.counter(n, {"action": action, **args})
        from kiosk.core import views
        op = {"next": "call_next", "call": "call_specific"}.get(action, action)
        pos = [n] + ([args.pop("number")] if action == "call" else [])
        self.engine.run(op, *pos, **args)
        return {"ok": True, "ticket": views.counter_reply_ticket(self.engine.queue, n)}

    def login(self, counter: int, official: str, pin: str | None) -> dict:
        if self.remote:
            return self.remote.core({"action": "login", "counter": counter, "official": official,
                                     "pin": pin})
        if pin is not None:
            from kiosk.core.auth import pin_matches
            if not pin_matches(self.engine.store.official(official), pin):
                _fail("wrong official code or PIN")
        self.engine.run("login", counter, official)
        return {"ok": True}

    def logout(self, counter: int) -> dict:
        if self.remote:
            return self.remote.core({"action": "logout", "counter": counter})
        self.engine.run("logout", counter)
        return {"ok": True}

    def roster(self, action: str, code: str, **fields: Any) -> dict:
        if self.remote:
            return self.remote.core({"action": action, "official": code, **fields})
        self.engine.store.apply_roster(action, code, **fields)
        return {"ok": True}

    def close_day(self) -> dict:
        if self.remote:
            return self.remote.core({"action": "close_day"})
        self.engine.run("close_day")
        return {"ok": True}

    def close(self) -> None:
        if self.engine:
            self.engine.store.close()
        if self.remote:
            self.remote.close()


class _Remote:
    """Request/reply with the core over MQTT, correlated by command id."""

    def __init__(self, cfg, host: str, port: int, user: str, password: str):
        import threading
        from kiosk import contract
        self.topics = contract.Topics(cfg.topic_prefix)
        self.replies: dict[str, dict] = {}
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.refused: str | None = None
        # The client id is the login (the broker enforces it): one command
        # line at a time per login.
        self.client = contract.mqtt_client(user, username=user, password=password,
                                           prefix=cfg.topic_prefix)

        def on_connect(c, u, f, rc, p=None) -> None:
            if rc.is_failure:
                self.refused = str(rc)
                self.subscribed.set()
            else:
                c.subscribe([(self.topics.core_reply, 1), (self.topics.counter_reply("+"), 1)])
        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async(host, port, 10)
        self.client.loop_start()
        if not self.subscribed.wait(5) or self.refused:
            self.close()
            if self.refused:
                _fail(f"the MQTT broker at {host}:{port} refused the login {user!r}: {self.refused}")
            _fail(f"no answer from the MQTT broker at {host}:{port}")

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        with self.cond:
            self.replies[str(body.get("command_id"))] = body
            self.cond.notify_all()

    def _ask(self, topic: str, body: dict) -> dict:
        cid = f"cli-{uuid.uuid4().hex}"
        from kiosk.contract import encode
        self.client.publish(topic, encode({"command_id": cid, "source": "cli", **body}), qos=1)
        with self.cond:
            # Printing at 9,600 baud can take several seconds before a reply.
            if not self.cond.wait_for(lambda: cid in self.replies, timeout=30):
                _fail("the core did not answer within 30 s")
            return self.replies[cid]

    def core(self, body: dict) -> dict:
        return self._ask(self.topics.core_command, body)

    def counter(self, n: int, body: dict) -> dict:
        return self._ask(self.topics.counter_command(n), body)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _write(cfg, db_path: str, mqtt: dict, act: Callable[[_Writer], dict]) -> dict:
    """Run one state change locally or through the core; fail on a refusal."""
    w = _Writer(cfg, db_path, mqtt)
    try:
        return _check(act(w))
    finally:
        w.close()


def _check(reply: dict) -> dict:
    if not reply.get("ok"):
        err = reply.get("error", {})
        _fail(err.get("message") or str(err))
    return reply


# ----------------------------------------------------------------- commands
@click.group()
@click.version_option(package_name="phucvu")
def cli() -> None:
    """phucvu: tickets, calls and satisfaction for a public-service centre."""


@cli.command()
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


@cli.command()
@click.argument("field")
@click.option("--priority", default=None, help="Priority class code, e.g. cao-tuoi.")
@common
@mqtt_options
def issue(cfg, db_path: str, field: str, priority: str | None, mqtt: dict) -> None:
    """Issue a ticket for FIELD (a field code from the config)."""
    t = _write(cfg, db_path, mqtt, lambda w: w.issue(field, priority))["ticket"]
    mark = f" [{t['priority_name_vi']}]" if t.get("priority_name_vi") else ""
    click.echo(f"{t['label']}  {t['field_name_vi']}{mark}  "
               f"{t['ahead']} ahead, about {t['estimated_wait_min']:g} min")


@cli.command()
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
    action = action.replace("-", "_")
    args: dict[str, Any] = {}
    if action == "call":
        if not number:
            _fail("call needs a ticket number, e.g. phucvu counter 2 call B023")
        args["number"] = number
    elif number:
        _fail(f"{action} takes no number")
    if action == "transfer":
        if not to:
            _fail("transfer needs --to FIELD or --to COUNTER")
        args = {"to_counter": int(to)} if to.isdigit() else {"to_field": to}
    elif to:
        _fail("--to is only for transfer")
    reply = _write(cfg, db_path, mqtt, lambda w: w.counter(counter, action, **args))
    t = reply.get("ticket")
    name = cfg.counter(counter).name
    click.echo(f"{name}: {action.replace('_', '-')} ok; serving {t['label'] if t else 'nobody'}")


@cli.group()
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
    from kiosk.core.auth import hash_pin
    if pin is None and sys.stdin.isatty():
        pin = click.prompt("PIN", hide_input=True, confirmation_prompt=True)
    if pin is None and role != "staff":
        _fail(f"a {role} needs a PIN (--pin)")
    try:
        pin_hash = hash_pin(pin) if pin else None
    except ValueError as e:
        _fail(str(e))
    _write(cfg, db_path, mqtt,
           lambda w: w.roster("official_add", code, name=name, role=role, pin_hash=pin_hash))
    click.echo(f"official {code} ({name}, {role}) added" + ("" if pin_hash else " without a PIN"))


@official.command("pin")
@click.argument("code")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
@common
@mqtt_options
def official_pin(cfg, db_path: str, code: str, pin: str, mqtt: dict) -> None:
    """Set CODE's PIN (stored as a scrypt hash)."""
    from kiosk.core.auth import hash_pin
    try:
        pin_hash = hash_pin(pin)
    except ValueError as e:
        _fail(str(e))
    _write(cfg, db_path, mqtt, lambda w: w.roster("official_pin", code, pin_hash=pin_hash))
    click.echo(f"PIN of {code} set")


@official.command("disable")
@click.argument("code")
@common
@mqtt_options
def official_disable(cfg, db_path: str, code: str, mqtt: dict) -> None:
    """CODE may no longer log in (history stays attributed)."""
    _write(cfg, db_path, mqtt, lambda w: w.roster("official_active", code, active=False))
    click.echo(f"{code} disabled")


@official.command("list")
@common
def official_list(cfg, db_path: str) -> None:
    """List the roster."""
    from kiosk.core.store import Store
    store = Store.reader(db_path)
    try:
        rows = store.officials()
    finally:
        store.close()
    for r in rows:
        click.echo(f"{r['code']:<10}{r['name']:<30}{r['role']:<7}{'PIN' if r['has_pin'] else 'no PIN':<8}"
                   f"{'active' if r['active'] else 'inactive'}")


@cli.command()
@click.argument("counter", type=int)
@click.argument("code")
@click.option("--pin", default=None, help="Check the official's PIN too.")
@common
@mqtt_options
def login(cfg, db_path: str, counter: int, code: str, pin: str | None, mqtt: dict) -> None:
    """Official CODE starts serving at COUNTER: calls, finishes and ratings are theirs."""
    _write(cfg, db_path, mqtt, lambda w: w.login(counter, code, pin))
    click.echo(f"{code} logged in at {cfg.counter(counter).name}")


@cli.command()
@click.argument("counter", type=int)
@common
@mqtt_options
def logout(cfg, db_path: str, counter: int, mqtt: dict) -> None:
    """Nobody serves at COUNTER any more."""
    _write(cfg, db_path, mqtt, lambda w: w.logout(counter))
    click.echo(f"logged out at {cfg.counter(counter).name}")


@cli.command("close-day")
@common
@mqtt_options
def close_day(cfg, db_path: str, mqtt: dict) -> None:
    """Close today's service day: waiting tickets expire, counters close."""
    _write(cfg, db_path, mqtt, lambda w: w.close_day())
    click.echo("service day closed")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the queue summary as JSON.")
@common
def status(cfg, db_path: str, as_json: bool) -> None:
    """The queue summary: waiting per field, what each counter serves."""
    from kiosk.core.domain import Queue
    from kiosk.core.store import Store
    # Read-only: works while the core holds the write lock.
    store = Store.reader(db_path)
    q = Queue(cfg, store.load_state([c.number for c in cfg.counters]))
    summary = q.summary(time.time())
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(f"{cfg.site.centre} — {summary['day'] or 'no service day yet'}"
               + (" (closed)" if summary["day_closed"] else ""))
    click.echo(f"{'field':<26}{'waiting':>8}{'prio':>6}{'issued':>8}{'wait min':>10}  open")
    for f in summary["fields"]:
        click.echo(f"{f['prefix']} {f['name_vi']:<24}{f['waiting']:>8}{f['priority_waiting']:>6}"
                   f"{f['issued']:>8}{f['estimated_wait_min']:>10g}  {'yes' if f['open'] else 'no'}")
    for c in cfg.counters:
        k = q.state.counters[c.number]
        cur = q.state.tickets.get(k.current) if k.current else None
        click.echo(f"{c.name:<10}{k.status:<8}{cur.label if cur else '-':<6}")
    store.close()


@cli.command()
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
        _fail("give either PATH or --dir DIR")
    if not Path(db_path).exists():
        _fail(f"no database at {db_path}")
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


def _printer(cfg, connection: str | None):
    """The configured ticket printer, or None for ``none``."""
    from kiosk.printing.printer import PrinterConfigError, TicketPrinter
    conn = connection or cfg.printer.connection
    if conn == "none":
        logging.getLogger("phucvu.core").warning(
            "no ticket printer ([printer] connection = none): numbers are shown on screen only")
        return None
    try:
        return TicketPrinter(cfg.printer.model_copy(update={"connection": conn}))
    except PrinterConfigError as e:
        _fail(f"[printer] {e}")


@cli.command()
@common
@_mqtt_options("core")
@click.option("--printer", "printer_conn", default=None,
              help="Override [printer] connection (e.g. sim:DIR); 'none' runs without a printer.")
@click.option("--log-level", default="INFO", show_default=True)
def core(cfg, db_path: str, mqtt: dict, printer_conn: str | None, log_level: str) -> None:
    """Run the core service: the only writer, on the bus, printing tickets."""
    from kiosk.core.engine import Engine
    from kiosk.core.service import CoreService
    from kiosk.core.store import Store
    logging.basicConfig(level=log_level.upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port, user, password = _mqtt_settings(cfg, mqtt)
    store = Store(db_path)
    engine = Engine(cfg, store)
    service = CoreService(cfg, engine, host=host, port=port, username=user, password=password,
                          printer=_printer(cfg, printer_conn))
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    service.start()
    try:
        service.run()
    finally:
        service.close()
        store.close()


@cli.command()
@click.option("--dir", "directory", default="demo-data/broker", show_default=True,
              help="Where the generated mosquitto.conf, passwd, acl and secrets go.")
@click.option("--port", type=int, default=None, help="Listener port; default: [mqtt] port.")
@click.option("--kiosks", type=int, default=1, show_default=True, help="Kiosk logins to create.")
@click.option("--displays", type=int, default=1, show_default=True, help="Display logins to create.")
@click.option("--run/--no-run", default=True, show_default=True,
              help="Run mosquitto in the foreground, or only write its files.")
@click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
def broker(directory: str, port: int | None, kiosks: int, displays: int, run: bool,
           config_path: str) -> None:
    """Write a broker config with one login per role and device, and run it."""
    from kiosk.broker import Broker, BrokerError, users_for
    try:
        cfg = site_config.load(config_path)
        b = Broker(directory, cfg, port=port or cfg.mqtt.port,
                   users=users_for(cfg, kiosks=kiosks, displays=displays))
    except (site_config.ConfigError, BrokerError) as e:
        _fail(str(e))
    click.echo(f"{b.dir}: mosquitto.conf, passwd, acl; passwords in {b.secrets_dir}/<user>.password")
    click.echo("logins: " + ", ".join(b.users))
    if not run:
        return
    b.start()
    click.echo(f"mosquitto listening on {b.host}:{b.port}; Ctrl-C stops it")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        b.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


@cli.command()
@click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
def bridge(config_path: str) -> None:
    """Run the bridge between this host's counter boxes and the bus."""
    from firmware_bridge.bridge import main as bridge_main
    sys.exit(bridge_main(config_path))


@cli.command("box-sim")
@click.argument("device_id")
@click.argument("link")
@click.option("--levels", type=int, default=3, show_default=True, help="Rating buttons on the box.")
@click.option("--flash", default=None, help="File keeping unacknowledged presses across restarts.")
def box_sim(device_id: str, link: str, levels: int, flash: str | None) -> None:
    """A simulated counter box on a pty at LINK, driven from this terminal."""
    from firmware_bridge.sim import main as sim_main
    sys.exit(sim_main(device_id, link, levels, flash))


def _ui_options(f: Callable) -> Callable:
    """Options shared by the screens (wall display, kiosk)."""
    @click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
                  show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
    @click.option("--mqtt-host", default=None, help="Broker host; default: [mqtt] host.")
    @click.option("--mqtt-port", type=int, default=None, help="Broker port; default: [mqtt] port.")
    @click.option("--mqtt-password-file", default=None, help="File holding this login's password.")
    @click.option("--windowed", is_flag=True, help="A window instead of fullscreen (demo, desk).")
    @click.option("--screenshots", "screenshot_dir", default=None,
                  help="Render offscreen and save screenshots here (no screen needed).")
    @functools.wraps(f)
    def wrapper(**kwargs: Any) -> Any:
        return f(**kwargs)
    return wrapper


@cli.command()
@_ui_options
@click.option("--mqtt-user", default="display-1", show_default=True, help="This display's login.")
@click.option("--voice/--no-voice", default=True, show_default=True,
              help="Announce calls here, or leave the voice to 'phucvu speaker'.")
@click.option("--voice-dir", default=None, help="Write announcements here as wav files instead of playing.")
def display(config_path: str, mqtt_host: str | None, mqtt_port: int | None,
            mqtt_password_file: str | None, windowed: bool, screenshot_dir: str | None,
            mqtt_user: str, voice: bool, voice_dir: str | None) -> None:
    """The wall display: counters, last calls, waiting, and the voice."""
    from display.app import main as display_main
    display_main(config_path, mqtt_user=mqtt_user, password_file=mqtt_password_file,
                 fullscreen=not windowed, screenshot_dir=screenshot_dir, speak=voice,
                 voice_dir=voice_dir, host=mqtt_host, port=mqtt_port)


@cli.command()
@_ui_options
@click.option("--mqtt-user", default="kiosk-1", show_default=True,
              help="This kiosk's login; also its MQTT client id.")
def kiosk(config_path: str, mqtt_host: str | None, mqtt_port: int | None,
          mqtt_password_file: str | None, windowed: bool, screenshot_dir: str | None,
          mqtt_user: str) -> None:
    """The touch kiosk where citizens take tickets."""
    if mqtt_host or mqtt_port:
        _fail("the kiosk takes the broker from [mqtt] host/port in its config")
    from kiosk.ui.app import main as kiosk_main
    kiosk_main(config_path, mqtt_user=mqtt_user, password_file=mqtt_password_file,
               fullscreen=not windowed, client_id=mqtt_user, screenshot_dir=screenshot_dir)


@cli.command()
@click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
@click.option("--mqtt-host", default=None)
@click.option("--mqtt-port", type=int, default=None)
@click.option("--mqtt-user", default="display-1", show_default=True)
@click.option("--mqtt-password-file", default=None)
@click.option("--voice-dir", default=None, help="Write announcements here as wav files instead of playing.")
def speaker(config_path: str, mqtt_host: str | None, mqtt_port: int | None, mqtt_user: str,
            mqtt_password_file: str | None, voice_dir: str | None) -> None:
    """Announce calls without a screen (a loudspeaker in another room)."""
    from display.speaker import main as speaker_main
    speaker_main(config_path, mqtt_user=mqtt_user, password_file=mqtt_password_file,
                 out_dir=voice_dir, host=mqtt_host, port=mqtt_port)


@cli.command("voice-test")
@click.argument("text")
@click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
@click.option("--out", "out_dir", default=None, help="Write the wav here instead of playing it.")
def voice_test(text: str, config_path: str, out_dir: str | None) -> None:
    """Speak TEXT with the configured voice, e.g. "Mời công dân có số thứ tự B023"."""
    from display.voice import main as voice_main
    click.echo(str(voice_main(text, config_path, out_dir)))


@cli.command()
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First service day, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last service day, YYYY-MM-DD.")
@click.option("--by", default="official", show_default=True,
              type=click.Choice(["official", "counter", "field", "day", "hour"]))
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "xlsx", "png"]))
@click.option("--out", default=None, help="File to write; xlsx/png default to a name in this folder.")
@click.option("--lang", default="vi", show_default=True, type=click.Choice(["vi", "en"]))
@click.option("--province", is_flag=True,
              help="Rank every centre of the province from the aggregate database (docs/multi-site.md).")
@click.option("--province-config", envvar="PHUCVU_PROVINCE_CONFIG", default=DEFAULT_PROVINCE_CONFIG,
              show_default=True, help="With --province: the province config (TOML).")
@click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
@click.option("--db", "db_path", envvar="PHUCVU_DB", default=None,
              help="SQLite file; default: [store] path in the config.")
def report(province: bool, province_config: str, config_path: str, db_path: str | None,
           **kwargs: Any) -> None:
    """Tickets, waits, service times, satisfaction and anomalies for a period (docs/reports.md).

    With --province: the province's centres ranked (docs/multi-site.md)."""
    if province:
        _province_report(province_config, **kwargs)
    else:
        # A provincial server has no site config: it is loaded only here.
        common(_site_report)(config_path=config_path, db_path=db_path, **kwargs)


def _province_report(province_config: str, date_from, date_to, by: str, fmt: str,
                     out: str | None, lang: str) -> None:
    from kiosk.province import config as province_cfg
    from kiosk.province.report import ProvinceReportError, report_main
    if fmt not in ("table", "csv"):
        _fail(f"--province writes table or csv, not {fmt}")
    try:
        cfg = province_cfg.load(province_config)
        result = report_main(cfg.database.conninfo, date_from.date(), date_to.date(), fmt=fmt,
                             lang=lang, out=out)
    except (site_config.ConfigError, ProvinceReportError) as e:
        _fail(str(e))
    click.echo(result, nl=not result.endswith("\n"))


@cli.command()
@click.option("--province-config", envvar="PHUCVU_PROVINCE_CONFIG", default=DEFAULT_PROVINCE_CONFIG,
              show_default=True, help="Province config (TOML); env PHUCVU_PROVINCE_CONFIG.")
@click.option("--log-level", default="INFO", show_default=True)
def aggregate(province_config: str, log_level: str) -> None:
    """Store every centre's events from the provincial broker in PostgreSQL (docs/multi-site.md)."""
    from kiosk.contract import read_password
    from kiosk.province import config as province_cfg
    from kiosk.province.aggregator import main
    try:
        cfg = province_cfg.load(province_config)
        password = read_password(cfg.broker.password_file) if cfg.broker.password_file else ""
    except (site_config.ConfigError, PayloadError) as e:
        _fail(str(e))
    logging.basicConfig(level=log_level.upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main(cfg, password)


@cli.command("replay-events")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First local day to republish, YYYY-MM-DD.")
@click.option("--from-id", type=int, default=1, show_default=True, help="First journal id to republish.")
@common
@mqtt_options
def replay_events(cfg, db_path: str, since, from_id: int, mqtt: dict) -> None:
    """Republish journaled ticket and rating events for the provincial uplink (docs/multi-site.md)."""
    from kiosk.province.uplink import ReplayError, replay
    host, port, user, password = _mqtt_settings(cfg, mqtt)
    try:
        n = replay(cfg, db_path, host=host, port=port, username=user, password=password,
                   since=since.date() if since else None, from_id=from_id)
    except ReplayError as e:
        _fail(str(e))
    click.echo(f"{n} events republished")


def _site_report(cfg, db_path: str, date_from, date_to, by: str, fmt: str, out: str | None,
                 lang: str) -> None:
    from kiosk.reports import ReportError, report_main
    try:
        result = report_main(cfg, db_path, date_from=date_from.date(), date_to=date_to.date(),
                             by=by, fmt=fmt, out=out, lang=lang)
    except ReportError as e:
        _fail(str(e))
    click.echo(result)


@cli.command()
@click.option("--config", "config_path", default=None,
              help="Site config; default: deploy/demo-site.toml.")
@click.option("--out", default="docs/images", show_default=True, help="Where the PNGs go.")
def screenshots(config_path: str | None, out: str) -> None:
    """Render every kiosk screen, the wall display and sample tickets to PNG (docs/images)."""
    import datetime as dt
    from display.screenshots import main as display_shots
    from kiosk.printing.tools import write_samples
    from kiosk.ui.screenshots import main as kiosk_shots
    path = config_path or str(Path(__file__).resolve().parent.parent / "deploy" / "demo-site.toml")
    try:
        cfg = site_config.load(path)
    except site_config.ConfigError as e:
        _fail(str(e))
    made = display_shots(path, out)
    if kiosk_shots(["--config", path, "--out", out]) != 0:
        _fail("kiosk screenshots failed")
    # A fixed moment, so the sample tickets do not change on every run.
    sizes = write_samples(cfg, out, now=dt.datetime(2026, 11, 27, 9, 41, tzinfo=cfg.tz))
    click.echo(f"{len(made)} display, the kiosk's screens and {len(sizes)} tickets written to {out}")


@cli.command()
@click.option("--config", "config_path", envvar="PHUCVU_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, help="Site config (TOML); env PHUCVU_CONFIG.")
@click.option("--db", "db_path", envvar="PHUCVU_DB", default=None,
              help="The core's SQLite file (read only here); default: [store] path.")
@click.option("--mqtt-port", type=int, default=None, help="Broker port; default: [mqtt] port.")
@click.option("--mqtt-password-file", required=True, help="Password file of the 'web' login.")
@click.option("--host", default=None, help="Address to serve on; default: [web] host.")
@click.option("--port", type=int, default=None, help="Port; default: [web] port.")
def web(config_path: str, db_path: str | None, mqtt_port: int | None, mqtt_password_file: str,
        host: str | None, port: int | None) -> None:
    """The staff console, the head's dashboard and admin pages, in the browser."""
    from kiosk.web.app import main as web_main
    try:
        cfg = site_config.load(config_path)
    except site_config.ConfigError as e:
        _fail(str(e))
    sys.exit(web_main(config_path, db_path=db_path or cfg.store.path,
                      mqtt_password_file=mqtt_password_file, host=host, port=port,
                      mqtt_port=mqtt_port))


@cli.command("print-test")
@click.option("--reprint", is_flag=True, help="Print the sample as a reprint (IN LẠI).")
@click.option("--printer", "printer_conn", default=None, help="Override [printer] connection.")
@common
def print_test(cfg, db_path: str, reprint: bool, printer_conn: str | None) -> None:
    """Print a sample ticket and say what the printer answered."""
    from kiosk.printing.tools import sample_view
    printer = _printer(cfg, printer_conn)
    if printer is None:
        _fail("no printer: [printer] connection is none")
    try:
        before = printer.status()
        click.echo(f"printer: {before.state} ({before.detail})")
        result = printer.print_ticket(sample_view(cfg, reprint=reprint))
    finally:
        printer.close()
    click.echo(f"print-test: {'printed' if result.printed else 'NOT printed'}: {result.state} "
               f"({result.detail}); {result.bytes_sent} bytes")
    if not result.printed:
        sys.exit(1)


@cli.command()
@click.argument("ticket", required=False)
@click.option("--list", "as_list", is_flag=True, help="List today's tickets waiting for a reprint.")
@click.option("--force", is_flag=True, help="Reprint a ticket that did print (lost or torn).")
@common
@mqtt_options
def reprint(cfg, db_path: str, ticket: str | None, as_list: bool, force: bool, mqtt: dict) -> None:
    """Reprint TICKET (e.g. A013) through the running core, or list the reprint queue."""
    from kiosk.core.store import Store
    if as_list or not ticket:
        store = Store.reader(db_path)
        try:
            day = store.conn.execute("SELECT MAX(day) FROM days").fetchone()[0]
            rows = store.reprint_queue(day) if day else []
        finally:
            store.close()
        if not rows:
            click.echo("reprint queue is empty")
        for r in rows:
            click.echo(f"{r['label']}  {r['ticket_state']:<12}{r['print_state']:<16}{r['detail']}")
        return
    remote = _Remote(cfg, *_mqtt_settings(cfg, mqtt))
    try:
        reply = _check(remote.core({"action": "reprint", "ticket": ticket, "force": force}))
    finally:
        remote.close()
    p = reply.get("print", {})
    click.echo(f"{reply['ticket']['label']}: reprint {p.get('status')}"
               + (f" ({p.get('reason')}: {p.get('detail')})" if p.get("status") != "printed" else ""))
    if p.get("status") != "printed":
        sys.exit(1)


@cli.command()
@click.option("--config", "config_path", default=None,
              help="Site config; default: deploy/demo-site.toml.")
@click.option("--data", default="demo-data", show_default=True,
              help="Folder for the demo's database, broker and tickets.")
@click.option("--seconds", type=float, default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--traffic/--no-traffic", default=True, show_default=True,
              help="Simulate citizens arriving and counters calling.")
def demo(config_path: str | None, data: str, seconds: float | None, traffic: bool) -> None:
    """Start the appliance on this machine with simulated hardware."""
    from kiosk import demo as demo_mod
    path = config_path or str(Path(__file__).resolve().parent.parent / "deploy" / "demo-site.toml")
    try:
        cfg = site_config.load(path)
    except site_config.ConfigError as e:
        _fail(str(e))
    demo_mod.run(cfg, path, Path(data), seconds=seconds, traffic=traffic)


def main() -> None:
    try:
        cli(prog_name="phucvu")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
