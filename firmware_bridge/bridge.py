"""The bridge service: counter boxes on serial ports <-> the core on MQTT.

One ``CounterBox`` per configured device, each with its own port
(``port.BoxPort``) and its own MQTT login (``counter-<n>``, whose ACL lets it
speak for that counter only; ``bus.CounterBus``).  One thread runs them all
(``hub.Hub``): it polls every port and socket and hands each box what is
ready.  What crosses between the two sides is decided elsewhere:
``delivery`` carries each press to the core and ACKs it to the box only
once the core has committed it, ``box_display`` turns the core's counter
state into what the box shows.
"""
from __future__ import annotations

import logging
import select
import signal
import threading
import time
from typing import Any

from kiosk import contract
from kiosk.config import ConfigError, DeviceSection, Live, SiteConfig
from kiosk.config import load as load_config

from firmware_bridge.box_display import display_state
from firmware_bridge.bus import CounterBus
from firmware_bridge.clocks import BoxClocks, monotonic_ms
from firmware_bridge.delivery import Delivery
from firmware_bridge.hub import Hub
from firmware_bridge.ledger import Ledger
from firmware_bridge.link import LinkDown
from firmware_bridge.payloads import Payloads
from firmware_bridge.port import BoxPort
from firmware_bridge.protocol import messages as M

log = logging.getLogger("phucvu.bridge")


class CounterBox:
    """One counter's box, bridged: everything between its port and its MQTT
    login.  The hub's thread calls ``ready``, ``after_io`` and ``tick``."""

    def __init__(self, config: SiteConfig, dev: DeviceSection, ledger: Ledger, password: str):
        self.dev = dev
        self.counter = dev.counter
        self.user = dev.username or f"counter-{dev.counter}"
        self.options = config.bridge
        # The centre's sections follow the core's config/site (a saved change
        # is taken without a restart); bridge.* and mqtt.* stay this file's.
        self.live = Live(config)
        self.n_levels = len(config.rating.levels)
        self.stopping = threading.Event()
        self._hub: Hub | None = None
        self.port = BoxPort(dev, self.options)
        self.bus = CounterBus(config, self.counter, self.user, password, stopping=self.stopping)
        self.clocks = BoxClocks()
        self.payloads = Payloads(self.bus.topics, self.counter, self.user, self.n_levels, self.clocks)
        self.delivery = Delivery(self.counter, ledger, self.payloads, self.bus, self.options.republish_s,
                                 to_box=self._to_box)
        # the core's retained counter state, as the box shows it
        self.state: dict[str, Any] | None = None
        self.state_version = 0
        self.last_state_sent = 0.0
        self.next_open = 0.0

    @property
    def stats(self) -> dict[str, int]:
        """What each part counted, in one view."""
        return {**self.delivery.stats, **self.port.stats, "pubacked": self.bus.pubacked,
                "payload_bugs": self.payloads.bugs}

    # ------------------------------------------------------------ alone
    def start(self) -> "CounterBox":
        """This box alone on a hub of its own (tests; the service runs one hub for all)."""
        self._hub = Hub([self]).start()
        return self

    def stop(self) -> None:
        if self._hub is not None:
            self._hub.stop()

    def close(self) -> None:
        """The port closed and the broker told (the hub's thread has stopped)."""
        self.port.close()
        self.bus.stop()

    # ------------------------------------------------------------ the hub's calls
    def ready(self, what: str, events: int) -> None:
        """The poll found this box's port or socket ready."""
        try:
            if what == "mqtt":
                if self.bus.socket() is None:
                    return          # closed since the poll was set up
                if events & ~select.POLLOUT:
                    self.bus.read()
                if events & select.POLLOUT and self.bus.socket() is not None:
                    self.bus.write()
            elif self.port.is_open:
                data = self.port.read_ready()
                now = time.monotonic()
                for msg in self.port.messages(data, now):
                    self._from_box(msg)
        except LinkDown:
            self.port.lost()
        except Exception:   # a bug must not end the counter's only path to the core
            self._fault()

    def after_io(self) -> None:
        """What the core said, handled as soon as it arrived."""
        try:
            self._from_core()
        except LinkDown:
            self.port.lost()
        except Exception:
            self._fault()

    def tick(self, now: float) -> None:
        """The timers: the broker connection, the port, IDENTIFY, the state refresh."""
        try:
            self.bus.tick(now)
            self._from_core()
            if not self.port.is_open:
                if now >= self.next_open and not self.port.open(now):
                    self.next_open = now + self.options.reopen_s
                return
            self.port.identify_if_due(now)
            if now - self.last_state_sent >= self.options.state_refresh_s:
                self._send_state()
            self.port.close_if_silent(now)
        except LinkDown:
            self.port.lost()
        except Exception:
            self._fault()

    def _fault(self) -> None:
        log.exception("counter %d: unexpected error; reopening the port", self.counter)
        self.port.close()
        self.next_open = time.monotonic() + self.options.reopen_s

    def _from_box(self, msg: Any) -> None:
        hello = self.port.hello
        if msg.type == M.HELLO:
            if self.port.accept(msg):
                self._send_state()
        elif msg.type == M.EVENT:
            if hello is None:
                return  # whose event? IDENTIFY is out; the box replays it after HELLO
            paused = (self.state or {}).get("status") == "paused"
            self.delivery.event(hello.device_id, msg, paused)
        elif msg.type == M.ERROR:
            log.warning("counter %d: box reports error %d: %s", self.counter, msg.code, msg.text)
        elif msg.type == M.HEARTBEAT:
            if hello is not None and msg.time_ms is not None and msg.boot == hello.boot:
                self.clocks.learn((hello.device_id, msg.boot), msg.time_ms, monotonic_ms())
        else:
            log.warning("counter %d: unexpected message 0x%02x from the box", self.counter, msg.type)

    def _from_core(self) -> None:
        for topic, body in self.bus.messages():
            if topic == self.bus.topics.counter_state(self.counter):
                self.state = body
                self.state_version = (self.state_version + 1) & 0xFFFFFFFF
                self._send_state()
            elif topic == self.bus.topics.counter_reply(self.counter):
                self.delivery.confirmation(body)
            elif topic == self.bus.topics.config_site:
                self.take_config(body)

    def take_config(self, payload: dict[str, Any]) -> None:
        """config/site: the rating levels' count for the next press and the LEDs now."""
        try:
            new = self.live.offer(payload)
        except ConfigError as e:
            log.error("counter %d: config/site version %s not applied, the box keeps %d levels: %s",
                      self.counter, payload.get("version"), self.n_levels, str(e).replace("\n", "; "))
            return
        if new is None:
            return
        if self.counter not in {c.number for c in new.counters}:
            log.warning("counter %d: no longer in the centre's [[counters]]; the box's presses will be "
                        "refused by the core until it is added again or unplugged", self.counter)
        n = len(new.rating.levels)
        if n != self.n_levels:
            log.info("counter %d: rating levels %d -> %d (config/site version %s)",
                     self.counter, self.n_levels, n, self.live.version)
            self.n_levels = self.payloads.n_levels = n
            # An open window lights the new number of LEDs at once.
            self._send_state()

    def _send_state(self) -> None:
        self.last_state_sent = time.monotonic()
        if self.port.is_open:
            self.port.send(display_state(self.state, self.state_version, self.n_levels, time.time()))

    def _to_box(self, device: str, msg: Any) -> bool:
        """Send to that box if it is the one on the port now; whether it is."""
        if not self.port.holds(device):
            return False
        self.port.send(msg)
        return True


