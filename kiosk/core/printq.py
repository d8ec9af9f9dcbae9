"""The printer thread: prints committed tickets one at a time, and watches
the printer between jobs.

A serial printer at 9,600 baud needs seconds per ticket, so printing never
runs on the service thread; outcomes go back to it as callbacks (which only
queue), and the service records them and publishes.  Nothing is retried
here: a ticket that did not print waits in the reprint queue for a person.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

log = logging.getLogger("phucvu.printer")


class PrintWorker(threading.Thread):
    def __init__(self, printer: Any, make_view: Callable[[dict, bool], Any],
                 on_done: Callable[[dict, Any], None], on_status: Callable[[Any], None],
                 poll_s: float):
        super().__init__(name="printer", daemon=True)
        self.printer = printer
        self.make_view = make_view
        self.on_done = on_done
        self.on_status = on_status
        self.poll_s = poll_s
        self.jobs: queue.Queue = queue.Queue()
        self._halt = threading.Event()

    def submit(self, job: dict) -> None:
        """``job`` holds at least ``ticket`` (the ticket body) and ``reprint``."""
        self.jobs.put(job)

    def stop(self) -> None:
        self._halt.set()
        self.jobs.put(None)

    def run(self) -> None:
        self.on_status(self._safe_status())
        while not self._halt.is_set():
            try:
                job = self.jobs.get(timeout=self.poll_s)
            except queue.Empty:
                # Idle: notice paper running low or a cover left open before
                # the next citizen meets it.
                self.on_status(self._safe_status())
                continue
            if job is None:
                break
            try:
                result = self.printer.print_ticket(self.make_view(job["ticket"], job["reprint"]))
            except Exception as e:  # a bug in rendering must not lose the ticket
                log.exception("printing %s failed", job["ticket"].get("label"))
                from kiosk.printing.printer import PrintResult
                result = PrintResult(False, "error", f"printing failed: {e}", 0)
            self.on_done(job, result)

    def _safe_status(self) -> Any:
        try:
            return self.printer.status()
        except Exception as e:
            from kiosk.printing.status import PrinterStatus
            log.exception("printer status failed")
            return PrinterStatus("unknown", f"status query failed: {e}")
