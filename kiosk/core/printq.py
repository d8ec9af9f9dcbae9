"""The printer thread: prints committed tickets one at a time, and watches
the printer between jobs; and what a print attempt means on the bus.

A serial printer at 9,600 baud needs seconds per ticket, so printing never
runs on the service thread.  The worker reports back as typed events
(``Printed``, ``PrinterReport``) through one callable, which only queues
them for the service thread; that thread records them and publishes.
Nothing is retried here: a ticket that did not print waits in the reprint
queue for a person.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

from kiosk.config import SiteConfig
from kiosk.core.store import Store

log = logging.getLogger("phucvu.printer")


@dataclass
class PrintJob:
    """A committed ticket to print.

    ``job_id`` is its ``print_jobs`` row, committed ``pending`` with the
    ticket (or the reprint command) and answered by the printer's outcome.
    ``reply``, when given, waits for the outcome and then goes to
    ``reply_to``; ``key`` names the command whose stored reply learns the
    outcome too (a reprint, so that a redelivery does not print again).
    """
    ticket: dict
    job_id: int
    reprint: bool = False
    reply: dict | None = None
    reply_to: str | None = None
    key: str | None = None
    # The admin's print test: the sample ticket, no print_jobs row.
    test: bool = False


@dataclass(frozen=True)
class Printed:
    """A job done, printed or not (``result``: kiosk.printing.printer.PrintResult)."""
    job: PrintJob
    result: Any


@dataclass(frozen=True)
class PrinterReport:
    """The printer's status, at start and between jobs (kiosk.printing.status.PrinterStatus)."""
    status: Any


Report = Callable[["Printed | PrinterReport"], None]


class PrintWorker(threading.Thread):
    def __init__(self, printer: Any, config: SiteConfig, report: Report, poll_s: float,
                 phone_secret: bytes | None = None):
        super().__init__(name="printer", daemon=True)
        self.printer = printer
        self.config = config
        self.phone_secret = phone_secret      # [phone]: the QR opens the ticket's page
        self.report = report
        self.poll_s = poll_s
        self.jobs: queue.Queue = queue.Queue()
        self._halt = threading.Event()

    def submit(self, job: PrintJob) -> None:
        self.jobs.put(job)

    def stop(self) -> None:
        self._halt.set()
        self.jobs.put(None)

    def run(self) -> None:
        self.report(PrinterReport(self._safe_status()))
        while not self._halt.is_set():
            try:
                job = self.jobs.get(timeout=self.poll_s)
            except queue.Empty:
                # Idle: notice paper running low or a cover left open before
                # the next citizen meets it.
                self.report(PrinterReport(self._safe_status()))
                continue
            if job is None:
                break
            self.report(Printed(job, self._print(job)))

    def _print(self, job: PrintJob) -> Any:
        try:
            from kiosk.printing.tools import sample_view, view_from_ticket
            if job.test:
                return self.printer.print_ticket(sample_view(self.config))
            return self.printer.print_ticket(
                view_from_ticket(self.config, job.ticket, reprint=job.reprint,
                                 phone_secret=self.phone_secret))
        except Exception as e:  # a bug in rendering must not lose the ticket
            log.exception("printing %s failed", job.ticket.get("label"))
            from kiosk.printing.printer import PrintResult
            return PrintResult(False, "error", f"printing failed: {e}", 0)

    def _safe_status(self) -> Any:
        try:
            return self.printer.status()
        except Exception as e:
            from kiosk.printing.status import PrinterStatus
            log.exception("printer status failed")
            return PrinterStatus("unknown", f"status query failed: {e}")


def retune(printer: Any, section: Any) -> None:
    """A running printer takes new [printer] settings (profile, mode, font,
    QR, timeout); its connection stays (a restart changes it)."""
    from kiosk.printing import profiles
    from kiosk.printing.render import TicketRenderer
    profile = profiles.get(section.profile)
    printer.renderer = TicketRenderer(profile, section.mode, font=section.font, qr=section.qr)
    printer.profile, printer.timeout = profile, section.timeout_s


def test_reply(job: PrintJob, result: Any, at: float) -> dict[str, Any]:
    """The reply to ``print_test``, from the attempt."""
    printer = {"state": result.state, "detail": result.detail, "at": at}
    if result.printed:
        return {**job.reply, "ok": True, "printer": printer}
    from kiosk.printing.status import MESSAGE_VI
    return {**job.reply, "ok": False, "error": {
        "code": "not_printed", "message": f"{MESSAGE_VI.get(result.state, result.state)}: "
        f"{result.detail}", "printer": printer}}


# ------------------------------------------------------- a print on the bus
# The ``print`` of a reply that would have waited for a printer this core does not have.
NO_PRINTER = {"status": "not_printed", "reason": "no_printer",
              "detail": "this core runs without a printer"}


def outcome(result: Any) -> dict[str, Any]:
    """The ``print`` of a reply, from a print attempt."""
    if result.printed:
        return {"status": "printed"}
    return {"status": "not_printed", "reason": result.state, "detail": result.detail}


def stored_outcome(last: dict[str, Any] | None, printing: bool) -> dict[str, Any]:
    """The ``print`` of a reply sent again, from the ticket's latest job (``Store.last_print``)."""
    if last is None:
        return {"status": "pending"} if printing else {"status": "not_printed", "reason": "no_printer"}
    if last["state"] == "pending" and not last["printed"]:
        return {"status": "pending"}
    if last["printed"]:
        return {"status": "printed"}
    return {"status": "not_printed", "reason": last["state"], "detail": last["detail"]}


def reprint_refused(last: dict[str, Any] | None, label: str, force: bool) -> tuple[str, str] | None:
    """Why a reprint may not go ahead (code, message), from the ticket's latest job."""
    if last and last["printed"] and not force:
        # Nothing prints twice by accident: a printed ticket needs force.
        return "already_printed", f"{label} was printed; reprint it on purpose with force"
    if last and not last["printed"] and last["state"] == "pending":
        # Its job is at the printer now: a second copy could print twice.
        return "print_pending", f"{label} is being printed"
    return None


def record(store: Store, job: PrintJob, result: Any, at: float) -> dict[str, Any] | None:
    """One print attempt, recorded; returns the reply that waited for it,
    which now says how it went (and is stored so, for a command's reply)."""
    ticket = job.ticket
    store.record_print(job.job_id, at, result.printed, result.state, result.detail,
                       result.bytes_sent)
    if not result.printed:
        log.warning("ticket %s not printed (%s); it waits in the reprint queue",
                    ticket["label"], result.state)
    if job.reply is None or job.reply_to is None:
        return None
    job.reply["print"] = outcome(result)
    if job.key:
        store.update_reply(job.key, job.reply)
    return job.reply


# The state of a job the core did not see finish (``Store.interrupt_prints``).
INTERRUPTED_VI = "Máy chủ dừng trước khi máy in xác nhận"


def alert(ticket: dict, state: str, at: float) -> dict[str, Any]:
    """The ``event/alert`` body for a ticket that did not print (``state``: why)."""
    from kiosk.printing.status import MESSAGE_VI
    why = INTERRUPTED_VI if state == "interrupted" else MESSAGE_VI.get(state, state)
    return {"alert_id": f"print-{ticket['ticket_id']}-{int(at * 1000)}",
            "kind": "printer", "severity": "error", "state": state,
            "message": f"{why}: phiếu {ticket['label']} chưa in được, đang chờ in lại",
            "ticket_id": ticket["ticket_id"], "label": ticket["label"], "at": at}
