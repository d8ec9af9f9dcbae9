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

from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402

from kiosk import config as site_config  # noqa: E402
from kiosk import contract  # noqa: E402
from kiosk.ui.admin import PIN_ENV, load_pin_hash  # noqa: E402
from kiosk.ui.root import KioskRoot  # noqa: E402

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


def main(config_path: str | Path, *, mqtt_user: str | None, password_file: str | Path | None,
         fullscreen: bool, client_id: str = "kiosk-1",
         screenshot_dir: str | Path | None = None) -> None:
    """Run the kiosk until the admin PIN closes it.

    ``screenshot_dir`` (a machine with no screen: the demo on a server)
    saves ``kiosk-live.png`` every few seconds and ``kiosk-<screen>.png``
    each time the screen changes, so a person can see what a citizen sees.
    """
    from kiosk.ui.bus import KioskBus

    try:
        cfg = site_config.load(config_path)
    except site_config.ConfigError as e:
        raise SystemExit(str(e))
    pin_hash = load_pin_hash()
    if pin_hash is None:
        log.warning("no admin PIN hash (%s): the kiosk can only be closed from outside", PIN_ENV)
    try:
        password = contract.read_password(password_file) if password_file else None
    except contract.PayloadError as e:
        raise SystemExit(f"kiosk: {e}") from None

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
            self.bus = KioskBus(cfg, client_id=client_id, username=mqtt_user, password=password,
                                on_message=lambda kind, p: self.root_widget.deliver(kind, p),
                                on_link=lambda up: self.root_widget.set_link(up))
            self.root_widget = KioskRoot(cfg, send=self.bus.request, client_id=client_id,
                                         pin_hash=pin_hash, on_exit=self.stop)
            self.bus.start()
            Clock.schedule_interval(self._check_stop, 0.2)
            if screenshot_dir is not None:
                self.shots = Path(screenshot_dir)
                self.shots.mkdir(parents=True, exist_ok=True)
                Clock.schedule_interval(lambda dt: self._shot("live"), 3.0)
                # After the screen's own transition has settled.
                self.root_widget.ids.sm.bind(current=lambda sm, name: Clock.schedule_once(
                    lambda dt: self._shot(name), 0.8))
            return self.root_widget

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
            self.bus.stop()
            self.root_widget.guide.close()

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
