"""Glue the core and the CLI need: a ticket payload -> TicketView, print-test, samples."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import decode, profiles
from .layout import TicketView
from .printer import PrintResult, TicketPrinter
from .render import TicketRenderer


def view_from_ticket(config, ticket: dict, *, reprint: bool = False) -> TicketView:
    """A TicketView from the ``ticket`` object of ``<p>/ticket/reply/<client>`` (docs/mqtt.md)."""
    names = {c.number: c.name for c in config.counters}
    return TicketView(
        commune=config.site.commune,
        centre=config.site.centre,
        field_name_vi=ticket["field_name_vi"],
        label=ticket["label"],
        priority_name_vi=ticket.get("priority_name_vi"),
        issued_at=config.local_time(ticket["issued_at"]),
        ahead=int(ticket["ahead"]),
        estimated_wait_min=float(ticket["estimated_wait_min"]),
        counters=[names.get(n, f"Quầy {n}") for n in ticket.get("counters", [])],
        ticket_id=ticket["ticket_id"],
        reprint=reprint,
    )


def sample_view(config, *, reprint: bool = False, priority: bool = False, now: dt.datetime | None = None) -> TicketView:
    """A realistic ticket for the first field of the site (for print-test and docs)."""
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
    return view_from_ticket(config, ticket, reprint=reprint)


def print_test(config_path: str, *, base_dir: str = ".", reprint: bool = False) -> PrintResult:
    """``phucvu print-test``: print a sample ticket on the configured printer and say what happened."""
    from kiosk import config as cfg

    site = cfg.load(config_path)
    tp = TicketPrinter(site.printer, base_dir=base_dir)
    try:
        before = tp.status()
        print(f"printer: {before.state} ({before.detail})")
        result = tp.print_ticket(sample_view(site, reprint=reprint))
        print(f"print-test: {'printed' if result.printed else 'NOT printed'}: {result.state} "
              f"({result.detail}); {result.bytes_sent} bytes")
        if tp.sim:
            jobs = tp.sim.wait_jobs(1, timeout=2)
            if jobs:
                print(f"simulated ticket saved as {jobs[-1].png_path or jobs[-1].bin_path}")
        return result
    finally:
        tp.close()


def write_samples(config, out_dir: str | Path, *, now: dt.datetime) -> dict[str, int]:
    """Decode sample tickets to PNGs (docs/images); returns bytes per sample."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = {
        "ticket-80mm": ("80mm", "raster", {}),
        "ticket-80mm-priority": ("80mm", "raster", {"priority": True}),
        "ticket-58mm": ("58mm", "raster", {}),
        "ticket-80mm-tcvn3": ("80mm", "tcvn3", {}),
        "ticket-80mm-full-raster": ("80mm", "full_raster", {}),
        "ticket-80mm-reprint": ("80mm", "raster", {"reprint": True}),
    }
    sizes = {}
    for name, (prof, mode, kw) in samples.items():
        p = profiles.get(prof)
        data = TicketRenderer(p, mode).render(sample_view(config, now=now, **kw))
        decode.decode(data, p.width_dots).save(out / f"{name}.png")
        sizes[name] = len(data)
    return sizes
