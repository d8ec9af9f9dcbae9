"""Glue the core and the CLI need: a ticket payload -> TicketView, print-test, samples."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Callable

from kiosk import waitwords
from kiosk.config import PhoneSection, SiteConfig

from . import decode, profiles
from .layout import PHONE_NOTE, TicketView
from .printer import PrinterConfigError, PrintResult, TicketPrinter
from .render import TicketRenderer

log = logging.getLogger(__name__)


def view_from_ticket(config, ticket: dict, *, reprint: bool = False,
                     phone_secret: bytes | None = None) -> TicketView:
    """A TicketView from the ``ticket`` object of ``<p>/ticket/reply/<client>`` (docs/mqtt.md).

    With ``[phone]`` and its secret, the QR opens the ticket's phone page
    (``kiosk.phone.token.address``) and says so underneath; else it is the
    ticket id, as before.
    """
    names = {c.number: c.name for c in config.counters}
    qr_data = qr_note = None
    if getattr(config, "phone", None) is not None and phone_secret is not None:
        from kiosk.phone import token
        qr_data = token.address(config.phone.public_url, phone_secret, ticket["ticket_id"])
        qr_note = PHONE_NOTE
    return TicketView(
        commune=config.site.commune,
        centre=config.site.centre,
        field_name_vi=ticket["field_name_vi"],
        label=ticket["label"],
        priority_name_vi=ticket.get("priority_name_vi"),
        issued_at=config.local_time(ticket["issued_at"]),
        ahead=int(ticket["ahead"]),
        counters=[names.get(n, f"Quầy {n}") for n in ticket.get("counters", [])],
        ticket_id=ticket["ticket_id"],
        reprint=reprint,
        qr_data=qr_data,
        qr_note=qr_note,
        **wait_minutes(ticket),
    )


def wait_minutes(ticket: dict) -> dict:
    """The ticket's told wait and range as TicketView takes them, checked
    by ``waitwords.checked``.

    The estimate itself may be None (no open counter: the ticket says so).
    A figure that is not minutes >= 0 is logged and left off rather than
    refusing the ticket: a bad range prints the wait alone, a bad wait
    prints no wait line at all (``wait_said``), never "paused"."""
    raw = tuple(ticket.get(k) for k in waitwords.WAIT_KEYS)
    minutes, low, high, problems = waitwords.checked(*raw)
    for problem in problems:
        log.warning("ticket %s: %s; printed without it", ticket.get("ticket_id"), problem)
    return {"estimated_wait_min": minutes, "wait_low_min": low, "wait_high_min": high,
            "wait_said": minutes is not None or raw[0] is None}


# The docs' tickets: a wide forecast range (said), and every counter paused.
SAMPLE_WIDE = (20.0, 14.2, 33.9)
SAMPLE_PAUSED = (None, None, None)


def sample_view(config, *, reprint: bool = False, priority: bool = False, now: dt.datetime | None = None,
                phone_secret: bytes | None = None,
                wait: tuple[float | None, float | None, float | None] | None = None) -> TicketView:
    """A realistic ticket for the first field of the site (for print-test and docs).

    ``wait``: (minutes, low, high) as the core tells them; None: four people
    at the field's typical minutes, no range (the ticket bench/ticket.py
    measures)."""
    f = config.fields[0]
    now = now or dt.datetime.now(config.tz)
    serving = [c.number for c in config.counters if f.code in c.fields]
    ticket = {
        "ticket_id": now.strftime("%Y%m%d-") + f"{f.prefix}013",
        "label": f"{f.prefix}013",
        "field_name_vi": f.name_vi,
        "priority_name_vi": config.priority.classes[0].name_vi if priority and config.priority.classes else None,
        "issued_at": now.timestamp(),
        "ahead": 4,
        "estimated_wait_min": 4 * f.minutes_per_citizen / max(1, len(serving)),
        "counters": serving,
    }
    if wait is not None:
        ticket.update(zip(("estimated_wait_min", "wait_low_min", "wait_high_min"), wait))
    return view_from_ticket(config, ticket, reprint=reprint, phone_secret=phone_secret)


# The docs' phone ticket: a made-up address and secret, never a real site's.
SAMPLE_PHONE_URL = "http://192.168.4.1:8090"
SAMPLE_PHONE_SECRET = bytes(range(32))


class PrintTestError(Exception):
    """A print test that cannot start; the message is one line for a person."""


def print_test(site: SiteConfig, *, connection: str | None = None, reprint: bool = False,
               base_dir: str | Path = ".", say: Callable[[str], None] = print) -> PrintResult:
    """``phucvu print-test``: print a sample ticket and say what the printer answered.

    ``connection`` overrides ``[printer] connection``.  Says two lines: the
    printer's state before, then whether the ticket printed and how many bytes
    went out.  The caller decides what a ticket that did not print means (the
    command exits 1).  Raises PrintTestError when there is no printer to test.
    """
    conn = connection or site.printer.connection
    if conn == "none":
        raise PrintTestError("no printer: [printer] connection is none")
    try:
        tp = TicketPrinter(site.printer.model_copy(update={"connection": conn}), base_dir=base_dir)
    except PrinterConfigError as e:
        raise PrintTestError(f"[printer] {e}") from None
    try:
        before = tp.status()
        say(f"printer: {before.state} ({before.detail})")
        result = tp.print_ticket(sample_view(site, reprint=reprint))
    finally:
        tp.close()
    say(f"print-test: {'printed' if result.printed else 'NOT printed'}: {result.state} "
        f"({result.detail}); {result.bytes_sent} bytes")
    return result


def write_samples(config, out_dir: str | Path, *, now: dt.datetime) -> dict[str, int]:
    """Decode sample tickets to PNGs (docs/images); returns bytes per sample."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = {
        "ticket-80mm": ("80mm", "raster", {"wait": SAMPLE_WIDE}),
        "ticket-80mm-priority": ("80mm", "raster", {"priority": True}),
        "ticket-58mm": ("58mm", "raster", {"wait": SAMPLE_WIDE}),
        "ticket-58mm-paused": ("58mm", "raster", {"wait": SAMPLE_PAUSED}),
        "ticket-80mm-tcvn3": ("80mm", "tcvn3", {"wait": SAMPLE_WIDE}),
        "ticket-80mm-full-raster": ("80mm", "full_raster", {}),
        "ticket-80mm-reprint": ("80mm", "raster", {"reprint": True}),
        "ticket-80mm-phone": ("80mm", "raster", {"phone_secret": SAMPLE_PHONE_SECRET}),
    }
    # The phone ticket as a centre with [phone] prints it (docs/phone.md).
    phoned = config if config.phone is not None else config.model_copy(
        update={"phone": PhoneSection(public_url=SAMPLE_PHONE_URL)})
    sizes = {}
    for name, (prof, mode, kw) in samples.items():
        p = profiles.get(prof)
        site = phoned if "phone_secret" in kw else config
        data = TicketRenderer(p, mode).render(sample_view(site, now=now, **kw))
        decode.decode(data, p.width_dots).save(out / f"{name}.png")
        sizes[name] = len(data)
    return sizes
