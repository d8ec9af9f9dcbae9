"""The core service's side of a live config change: every holder of the
config switched at once, and SIGHUP.

Who holds the config in the core: the service (views, snapshot, counter
states), the command pipeline, the engine and its queue (hours, fields,
counters, priority, rating rules), the printer thread (the ticket's text)
and the printer (its renderer).  ``switch`` runs on the service thread
between two messages, so no message is handled half on the old config and
half on the new one.  (``service`` is the CoreService; this room does not
import it, the service imports this.)
"""
from __future__ import annotations

import logging
from typing import Any

from kiosk.config import SiteConfig
from kiosk.core import printq, views

log = logging.getLogger("phucvu.core")


def switch(service: Any, new: SiteConfig) -> list[tuple[str, Any, bool]]:
    """Every holder of the config switched to ``new``; returns what to publish:
    the retained config/site and site/info, and the state of counters gone,
    cleared.

    The queue is loaded again from the database under the new config: every
    earlier message is committed, so nothing of today is lost."""
    old, service.config = service.config, new
    service.commands.config = new
    service.engine.config = new
    service.engine.reload()
    if service.print_worker is not None:
        service.print_worker.config = new
        if new.printer != old.printer:
            try:
                printq.retune(service.printer, new.printer)
            except Exception as e:
                log.error("the printer keeps its old settings: %s", e)
    service._last_state.clear()
    service.tickets.changed()       # waits follow the new minutes and counters
    now = service.engine.clock()
    t = service.topics
    out: list[tuple[str, Any, bool]] = [
        (t.config_site, service.live.payload(), True),
        (t.site_info, views.site_info(new, now), True)]
    gone = {c.number for c in old.counters} - {c.number for c in new.counters}
    out += [(t.counter_state(n), b"", True) for n in sorted(gone)]
    return out


def reread(service: Any) -> list[tuple[str, Any, bool]]:
    """SIGHUP: the site file through the same checks; what to publish (nothing
    when it is unchanged or refused; the log line says which)."""
    if service.live is None:
        log.warning("SIGHUP: this core was started without its site file; nothing to read")
        return []
    new = service.live.reread(service.engine.queue.state, service.engine.monotonic())
    if new is None:
        return []
    out = switch(service, new)
    service._publish_state(counters=None)
    return out
