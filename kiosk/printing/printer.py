"""The one class the core uses to print tickets and ask about the printer.

    tp = TicketPrinter(config.printer, base_dir=...)
    result = tp.print_ticket(view)      # DLE EOT before, send, DLE EOT after
    if not result.printed: keep the ticket for reprint, show it on screen,
                           publish result.state on <p>/printer/status

Nothing here retries a job: a ticket that may have printed is reported as
not printed and left to staff, so nothing prints twice by accident.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from . import connection, profiles, status
from .layout import TicketView
from .render import TicketRenderer
from .sim import PrinterSimulator
from .status import PrinterStatus

log = logging.getLogger(__name__)

__all__ = ["TicketPrinter", "TicketView", "PrintResult", "PrinterStatus", "PrinterConfigError"]


class PrinterConfigError(ValueError):
    """[printer] settings that cannot work; raised at start-up."""


@dataclass
class PrintResult:
    printed: bool
    state: str
    detail: str
    bytes_sent: int


class TicketPrinter:
    def __init__(self, section, *, base_dir: str | Path = "."):
        try:
            self.profile = profiles.get(section.profile)
            self.conn = connection.parse(section.connection, base_dir=base_dir)
            self.renderer = TicketRenderer(self.profile, section.mode, font=section.font, qr=section.qr)
        except (ValueError, OSError) as e:
            raise PrinterConfigError(str(e)) from None
        self.timeout = section.timeout_s
        self.sim: PrinterSimulator | None = None
        if self.conn.kind == "sim":
            self.sim = PrinterSimulator(self.conn.path, width_dots=self.profile.width_dots).start()
        self._p = None
        self._lock = threading.Lock()

    # -- connection ----------------------------------------------------------
    def _device(self):
        if self._p is None:
            self._p = connection.open_printer(self.conn, timeout=self.timeout,
                                              device_path=self.sim.path if self.sim else "")
        return self._p

    def _drop(self) -> None:
        p, self._p = self._p, None
        if p is not None:
            try:
                p.close()
            except Exception:  # closing a vanished device fails in many ways; it is gone either way
                pass
            # python-escpos closes again from __del__; mark it closed so that is a no-op.
            p._device = False

    def _query(self) -> PrinterStatus:
        try:
            p = self._device()
        except Exception as e:
            self._drop()
            return PrinterStatus("unplugged", f"cannot open {self._where()}: {e}")
        replies: dict[int, int | None] = {}
        try:
            connection.drain_input(p)
            for n in status.QUERIES:
                p._raw(status.request(n))
                replies[n] = connection.read_byte(p, self.timeout)
                if replies[n] is None:
                    # One silent query is enough to know; do not wait four times.
                    break
        except Exception as e:
            self._drop()
            return PrinterStatus("unplugged", f"{self._where()} went away: {e}")
        return status.classify(replies)

    def _where(self) -> str:
        c = self.conn
        return {"usb": f"USB printer {c.vid:04x}:{c.pid:04x}", "network": f"{c.host}:{c.port}"}.get(
            c.kind, c.path if c.kind != "sim" else f"simulated printer {self.sim.path if self.sim else ''}")

    # -- public ------------------------------------------------------------------
    def status(self) -> PrinterStatus:
        with self._lock:
            return self._query()

    def render(self, view: TicketView) -> bytes:
        return self.renderer.render(view)

    def print_ticket(self, view: TicketView) -> PrintResult:
        data = self.renderer.render(view)
        with self._lock:
            before = self._query()
            if before.state not in status.PRINTABLE and before.state != "unknown":
                return PrintResult(False, before.state, before.detail, 0)
            try:
                connection.write(self._device(), data)
            except Exception as e:
                self._drop()
                log.warning("ticket %s not printed: %s", view.ticket_id, e)
                return PrintResult(False, "unplugged", f"{self._where()} went away while printing: {e}", 0)
            after = self._query()
        if after.state in status.PRINTABLE:
            return PrintResult(True, after.state, after.detail, len(data))
        detail = after.detail
        if after.state == "unknown":
            detail = f"sent {len(data)} bytes but the printer did not confirm ({after.detail}); check the ticket came out"
        log.warning("ticket %s not printed: %s: %s", view.ticket_id, after.state, detail)
        return PrintResult(False, after.state, detail, len(data))

    def close(self) -> None:
        with self._lock:
            self._drop()
            if self.sim:
                self.sim.close()
