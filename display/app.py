"""The wall display's entry point: the window settings and ``phucvu display``.

The app itself is in ``wall.py`` and its widgets in ``widgets.py``; both
import Kivy's clock and window, so ``build_app`` imports them only after
``configure_window`` has set what Kivy reads at that first import.
Layout is in ``kv/display.kv``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The phucvu CLI owns argv; Kivy must not parse it.  MIXED keeps Kivy from
# swallowing stderr and taking over Python logging, so start-up errors and
# our log lines reach the terminal or the journal as written.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
# The wall draws text and rectangles, no pictures: SDL2's image loader (for
# the window icon) is enough.  Kivy's default list also loads Pillow as an
# image provider, 2 MB of memory the display never uses (docs/performance.md).
os.environ.setdefault("KIVY_IMAGE", "sdl2")

from kivy.config import Config  # noqa: E402

def configure_window(width: int, height: int, fullscreen: bool) -> None:
    """Must run before the first import of kivy.clock and kivy.core.window."""
    # The default clock sleeps out the rest of each 1/60 s frame even when
    # the MQTT thread has just pulled a trigger; the interruptible clock
    # wakes for it, so a call starts drawing at once.
    Config.set("kivy", "kivy_clock", "interrupt")
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "resizable", "1")
    # Kivy's default 2x MSAA doubles what a software renderer fills each
    # frame and only smooths the rounded corners; all text is axis-aligned.
    Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0" if fullscreen else "1")
    # The TV has no mouse; a red dot where a finger never was helps nobody.
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")


def build_app(cfg: Any, *, width: int | None = None, height: int | None = None,
              fullscreen: bool = False, **kw: Any):
    configure_window(width or cfg.display.width, height or cfg.display.height, fullscreen)
    from display.wall import DisplayApp
    return DisplayApp(cfg, **kw)


def main(config_path: str, *, mqtt_user: str = "display-1", password_file: str | None = None,
         fullscreen: bool = True, screenshot_dir: str | None = None, speak: bool = True,
         voice_dir: str | None = None, voice_fallback_dir: str | None = None,
         host: str | None = None, port: int | None = None) -> None:
    """``phucvu display``: the wall display with its voice.

    ``speak=False`` leaves the voice to a separate speaker-only process;
    ``voice_dir`` writes announcements there as wav files instead of playing;
    ``voice_fallback_dir`` does so only when there is no sound device (demo).
    """
    # The config validated by the one schema in a child process, and no
    # pydantic here: 20 MB of the display's memory (kiosk/config/checked.py).
    from kiosk.config import ConfigError, checked
    from kiosk.contract_link import PayloadError, read_password
    from display import announcer as ann
    from display.bus import DisplayLink

    try:
        cfg = checked.load(config_path)
        voice = ann.from_config(cfg, output_dir=voice_dir, fallback_dir=voice_fallback_dir) if speak else None
    except (ConfigError, ann.AnnouncerError) as e:
        raise SystemExit(f"display: {e}") from None
    try:
        password = read_password(password_file or cfg.mqtt.password_file)
    except PayloadError as e:
        raise SystemExit(f"display: {e}") from None

    def connect(app):
        return DisplayLink(cfg, user=mqtt_user, password=password, handler=app.feed,
                           host=host, port=port).start()

    app = build_app(cfg, fullscreen=fullscreen, connect=connect, announcer=voice,
                    screenshot_dir=screenshot_dir)
    _feed_systemd(app, "showing the wall display")
    app.run()


def _feed_systemd(app: Any, status: str) -> None:
    """Type=notify and WatchdogSec= under systemd (kiosk/sdnotify.py); a no-op elsewhere.

    The pings run on Kivy's clock, on the UI thread: a frozen screen stops
    them and systemd restarts the display.
    """
    from kivy.clock import Clock

    from kiosk.sdnotify import Notifier
    notify = Notifier()
    if not notify.enabled:
        return

    def ping(_dt: float) -> None:
        notify.watchdog()

    app.bind(on_start=lambda *_: notify.ready(status), on_stop=lambda *_: notify.stopping())
    Clock.schedule_interval(ping, notify.wake_every(5.0))
