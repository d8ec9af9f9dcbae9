"""The serial side of one counter: its port, which box is on it, frames both ways.

The port is reopened by name whenever it fails (an unplugged box comes back
as a new tty behind the same /dev/serial/by-id/ name), and a box is spoken
for only once it has said HELLO with the right protocol and, if the config
names one, the right device id: until then its EVENTs have no owner and
are left for the replay that follows the HELLO.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from kiosk.config import BridgeSection, DeviceSection

from firmware_bridge.link import SerialLink
from firmware_bridge.protocol import messages as M
from firmware_bridge.protocol.framing import FrameDecoder, ProtocolError

log = logging.getLogger("phucvu.bridge")

IDENTIFY_RETRY_S = 0.5


class BoxPort:
    def __init__(self, dev: DeviceSection, options: BridgeSection):
        self.dev = dev
        self.counter = dev.counter
        self.link_timeout_s = options.link_timeout_s
        self.link = SerialLink(dev.port, dev.baud)
        self.decoder = FrameDecoder()
        self.hello: M.Hello | None = None     # the box on the port, once it said who it is
        self.last_rx = 0.0
        self.last_identify = 0.0
        self.bad_messages = 0
        self.refused = 0

    @property
    def is_open(self) -> bool:
        return self.link.is_open

    @property
    def stats(self) -> dict[str, int]:
        return {"bad_frames": self.decoder.errors, "bad_messages": self.bad_messages, "refused": self.refused}

    def open(self, now: float) -> bool:
        """Try the port; on success ask the box who it is."""
        if not self.link.open():
            return False
        self.decoder.reset()
        self.hello = None
        self.last_rx = now
        self.last_identify = now
        # The box may have said HELLO long before we opened the port: ask again,
        # which also makes it replay every event still waiting for an ACK.
        self.send(M.Identify())
        return True

    def close(self) -> None:
        self.link.close()
        self.lost()

    def lost(self) -> None:
        """The link is gone: whoever comes back must say HELLO again."""
        self.hello = None
        self.decoder.reset()

    def fileno(self) -> int | None:
        """The open port's file descriptor, for the bridge's poll; None when closed."""
        return self.link.fileno() if self.link.is_open else None

    def read_ready(self) -> bytes:
        """Bytes from a port the bridge's poll found readable."""
        return self.link.read_ready()

    def messages(self, data: bytes, now: float) -> Iterator[Any]:
        """The messages in bytes read at ``now``; damaged frames and bad messages counted and skipped."""
        if data:
            self.last_rx = now
        for body in self.decoder.feed(data):
            try:
                yield M.parse(body)
            except ProtocolError as e:
                self.bad_messages += 1
                log.warning("counter %d: bad message from the box: %s", self.counter, e)

    def accept(self, hello: M.Hello) -> bool:
        """Whether the box that said HELLO is the one to speak for."""
        if hello.proto != M.PROTOCOL_VERSION:
            log.error("counter %d: box %s speaks protocol %d, bridge speaks %d; ignoring it",
                      self.counter, hello.device_id, hello.proto, M.PROTOCOL_VERSION)
            return False
        if self.dev.device_id and hello.device_id != self.dev.device_id:
            if self.refused == 0:
                log.error("counter %d: box %r on %s is not the configured %r; its presses are refused",
                          self.counter, hello.device_id, self.dev.port, self.dev.device_id)
            self.refused += 1
            return False
        self.hello = hello
        log.info("counter %d: box %s boot %08x fw %s, %d event(s) waiting", self.counter,
                 hello.device_id, hello.boot, hello.fw, hello.pending)
        return True

    def holds(self, device: str) -> bool:
        """Whether that box is the one on the port now."""
        return self.link.is_open and self.hello is not None and self.hello.device_id == device

    def send(self, msg: Any) -> None:
        if not self.link.write(M.encode(msg)):
            self.lost()

    def identify_if_due(self, now: float) -> None:
        """Ask again, every IDENTIFY_RETRY_S, until a box says HELLO."""
        if self.hello is None and now - self.last_identify >= IDENTIFY_RETRY_S:
            self.send(M.Identify())
            self.last_identify = now

    def close_if_silent(self, now: float) -> None:
        """A box says something every heartbeat; a silent port is reopened."""
        if now - self.last_rx >= self.link_timeout_s:
            log.warning("counter %d: box on %s silent for %.1f s; reopening", self.counter,
                        self.dev.port, now - self.last_rx)
            self.close()
