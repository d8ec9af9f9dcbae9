"""A thermal printer on a pty, for the demo and the tests.

It consumes ESC/POS from the pty master, answers DLE EOT from a state you
set (ok, paper_near_end, paper_out, cover_open, offline, unknown = silent),
and saves each job (everything up to a cut) as NNNN.bin plus the decoded
NNNN.png.  A job that meets a fault is saved as NNNN-not-printed-<state>.*
so the folder shows what a real printer would have lost.  ``unplug()``
closes the pty: the host then sees the same EIO as a pulled USB cable.

The host side opens ``sim.path`` with python-escpos ``Serial`` (dsrdtr=False),
so tests and the demo use the real serial path.
"""
from __future__ import annotations

import logging
import os
import select
import termios
import threading
import tty
from dataclasses import dataclass
from pathlib import Path

from . import decode, status

log = logging.getLogger(__name__)

_BAUDS = {getattr(termios, f"B{b}"): b for b in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)}


@dataclass
class Job:
    seq: int
    printed: bool
    state: str
    data: bytes
    bin_path: Path
    png_path: Path | None


class PrinterSimulator:
    def __init__(self, out_dir: str | Path, *, width_dots: int = 576, state: str = "ok", save_png: bool = True):
        status.reply_for(state)
        self.out_dir = Path(out_dir)
        self.width_dots = width_dots
        self.save_png = save_png
        self.jobs: list[Job] = []
        self.received = 0
        self.errors: list[str] = []
        self._state = state
        self._fault: tuple[int, str] | None = None
        self._unplug_at: int | None = None
        self._lock = threading.Lock()
        self._job_done = threading.Condition(self._lock)
        self._master = self._slave = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.path = ""

    # -- control ----------------------------------------------------------
    def start(self) -> "PrinterSimulator":
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._seq = max((int(p.name[:4]) for p in self.out_dir.glob("[0-9][0-9][0-9][0-9]*.bin")), default=0)
        self._master, self._slave = os.openpty()
        # Raw on both ends: no echo, no CR/LF translation, no ^C handling.
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._parser = decode.StreamParser()
        self._stream = bytearray()
        self._stream_base = 0
        self._job_start = 0
        self._job_failed: str | None = None
        self._job_has_content = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="printer-sim", daemon=True)
        self._thread.start()
        return self

    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        status.reply_for(state)
        with self._lock:
            self._state = state

    def fail_during_job(self, state: str, after_bytes: int) -> None:
        """Switch to ``state`` once the current/next job has delivered ``after_bytes``."""
        status.reply_for(state)
        with self._lock:
            self._fault = (after_bytes, state)

    def unplug_after(self, n_bytes: int) -> None:
        """Pull the cable once ``n_bytes`` more have arrived (mid-job)."""
        self._unplug_at = self.received + n_bytes

    def unplug(self) -> None:
        """Pull the cable: the pty goes away, the host's writes fail."""
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._close_fds()
        self._state = "unplugged"

    def close(self) -> None:
        self.unplug()

    def baud(self) -> int | None:
        """The line speed the host set on the port (pty keeps it in termios)."""
        attrs = termios.tcgetattr(self._slave)
        return _BAUDS.get(attrs[4])

    def wait_jobs(self, n: int, timeout: float = 5.0) -> list[Job]:
        with self._job_done:
            self._job_done.wait_for(lambda: len(self.jobs) >= n, timeout=timeout)
            return list(self.jobs)

    # -- the printer --------------------------------------------------------
    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = -1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self._master, 65536)
            except (OSError, ValueError):
                break
            if self._unplug_at is not None and self.received + len(chunk) >= self._unplug_at:
                # The cable goes mid-job: this chunk never reaches the paper.
                self._close_fds()
                self._state = "unplugged"
                break
            if chunk:
                self._consume(chunk)

    def _consume(self, chunk: bytes) -> None:
        self._stream += chunk
        try:
            ops = self._parser.feed(chunk)
        except decode.DecodeError as e:
            # A printer prints garbage here; the simulator says what it was.
            log.error("printer simulator: %s", e)
            self.errors.append(str(e))
            self._parser = decode.StreamParser()
            return
        for op, end in zip(ops, self._parser.ends):
            if isinstance(op, decode.StatusRequest):
                self._answer(op.n)
                if not self._job_has_content:
                    self._job_start = end
                continue
            self._job_has_content = True
            with self._lock:
                if self._fault and end - self._job_start >= self._fault[0]:
                    self._state, self._fault = self._fault[1], None
                if self._state not in status.PRINTABLE and self._job_failed is None:
                    self._job_failed = self._state
            if isinstance(op, decode.Cut):
                self._finish(end)
        self.received += len(chunk)

    def _answer(self, n: int) -> None:
        with self._lock:
            reply = status.reply_for(self._state).get(n)
        if reply is not None:
            os.write(self._master, bytes((reply,)))

    def _finish(self, end: int) -> None:
        data = bytes(self._stream[self._job_start - self._stream_base : end - self._stream_base])
        del self._stream[: end - self._stream_base]
        self._stream_base = end
        self._job_start = end
        self._seq += 1
        failed, self._job_failed, self._job_has_content = self._job_failed, None, False
        stem = f"{self._seq:04d}" + (f"-not-printed-{failed}" if failed else "")
        bin_path = self.out_dir / f"{stem}.bin"
        bin_path.write_bytes(data)
        png_path = None
        if self.save_png:
            try:
                png_path = self.out_dir / f"{stem}.png"
                decode.decode(data, self.width_dots).save(png_path)
            except decode.DecodeError as e:
                log.error("printer simulator: job %s: %s", stem, e)
                self.errors.append(str(e))
                png_path = None
        job = Job(self._seq, failed is None, failed or self._state, data, bin_path, png_path)
        with self._job_done:
            self.jobs.append(job)
            self._job_done.notify_all()
