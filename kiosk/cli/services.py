"""Starters of the appliance's long-running processes, and of the demo that runs them all.

Each command reads its options and config, wires the part's objects and
hands over to the part's own main loop (systemd units run these).
"""
from __future__ import annotations

import functools
import gc
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click

from kiosk.cli.options import (DEFAULT_PROVINCE_CONFIG, DEMO_SITE, common, config_option,
                               core_mqtt_options, demo_config_option, fail, load_site,
                               log_to_stdout, mqtt_settings, open_printer)
from kiosk.contract_link import PayloadError


@click.command()
@common
@core_mqtt_options
@click.option("--printer", "printer_conn", default=None,
              help="Override [printer] connection (e.g. sim:DIR); 'none' runs without a printer.")
@click.option("--log-level", default="INFO", show_default=True)
def core(cfg, db_path: str, mqtt: dict, printer_conn: str | None, log_level: str) -> None:
    """Run the core service: the only writer, on the bus, printing tickets.

    It owns the site file too: admins' changes are written there, and
    SIGHUP reads it again (docs/config.md, "Changing a running centre")."""
    from kiosk.core.engine import Engine
    from kiosk.core.service import CoreService
    from kiosk.core.store import Store
    from kiosk.phone import token
    log_to_stdout(log_level)
    host, port, user, password = mqtt_settings(cfg, mqtt)
    phone_secret = None
    if cfg.phone is not None:
        # Before the database: a core that cannot key tokens must not
        # print QRs nobody can open, nor take ratings it cannot check.
        try:
            phone_secret = token.load_or_create(cfg.phone.secret_file)
        except token.SecretError as e:
            fail(f"[phone] secret_file: {e}")
    store = Store(db_path)
    engine = Engine(cfg, store)
    service = CoreService(cfg, engine, host=host, port=port, username=user, password=password,
                          printer=open_printer(cfg, printer_conn),
                          config_path=click.get_current_context().params["config_path"],
                          phone_secret=phone_secret)
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    signal.signal(signal.SIGHUP, lambda *_: service.reread())
    service.start()
    # What start-up loaded (modules, the config, the day in memory) lives as
    # long as the process: frozen, a full collection walks only what came
    # since.  Under bench/bus.py's 2,400 tickets one took 29-35 ms, and the
    # command that met it waited that long; frozen, 3-14 ms.
    gc.collect()
    gc.freeze()
    try:
        service.run()
    finally:
        service.close()
        store.close()


@click.command()
@click.option("--dir", "directory", default="demo-data/broker", show_default=True,
              help="Where the generated mosquitto.conf, passwd, acl and secrets go.")
@click.option("--port", type=int, default=None, help="Listener port; default: [mqtt] port.")
@click.option("--kiosks", type=int, default=1, show_default=True, help="Kiosk logins to create.")
@click.option("--displays", type=int, default=1, show_default=True, help="Display logins to create.")
@click.option("--run/--no-run", default=True, show_default=True,
              help="Run mosquitto in the foreground, or only write its files.")
@config_option
def broker(directory: str, port: int | None, kiosks: int, displays: int, run: bool,
           config_path: str) -> None:
    """Write a broker config with one login per role and device, and run it."""
    from kiosk.broker import Broker, BrokerError, users_for
    cfg = load_site(config_path)
    log_to_stdout("warning")            # a password file made again says so (the journal keeps it)
    try:
        b = Broker(directory, cfg, port=port or cfg.mqtt.port,
                   users=users_for(cfg, kiosks=kiosks, displays=displays))
    except BrokerError as e:
        fail(str(e))
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


@click.command()
@config_option
def bridge(config_path: str) -> None:
    """Run the bridge between this host's counter boxes and the bus."""
    from firmware_bridge.bridge import main as bridge_main
    sys.exit(bridge_main(config_path))


@click.command("box-sim")
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
    @config_option
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


@click.command()
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


@click.command()
@_ui_options
@click.option("--mqtt-user", default="kiosk-1", show_default=True,
              help="This kiosk's login; also its MQTT client id.")
