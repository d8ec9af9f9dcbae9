"""The hardware shim: a counter box's board under CPython.

The serial port is a file descriptor (the master side of a pty in the
simulator), keys and buttons are virtual pins fed by ``press``, the display,
LEDs and buzzer are recorded, and the flash is a small file (or memory), so
the ring of unacknowledged events survives a simulated reboot exactly as it
survives a power cut on the board.
"""
from __future__ import annotations

import errno
import os
import random
import threading
import time


class Flash:
    """The box's flash filesystem, reduced to the one file the firmware keeps."""

    def __init__(self, path: str | None = None):
        self.path = path
        self._data = b""

    def load(self) -> bytes:
        if self.path is None:
            return self._data
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def save(self, data: bytes) -> None:
        if self.path is None:
            self._data = bytes(data)
            return
        # write-then-rename, as littlefs does: a power cut leaves old or new, never half
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, self.path)


class Board:
    def __init__(self, flash: Flash | None = None, fd: int | None = None, seed: int | None = None,
                 baud: int | None = None):
        self.flash = flash if flash is not None else Flash()
        # A pty moves bytes at memory speed; with ``baud`` set, each write
        # takes the time a real UART needs (10 bits per byte, 8N1).
        self.baud = baud
        self.fd = fd
        self._rng = random.Random(seed)
        self._t0 = time.monotonic()
        self._samples: list[tuple[str, int, int]] = []
        self._last_up: dict[str, int] = {}
        self._lock = threading.Lock()
        self.shown = "    "
        self.leds = 0
        self.beeps: list[int] = []
        self.logs: list[str] = []
        self.written = 0
        self.dropped = 0

    def ticks_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def random32(self) -> int:
        return self._rng.getrandbits(32) or 1

    # serial: non-blocking; with no host attached the bytes are lost, like a UART's
    def serial_read(self) -> bytes:
        if self.fd is None:
            return b""
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno in (errno.EIO, errno.EBADF):  # no host has the port open
                return b""
            raise

    def serial_write(self, data: bytes) -> None:
        if self.fd is None:
            self.dropped += len(data)
            return
        if self.baud:
            time.sleep(len(data) * 10 / self.baud)
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except (BlockingIOError, OSError):
                self.dropped += len(view)
                return
            self.written += n
            view = view[n:]

    # inputs
    def press(self, name: str, hold_ms: int = 30) -> None:
        """A finger on a key: pressed now, released ``hold_ms`` later."""
        with self._lock:
            t = max(self.ticks_ms(), self._last_up.get(name, 0) + hold_ms)
            self._samples.append((name, 1, t))
            self._samples.append((name, 0, t + hold_ms))
            self._last_up[name] = t + hold_ms

    def bounce(self, name: str, edges: list[tuple[int, int]]) -> None:
        """Raw samples (level, ms offset) as a worn contact produces them."""
        with self._lock:
            t = self.ticks_ms()
            for level, dt in edges:
                self._samples.append((name, level, t + dt))

    def queued_presses(self) -> int:
        with self._lock:
            return sum(1 for _, level, _ in self._samples if level == 1)

    def poll_inputs(self) -> list[tuple[str, int, int]]:
        with self._lock:
            out, self._samples = self._samples, []
        return out

    # outputs
    def show(self, text: str) -> None:
        self.shown = text

    def set_leds(self, mask: int) -> None:
        self.leds = mask

    def beep(self, pattern: int) -> None:
        self.beeps.append(pattern)

    def log(self, text: str) -> None:
        self.logs.append(text)
