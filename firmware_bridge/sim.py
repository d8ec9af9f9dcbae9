"""A simulated counter box: the real firmware on one end of a pty pair.

The host side of the pty is reached through a stable symlink (``link``),
which is what /dev/serial/by-id/ gives a real box: unplugging removes the
pty, plugging in again makes a new one and moves the symlink, so the bridge
must reopen by name exactly as it does for hardware.

Scriptable (``press``, ``rate``, ``unplug``, ``plug``, ``reboot``,
``inject``) for tests, and drivable from a terminal for the demo (``main``).
"""
from __future__ import annotations

import argparse
import fcntl
import os
import random
import sys
import threading
import time
import tty

from firmware_bridge.protocol import device, messages
from firmware_bridge.firmware.app import KEYS, Firmware
from firmware_bridge.firmware.shim import Board, Flash


class SimBox:
    def __init__(self, device_id: str, link: str, *, n_levels: int = 3, flash_path: str | None = None,
                 seed: int | None = None, step_s: float = 0.0005, hold_ms: int = 30,
                 baud: int | None = None, **fw_options):
        self.device_id = device_id
        self.link = link
        self.n_levels = n_levels
        self.step_s = step_s
        self.hold_ms = hold_ms
        self.fw_options = dict(fw_options)
        self.fw_options.setdefault("debounce_ms", min(20, hold_ms))
        self.flash = Flash(flash_path)
        self._rng = random.Random(seed)
        self.board = Board(self.flash, seed=self._rng.getrandbits(32), baud=baud)
        self.fw: Firmware | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # every press the firmware accepted: (boot, seq, source, code)
        self.accepted: list[tuple[int, int, int, int]] = []
        self.boots: list[int] = []

    # -- life cycle
    def start(self) -> "SimBox":
        self.plug()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.device_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._close_pty()
            try:
                os.unlink(self.link)
            except FileNotFoundError:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            time.sleep(self.step_s)

    def step(self) -> None:
        """One turn of the firmware's main loop.  ``start`` runs it every
        ``step_s`` on a thread of the box's own; a bench with many boxes
        plugs them (``plug``) and steps them all from one thread instead."""
        with self._lock:
            if self.fw is not None:
                self.fw.step()

    # -- scripted actions
    def press(self, key: str) -> None:
        if key not in KEYS:
            raise ValueError(f"unknown key {key!r} (expected one of {', '.join(KEYS)})")
        self.board.press(key, self.hold_ms)

    def rate(self, level: int) -> None:
        if not 1 <= level <= self.n_levels:
            raise ValueError(f"rating level {level} outside 1..{self.n_levels}")
        self.board.press(f"rate{level}", self.hold_ms)

    def inject(self, data: bytes) -> None:
        """Bytes on the wire that no firmware sent (noise, a half frame)."""
        with self._lock:
            self.board.serial_write(data)

    def unplug(self, mid_frame: bool = False) -> None:
        """Pull the cable: the box loses power and the pty disappears.

        With ``mid_frame`` the cable goes while a frame is half on the wire."""
        with self._lock:
            if mid_frame and self.fw is not None:
                ring = self.fw.proto.ring
                msg = ring[0].event() if ring else messages.Heartbeat(self.fw.boot, 1, 0)
                raw = messages.encode(msg)
                self.board.serial_write(raw[: self._rng.randint(1, len(raw) - 1)])
            self.fw = None
            self._close_pty()
            try:
                os.unlink(self.link)
            except FileNotFoundError:
                pass

    def plug(self) -> None:
        """Plug the cable in: a new pty under the same name, then the box boots."""
        with self._lock:
            self._open_pty()
            self._boot()

    def reboot(self) -> None:
        """Power-cycle without unplugging (watchdog, brown-out): new boot id, same flash."""
        with self._lock:
            self._boot()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def pending(self) -> int:
        with self._lock:
            return len(self.fw.proto.ring) if self.fw is not None else len(device.load_ring(self.flash.load()))

    def backlog(self) -> int:
        """Presses not yet acknowledged, counting those the firmware has not sampled yet."""
        return self.pending() + self.board.queued_presses()

    def display(self) -> tuple[str, int]:
        return self.board.shown, self.board.leds

    # -- internals
    def _boot(self) -> None:
        self.fw = Firmware(self.board, self.device_id, n_levels=self.n_levels, **self.fw_options)
        self.fw.on_press = lambda *ev: self.accepted.append(ev)
        self.boots.append(self.fw.boot)

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        fl = fcntl.fcntl(master, fcntl.F_GETFL)
        # Non-blocking like a UART: with nobody reading, bytes are lost, not queued forever.
        fcntl.fcntl(master, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self._master, self._slave = master, slave
        self.board.fd = master
        tmp = f"{self.link}.{os.getpid()}.tmp"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)

    def _close_pty(self) -> None:
        self.board.fd = None
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None


HELP = """keys: n=next  r=recall  x=no-show  f=finish  p=pause/resume  1..5=rating
      u=unplug/plug  b=reboot  g=garbage  h=help  q=quit"""
KEYMAP = {"n": "next", "r": "recall", "x": "no_show", "f": "finish", "p": "pause"}


def main(device_id: str, link: str, n_levels: int = 3, flash_path: str | None = None) -> int:
    """Run one simulated box driven from the terminal (the demo's counter)."""
    import termios

    box = SimBox(device_id, link, n_levels=n_levels, flash_path=flash_path).start()
    print(f"simulated box {device_id} on {link}\n{HELP}", flush=True)
    fd = sys.stdin.fileno()
    interactive = os.isatty(fd)
    old = termios.tcgetattr(fd) if interactive else None
    try:
        if interactive:
            tty.setcbreak(fd)
        last = None
        while True:
            import select

            ready, _, _ = select.select([fd], [], [], 0.2)
            shown = box.display()
            if shown != last:
                last = shown
                leds = "".join("●" if shown[1] >> i & 1 else "○" for i in range(n_levels))
                print(f"[{device_id}] số: {shown[0]:>4}  đèn: {leds}  chờ ack: {box.pending()}", flush=True)
            if not ready:
                continue
            ch = os.read(fd, 1).decode(errors="replace")
            if ch in ("q", ""):
                break
            if ch in KEYMAP:
                box.press(KEYMAP[ch])
                print(f"[{device_id}] phím {KEYMAP[ch]}", flush=True)
            elif ch.isdigit() and 1 <= int(ch) <= n_levels:
                box.rate(int(ch))
                print(f"[{device_id}] đánh giá mức {ch}", flush=True)
            elif ch == "u":
                if box.plugged:
                    box.unplug()
                    print(f"[{device_id}] unplugged", flush=True)
                else:
                    box.plug()
                    print(f"[{device_id}] plugged in", flush=True)
            elif ch == "b":
                box.reboot()
                print(f"[{device_id}] rebooted", flush=True)
            elif ch == "g":
                box.inject(bytes(random.getrandbits(8) for _ in range(24)))
            elif ch == "h":
                print(HELP, flush=True)
    finally:
        if old is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
        box.stop()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="a simulated phucvu counter box on a pty")
    ap.add_argument("device_id")
    ap.add_argument("link", help="path of the stable symlink to the box's serial port")
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--flash", default=None, help="file that keeps the unacked ring across restarts")
    a = ap.parse_args()
    sys.exit(main(a.device_id, a.link, a.levels, a.flash))
