"""The options the commands share, and what they turn into.

``--config``/``--db`` become a loaded site config and a database path
(``common``), ``--mqtt-*`` a login on the broker (``mqtt_settings``),
``--printer`` a printer (``open_printer``).  Every error on the way is one
line and a non-zero exit (``fail``), never a traceback.
"""
from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import click

from kiosk import config as site_config
# Not kiosk.contract, and the config's models only for type checks: every
# command imports this room, and ``phucvu display`` runs without pydantic
# (kiosk/config/checked.py, docs/performance.md).
from kiosk.contract_link import PayloadError

if TYPE_CHECKING:
    from kiosk.config import SiteConfig

DEFAULT_CONFIG = "/etc/phucvu/site.toml"
DEFAULT_PROVINCE_CONFIG = "/etc/phucvu/province.toml"
# Screenshots and the demo run from a checkout, on the demo site by default.
DEMO_SITE = Path(__file__).resolve().parents[2] / "deploy" / "demo-site.toml"

# The login the command line uses when it goes through the running core: its
# own (docs/mqtt.md, "Logins and ACLs"), never the core's.  The broker takes
# the login as the client id, so a command line that logged in as ``core``
# would cut the running core off the bus.
CLI_LOGIN = "cli"


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


config_option = click.option("--config", "config_path", envvar="PHUCVU_CONFIG",
                             default=DEFAULT_CONFIG, show_default=True,
                             help="Site config (TOML); env PHUCVU_CONFIG.")
demo_config_option = click.option("--config", "config_path", default=None,
                                  help="Site config; default: deploy/demo-site.toml.")


def load_site(path: str | Path) -> SiteConfig:
    """The validated site config, or a one-line error naming the file and key."""
    try:
        return site_config.load(path)
    except site_config.ConfigError as e:
        fail(str(e))


def common(f: Callable) -> Callable:
    """--config and --db, shared by every command that touches a site."""
    @config_option
    @click.option("--db", "db_path", envvar="PHUCVU_DB", default=None,
                  help="SQLite file; default: [store] path in the config.")
    @functools.wraps(f)
    def wrapper(config_path: str, db_path: str | None, **kwargs: Any) -> Any:
        from kiosk.core.domain import DomainError
        from kiosk.core.read import ReadError
        cfg = load_site(config_path)
        try:
            return f(cfg, db_path or cfg.store.path, **kwargs)
        except DomainError as e:
            fail(e.message)
        except (ReadError, PayloadError, OSError) as e:
            fail(str(e))
        except Exception as e:
            # Only a command that opened the store can have raised its error;
            # importing it here would cost every read-only command the
            # store's libraries (sqlite_utils, numpy): a sixth of a second.
            store = sys.modules.get("kiosk.core.store")
            if store is not None and isinstance(e, store.StoreError):
                fail(str(e))
            raise
    return wrapper


def read_db(db_path: str):
    """The database for a command that only reads it, every page checked first.

    A one-off command can afford SQLite's ``quick_check`` and names a
    damaged file even where its own query would not look.
    """
    from kiosk.core.read import Reader
    return Reader(db_path, verify=True)


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
core_mqtt_options = _mqtt_options("core")


def mqtt_settings(cfg: SiteConfig, overrides: dict[str, Any] | None) -> tuple[str, int, str, str]:
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
        fail(f"no MQTT password for the {user!r} login: {hint}")
    try:
        return host, port, user, read_password(pw_file)
    except PayloadError as e:
        raise click.ClickException(str(e)) from None


def open_printer(cfg: SiteConfig, connection: str | None):
    """The configured ticket printer (``connection`` overrides it), or None for ``none``."""
    from kiosk.printing.printer import PrinterConfigError, TicketPrinter
    conn = connection or cfg.printer.connection
    if conn == "none":
        logging.getLogger("phucvu.core").warning(
            "no ticket printer ([printer] connection = none): numbers are shown on screen only")
        return None
    try:
        return TicketPrinter(cfg.printer.model_copy(update={"connection": conn}))
    except PrinterConfigError as e:
        fail(f"[printer] {e}")


def log_to_stdout(level: str) -> None:
    """A long-running process logs to stdout, which systemd's journal keeps."""
    logging.basicConfig(level=level.upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