@click.option("--printer", default=None,
              help="First-run wizard only: a printer connection to offer besides those found "
                   "(e.g. serial:/dev/ttyUSB0@19200, network:192.168.1.50).")
def kiosk(config_path: str, mqtt_host: str | None, mqtt_port: int | None,
          mqtt_password_file: str | None, windowed: bool, screenshot_dir: str | None,
          mqtt_user: str, printer: str | None) -> None:
    """The touch kiosk where citizens take tickets.

    With no file at --config, the first-run wizard sets the centre up and
    writes it (docs/admin.md, "First run on the kiosk"), then the kiosk serves without a restart."""
    if mqtt_host or mqtt_port:
        fail("the kiosk takes the broker from [mqtt] host/port in its config")
    from kiosk.ui.app import main as kiosk_main
    kiosk_main(config_path, mqtt_user=mqtt_user, password_file=mqtt_password_file,
               fullscreen=not windowed, client_id=mqtt_user, screenshot_dir=screenshot_dir,
               printer=printer)


@click.command()
@config_option
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


@click.command()
@config_option
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
    cfg = load_site(config_path)
    sys.exit(web_main(config_path, db_path=db_path or cfg.store.path,
                      mqtt_password_file=mqtt_password_file, host=host, port=port,
                      mqtt_port=mqtt_port))


@click.command()
@config_option
@click.option("--mqtt-host", default=None, help="Broker host; default: [mqtt] host.")
@click.option("--mqtt-port", type=int, default=None, help="Broker port; default: [mqtt] port.")
@click.option("--mqtt-password-file", required=True, help="Password file of the 'phone' login.")
@click.option("--log-level", default="INFO", show_default=True)
def phone(config_path: str, mqtt_host: str | None, mqtt_port: int | None, mqtt_password_file: str,
          log_level: str) -> None:
    """The citizen's phone page (the ticket's QR) on [phone] host/port (docs/phone.md)."""
    from kiosk.phone.app import StartError, prepare, serve
    cfg = load_site(config_path)
    try:
        password, secret = prepare(cfg, mqtt_password_file)
    except StartError as e:
        fail(str(e))
    log_to_stdout(log_level)
    serve(cfg, password, secret, mqtt_host=mqtt_host, mqtt_port=mqtt_port)


@click.command()
@click.option("--province-config", envvar="PHUCVU_PROVINCE_CONFIG", default=DEFAULT_PROVINCE_CONFIG,
              show_default=True, help="Province config (TOML); env PHUCVU_PROVINCE_CONFIG.")
@click.option("--log-level", default="INFO", show_default=True)
def aggregate(province_config: str, log_level: str) -> None:
    """Store every centre's events from the provincial broker in PostgreSQL (docs/multi-site.md)."""
    from kiosk import config as site_config
    from kiosk.contract import read_password
    from kiosk.province import config as province_cfg
    from kiosk.province.aggregator import main
    try:
        cfg = province_cfg.load(province_config)
        password = read_password(cfg.broker.password_file) if cfg.broker.password_file else ""
    except (site_config.ConfigError, PayloadError) as e:
        fail(str(e))
    log_to_stdout(log_level)
    main(cfg, password)


@click.command()
@demo_config_option
@click.option("--data", default="demo-data", show_default=True,
              help="Folder for the demo's database, broker and tickets.")
@click.option("--seconds", type=float, default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--traffic/--no-traffic", default=True, show_default=True,
              help="Simulate citizens arriving and counters calling.")
def demo(config_path: str | None, data: str, seconds: float | None, traffic: bool) -> None:
    """Start the appliance on this machine with simulated hardware."""
    from kiosk import demo as demo_mod
    path = config_path or str(DEMO_SITE)
    try:
        demo_mod.run(load_site(path), path, Path(data), seconds=seconds, traffic=traffic)
    except demo_mod.DemoRunning as e:
        fail(str(e))


COMMANDS = [core, broker, bridge, box_sim, display, kiosk, speaker, web, phone, aggregate, demo]
