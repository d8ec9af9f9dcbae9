"""The kiosk application: the window's rules, the Kivy App and ``main()``.

What the kiosk shows and does is the root widget's (root.py); this module
starts it: validated config, admin PIN hash, MQTT bus, signals, window.

Entry point (wired into ``phucvu kiosk`` by the CLI):
``main(config_path, *, mqtt_user, password_file, fullscreen, client_id="kiosk-1")``.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable

# Kivy's SDL2 image provider reads and writes what the kiosk needs (PNG
# screenshots); without this Kivy also loads Pillow as a provider, 2 MB the
# kiosk never uses.  Read when kivy is first imported, so set before it.
os.environ.setdefault("KIVY_IMAGE", "sdl2")


def steady_heap() -> None:
    """Pin glibc's mmap threshold at its default 128 KiB.

    glibc raises the threshold each time a large block is freed, so later
    large blocks (Kivy's textures, text layouts) stay on the heap, which
    never shrinks: the same kiosk held 67 to 94 MB of C heap from one run to
    the next (docs/performance.md).  Pinned, large blocks go back to the
    system when freed.  Not glibc (musl): nothing to do."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)        # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


steady_heap()

from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402

from kiosk import config as site_config  # noqa: E402
from kiosk import contract  # noqa: E402
from kiosk.ui.admin import PIN_ENV, load_pin_hash  # noqa: E402
from kiosk.ui.root import KioskRoot  # noqa: E402
from kiosk.ui.settings import attach_settings  # noqa: E402

log = logging.getLogger("phucvu.kiosk")


# ----------------------------------------------------------------- window rules
def guard_window(window) -> Callable[[], None]:
    """No way out to the desktop: Escape and the close button do nothing.

    Returns a function that lifts the guard (used by tests sharing a window)."""
    def on_key(win, key, *args):
        if key == 27:           # Escape (and Android back)
            log.info("Escape ignored: the kiosk is closed only by the admin PIN")
            return True
        return False

    def on_close(*args, **kw):
        log.info("window close ignored: the kiosk is closed only by the admin PIN")
        return True

    window.bind(on_keyboard=on_key, on_request_close=on_close)
    return lambda: window.unbind(on_keyboard=on_key, on_request_close=on_close)


class KioskShell:
    """What the window shows over the kiosk's life: the first-run wizard when
    there is no site config, then a starting screen until the broker has
    made this kiosk's password and the core has answered, then the citizen
    screens (root.py) — all in one process, no restart.

    ``widget`` is what to put in the window.  ``printer``, ``voice_dir`` and
    ``local`` go to the wizard (kiosk/ui/wizard.py).
    """

    def __init__(self, config_path: str | Path, *, mqtt_user: str | None,
                 password_file: str | Path | None, client_id: str = "kiosk-1",
                 on_exit: Callable[[], None] = lambda: None, printer: str | None = None,
                 voice_dir: str | Path | None = None, local: dict | None = None):
        from kivy.uix.boxlayout import BoxLayout
        self.config_path = Path(config_path)
        self.mqtt_user = mqtt_user
        self.password_file = Path(password_file) if password_file else None
        self.client_id = client_id
        self.on_exit = on_exit
        self.widget = BoxLayout()
        self.bus: Any = None
        self.root_widget: KioskRoot | None = None
        self.wizard: Any = None
        self._waiting: Any = None
        if self.config_path.exists():
            try:
                cfg = site_config.load(self.config_path)
            except site_config.ConfigError as e:
                raise SystemExit(str(e))
            self.serve(cfg, self._password())
            self.widget.add_widget(self.root_widget)
        else:
            from kiosk.ui.wizard import Wizard
            log.warning("no site config at %s: the first-run wizard starts", self.config_path)
            self.wizard = Wizard(self.config_path, on_saved=self._saved, printer=printer,
                                 voice_dir=voice_dir, local=local)
            self.widget.add_widget(self.wizard.root)

    def _password(self) -> str | None:
        try:
            return contract.read_password(self.password_file) if self.password_file else None
        except contract.PayloadError as e:
            raise SystemExit(f"kiosk: {e}") from None

    def serve(self, cfg: site_config.SiteConfig, password: str | None) -> None:
        """Start the bus and build the citizen screens (not yet shown)."""
        from kiosk.ui.bus import KioskBus
        pin_hash = load_pin_hash(beside=self.config_path)
        if pin_hash is None:
            log.warning("no admin PIN hash (%s): the kiosk can only be closed from outside", PIN_ENV)
        self.bus = KioskBus(cfg, client_id=self.client_id, username=self.mqtt_user, password=password,
                            on_message=lambda kind, p: self.root_widget.deliver(kind, p),
                            on_link=lambda up: self.root_widget.set_link(up))
        self.root_widget = KioskRoot(cfg, send=self.bus.request, client_id=self.client_id,
                                     pin_hash=pin_hash, on_exit=self.on_exit)
        self.settings = attach_settings(self.root_widget, self.config_path, on_exit=self.on_exit)
        self.bus.start()

    # -- after the wizard ------------------------------------------------------------
    def _saved(self, cfg: site_config.SiteConfig) -> None:
        self.cfg = cfg
        self._waiting = Clock.schedule_interval(self._wait, 0.25)

    def _wait(self, dt: float) -> None:
        if self.root_widget is None:
            # The broker's ExecStartPre writes the password once the site file exists.
            if self.password_file is not None and not self.password_file.exists():
                return
            self.serve(self.cfg, self._password())
            self.wizard.waiting_for("wait_core")
            log.info("kiosk: password found; connecting and waiting for the core")
            return
        if self.root_widget.summary is None:
            return          # the core's retained queue summary says it is up
        self._waiting.cancel()
        self.wizard.close()
        self.widget.clear_widgets()
        self.widget.add_widget(self.root_widget)
        log.warning("kiosk: the core answered; serving citizens")

    def stop(self) -> None:
        if self.bus is not None:
            self.bus.stop()
        if self.root_widget is not None:
            self.root_widget.guide.close()
        if self.wizard is not None:
            self.wizard.close()


def main(config_path: str | Path, *, mqtt_user: str | None, password_file: str | Path | None,
         fullscreen: bool, client_id: str = "kiosk-1",
         screenshot_dir: str | Path | None = None, printer: str | None = None) -> None:
    """Run the kiosk until the admin PIN closes it.

    ``screenshot_dir`` (a machine with no screen: the demo on a server)
    saves ``kiosk-live.png`` every few seconds and ``kiosk-<screen>.png``
    each time the screen changes, so a person can see what a citizen sees.
    With no file at ``config_path`` the first-run wizard starts; ``printer``
    is offered there besides the printers found.
    """
    # systemd stops the kiosk with SIGTERM.  Installed before SDL starts so
    # SDL keeps it, instead of turning the signal into a window-close request
    # that the kiosk (rightly) ignores.
    stop_requested = threading.Event()

    def on_signal(signum, frame):
        log.info("signal %d: the kiosk closes", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Config.set("kivy", "exit_on_escape", "0")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "show_cursor", "0")
    else:
        Config.set("graphics", "width", "1280")
        Config.set("graphics", "height", "800")
    from kivy.app import App
    from kivy.core.window import Window

    class KioskApp(App):
        title = "phucvu kiosk"

        def build(self):
            guard_window(Window)
            self.shell = KioskShell(config_path, mqtt_user=mqtt_user, password_file=password_file,
                                    client_id=client_id, on_exit=self.stop, printer=printer)
            Clock.schedule_interval(self._check_stop, 0.2)
            if screenshot_dir is not None:
                self.shots = Path(screenshot_dir)
                self.shots.mkdir(parents=True, exist_ok=True)
                Clock.schedule_interval(lambda dt: self._shot("live"), 3.0)
                if self.shell.root_widget is not None:
                    # After the screen's own transition has settled.
                    self.shell.root_widget.ids.sm.bind(current=lambda sm, name: Clock.schedule_once(
                        lambda dt: self._shot(name), 0.8))
            return self.shell.widget

        def _shot(self, name: str) -> None:
            made = Window.screenshot(name=str(self.shots / f"kiosk-{name}.png"))
            if made:
                os.replace(made, self.shots / f"kiosk-{name}.png")
            else:
                log.warning("screenshot kiosk-%s not saved", name)

        def _check_stop(self, dt):
            # (Returning False would unschedule the check, so return nothing.)
            if stop_requested.is_set():
                self.stop()

        def on_stop(self):
            self.shell.stop()

    app = KioskApp()
    _feed_systemd(app)
    app.run()


def _feed_systemd(app: Any) -> None:
    """Type=notify and WatchdogSec= under systemd (kiosk/sdnotify.py); a no-op elsewhere.

    The pings run on Kivy's clock, on the UI thread: a frozen kiosk stops
    them and systemd restarts it.
    """
    from kiosk.sdnotify import Notifier
    notify = Notifier()
    if not notify.enabled:
        return

    def ping(_dt: float) -> None:
        notify.watchdog()

    app.bind(on_start=lambda *_: notify.ready("kiosk showing"), on_stop=lambda *_: notify.stopping())
    Clock.schedule_interval(ping, notify.wake_every(5.0))
