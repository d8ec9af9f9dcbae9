"""The serial link to one box: the only code that touches pyserial.

Opens the port exclusively (a second bridge, or a stray ``screen``, on the
same box would steal half the bytes and ack events it never forwarded),
turns every pyserial/OS error into "link down" with one log line, and lets
the caller reopen by name: after an unplug the box comes back as a new tty
behind the same /dev/serial/by-id/ symlink.
"""
from __future__ import annotations

import logging
import select
import threading

import serial

log = logging.getLogger("phucvu.bridge.link")


class LinkDown(Exception):
    """The port is gone (unplugged, closed, I/O error); reopen it later."""


class SerialLink:
    def __init__(self, port: str, baud: int):
        self.port = port
        self.baud = baud
        self._ser: serial.Serial | None = None
        self._wlock = threading.Lock()
        self._last_open_error = ""

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def fileno(self) -> int:
        if self._ser is None:
            raise LinkDown("not open")
        return self._ser.fileno()

    def open(self) -> bool:
        """True when the port is open; False (logged once per distinct reason) when not."""
        try:
            # dsrdtr/rtscts off: the box's USB CDC (and a pty) has no flow-control lines.
            ser = serial.Serial(self.port, self.baud, timeout=0, write_timeout=1,
                                exclusive=True, dsrdtr=False, rtscts=False)
        except (serial.SerialException, OSError, ValueError) as e:
            reason = str(e)
            if reason != self._last_open_error:
                log.warning("cannot open %s: %s (will keep trying)", self.port, reason)
                self._last_open_error = reason
            return False
        self._last_open_error = ""
        with self._wlock:
            self._ser = ser
        log.info("opened %s at %d baud", self.port, self.baud)
        return True

    def close(self) -> None:
        with self._wlock:
            ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass  # already gone with the cable

    def read(self, timeout: float, also: int | None = None) -> tuple[bytes, bool]:
        """Bytes waiting on the port (maybe none) and whether ``also`` (a fd) is readable.

        Waits at most ``timeout`` for either; raises LinkDown when the port fails."""
        ser = self._ser
        if ser is None:
            raise LinkDown("not open")
        fds = [ser.fileno()] + ([also] if also is not None else [])
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError) as e:
            self._down(f"select failed: {e}")
        data = self.read_ready() if fds[0] in ready else b""
        return data, also is not None and also in ready

    def read_ready(self) -> bytes:
        """The bytes of a port that polled readable (the caller polled it);
        raises LinkDown when the port fails or has hung up."""
        ser = self._ser
        if ser is None:
            raise LinkDown("not open")
        data = b""
        try:
            data = ser.read(max(1, ser.in_waiting))
        except (serial.SerialException, OSError) as e:
            self._down(str(e))
        if not data:
            self._down("port readable but no data (unplugged)")
        return data

    def write(self, data: bytes) -> bool:
        """False (and the link closed) when the write failed; the protocol resends."""
        with self._wlock:
            ser = self._ser
            if ser is None:
                return False
            try:
                ser.write(data)
                return True
            except (serial.SerialException, OSError) as e:
                log.warning("write to %s failed: %s", self.port, e)
        self.close()
        return False

    def _down(self, why: str) -> None:
        log.warning("link %s down: %s", self.port, why)
        self.close()
        raise LinkDown(why)
