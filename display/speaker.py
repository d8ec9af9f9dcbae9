"""Speaker-only mode: the announcer on the bus, without a screen.

For a hall whose loudspeaker hangs far from the TV, or a centre with no TV
yet: ``main(config_path, ...)`` subscribes like the display and announces
every call and every voice test (``display/voice``), and takes a saved change
of ``[announcer]`` from ``config/site``; it needs no GPU, no Kivy and no window.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from display import announcer as ann
from display.bus import DisplayLink
from kiosk.config import ConfigError, Live

log = logging.getLogger("phucvu.speaker")


def run(cfg: Any, *, mqtt_user: str, password: str, out_dir: str | None = None, host: str | None = None,
        port: int | None = None, stop: threading.Event | None = None) -> ann.Announcer:
    """Announce until ``stop`` is set; returns the announcer (tests read ``played``)."""
    stop = stop or threading.Event()
    voice = ann.from_config(cfg, output_dir=out_dir)
    live = Live(cfg)

    def handle(kind: str, payload: dict[str, Any]) -> None:
        if kind == "call":
            voice.submit(payload)
        elif kind == "voice":
            voice.submit_text(payload)
        elif kind == "config":
            retune(live, voice, payload)

    link = DisplayLink(cfg, user=mqtt_user, password=password, handler=handle, host=host, port=port).start()
    # Under systemd (Type=notify, WatchdogSec=): ready once subscribed, then
    # pings from this loop; a no-op elsewhere (kiosk/sdnotify.py).
    from kiosk.sdnotify import Notifier
    notify = Notifier()
    notify.ready("announcing calls")
    try:
        while not stop.wait(notify.wake_every(5.0)):
            notify.watchdog()
        notify.stopping()
    finally:
        link.stop()
        voice.wait_idle(60)       # the call being spoken is finished, never cut
        voice.close()
    return voice


def retune(live: Live, voice: ann.Announcer, payload: dict[str, Any]) -> None:
    """config/site: a saved change of ``[announcer]`` for the next call (paho's
    thread; ``retune`` only swaps settings under the announcer's lock)."""
    old = live.config
    try:
        new = live.offer(payload)
        if new is not None and new.announcer != old.announcer:
            voice.retune(new)
    except (ConfigError, ann.AnnouncerError) as e:
        log.error("config/site version %s not applied, the speaker keeps its voice: %s",
                  payload.get("version"), str(e).replace("\n", "; "))
        return
    if new is not None:
        log.info("config/site version %s applied", live.version)


def main(config_path: str, *, mqtt_user: str = "display-1", password_file: str | None = None,
         out_dir: str | None = None, host: str | None = None, port: int | None = None) -> None:
    """``phucvu speaker``: blocks until SIGTERM or Ctrl-C."""
    from kiosk import config, contract

    cfg = config.load(config_path)
    try:
        password = contract.read_password(password_file or cfg.mqtt.password_file)
    except contract.PayloadError as e:
        raise SystemExit(f"speaker: {e}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        run(cfg, mqtt_user=mqtt_user, password=password, out_dir=out_dir, host=host, port=port, stop=stop)
    except ann.AnnouncerError as e:
        raise SystemExit(f"speaker: {e}") from None