def check_devices(config: SiteConfig) -> None:
    """Start-up checks the config model cannot make on its own section alone."""
    from kiosk.config import ConfigError

    known = {c.number for c in config.counters}
    for i, d in enumerate(config.bridge.devices):
        if d.counter not in known:
            raise ConfigError(f"bridge.devices[{i}].counter: no counter {d.counter} in [[counters]] "
                              f"(expected one of {sorted(known)})")
    if not config.bridge.devices:
        raise ConfigError("bridge.devices: no [[bridge.devices]] configured; nothing to bridge")


def main(config_path: str) -> int:
    """``phucvu bridge --config PATH``: run until SIGTERM/SIGINT."""
    from kiosk.config import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(config_path)
        check_devices(config)
        passwords = {}
        for d in config.bridge.devices:
            passwords[d.counter] = contract.read_password(d.password_file) if d.password_file else ""
    except (ConfigError, contract.PayloadError) as e:
        log.error("%s", e)
        return 2
    ledger = Ledger(config.bridge.state_db)
    ledger.prune()
    boxes = [CounterBox(config, d, ledger, passwords[d.counter]) for d in config.bridge.devices]
    hub = Hub(boxes).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    ready = ", ".join(f"counter {b.counter} on {b.dev.port}" for b in boxes)
    log.info("bridge ready: %s", ready)
    # systemd (Type=notify, WatchdogSec=): pings only while the hub's thread
    # is alive, so a bridge whose thread died silently gets restarted.
    from kiosk.sdnotify import Notifier
    notify = Notifier()
    notify.ready(ready)
    while not done.wait(notify.wake_every(5.0)):
        if hub.alive():
            notify.watchdog()
        else:
            notify.status("the bridge's thread stopped; waiting for the watchdog")
    notify.stopping()
    hub.stop()
    ledger.close()
    return 0
