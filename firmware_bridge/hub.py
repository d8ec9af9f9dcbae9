"""One thread for every box: their ports and their MQTT logins, polled together.

A centre with 60 counters used to run 120 threads here (a worker and a paho
loop per box).  Each press then crossed two threads and waited for the GIL
behind whichever of the others had just woken: 2 ms at the median, 24-38 ms
at the 99th percentile from the box to the broker under a busy day
(bench/day.py).  Here one thread polls every port and every broker socket,
reads what is ready, writes a publish straight to its socket, and runs each
box's timers every ``TICK_S``.

``select.poll`` keeps its file descriptors in this process only (no kernel
registration), so the set is brought up to date before every poll: a port
closed and reopened, or a socket replaced on reconnect, can never leave a
stale registration behind.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from typing import Any, Protocol

log = logging.getLogger("phucvu.bridge")

TICK_S = 0.1
_IN = select.POLLIN | select.POLLPRI
_OUT = select.POLLOUT


class Box(Protocol):
    """What the hub needs of a box (bridge.CounterBox)."""
    port: Any       # .fileno(): the open port's fd or None
    bus: Any        # .socket(), .wants_write(), .start()
    stopping: threading.Event

    def ready(self, what: str, events: int) -> None: ...
    def after_io(self) -> None: ...
    def tick(self, now: float) -> None: ...
    def close(self) -> None: ...


class Hub:
    def __init__(self, boxes: list[Box], tick_s: float = TICK_S):
        self.boxes = boxes
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll = select.poll()
        # fd -> (what, box, events) as registered with the poll now
        self._fds: dict[int, tuple[str, Box, int]] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._poll.register(self._wake_r, _IN)
        self._next_tick = 0.0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "Hub":
        for b in self.boxes:
            b.bus.start()
        self._thread = threading.Thread(target=self._run, name="bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for b in self.boxes:
            b.stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=3)
        for b in self.boxes:
            b.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def alive(self) -> bool:
        """False once the thread has died (systemd's watchdog then restarts the bridge)."""
        return self._thread is None or self._thread.is_alive()

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.turn()
            except Exception:  # a bug must not end every counter's path to the core
                log.exception("bridge loop: unexpected error; going on")
                self._stop.wait(0.5)

    def turn(self) -> None:
        """One poll of every port and socket, what was ready handled, the timers when due."""
        self._register()
        wait_ms = max(0, int((self._next_tick - time.monotonic()) * 1000) + 1)
        ready = self._poll.poll(wait_ms)
        touched = []
        for fd, events in ready:
            entry = self._fds.get(fd)
            if entry is None:
                continue   # the wake pipe
            what, box, _ = entry
            box.ready(what, events)
            touched.append(box)
        if any(fd == self._wake_r for fd, _ in ready):
            try:
                os.read(self._wake_r, 512)
            except BlockingIOError:
                pass
        now = time.monotonic()
        if now >= self._next_tick:
            for box in self.boxes:
                box.tick(now)
            self._next_tick = now + self.tick_s
        else:
            for box in touched:
                box.after_io()

    def _register(self) -> None:
        """The poll's set made what the boxes have open now."""
        want: dict[int, tuple[str, Box, int]] = {}
        for box in self.boxes:
            fd = box.port.fileno()
            if fd is not None:
                want[fd] = ("port", box, _IN)
            sock = box.bus.socket()
            if sock is not None:
                want[sock.fileno()] = ("mqtt", box, _IN | (_OUT if box.bus.wants_write() else 0))
        for fd in self._fds.keys() - want.keys():
            self._poll.unregister(fd)
        for fd, entry in want.items():
            old = self._fds.get(fd)
            if old is None or old[2] != entry[2]:
                self._poll.register(fd, entry[2])    # registers or modifies
        self._fds = want
