"""Ticket size and render+encode time per mode.

Prints name=value lines:
  ticket_bytes_default / _tcvn3 / _full_raster / _priority   bytes of a typical ticket
  render_p50_ms / render_p99_ms        raster mode, render + encode, >= 200 tickets
  render_full_raster_p99_ms
  wire_s_9600_<mode> / wire_s_115200_<mode>   bytes * 10 / baud (8N1: 10 bits a byte)
Targets (docs/printing.md): default <= 6 KB, render p99 <= 30 ms.
Exit 1 if anything could not be measured.
"""
from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk import config as cfg  # noqa: E402
from kiosk.printing import decode, profiles  # noqa: E402
from kiosk.printing.render import TicketRenderer  # noqa: E402
from kiosk.printing.tools import sample_view  # noqa: E402

N = 300


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    site = cfg.load(Path(__file__).resolve().parent.parent / "deploy" / "demo-site.toml")
    now = dt.datetime(2026, 11, 27, 9, 41, tzinfo=site.tz)
    prof = profiles.get("80mm")
    out: dict[str, float] = {}
    for mode, key in (("raster", "default"), ("tcvn3", "tcvn3"), ("full_raster", "full_raster")):
        r = TicketRenderer(prof, mode)
        data = r.render(sample_view(site, now=now))
        decode.parse(data)  # a ticket that does not decode is not a measurement
        out[f"ticket_bytes_{key}"] = len(data)
        for baud in (9600, 115200):
            out[f"wire_s_{baud}_{key}"] = round(len(data) * 10 / baud, 3)
    out["ticket_bytes_priority"] = len(TicketRenderer(prof, "raster").render(sample_view(site, now=now, priority=True)))

    for mode, key in (("raster", "render"), ("full_raster", "render_full_raster")):
        r = TicketRenderer(prof, mode)
        times = []
        for i in range(N):
            # Vary what changes per ticket (number, people ahead, wait) so only
            # the static header hits the cache, as in a real day.
            v = sample_view(site, now=now + dt.timedelta(minutes=i), priority=i % 7 == 0)
            v.label = f"A{i % 1000:03d}"
            v.ahead = i % 40
            v.estimated_wait_min = (i % 40) * 2.5
            t0 = time.perf_counter()
            r.render(v)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"{key}_p50_ms"] = round(statistics.median(times), 2)
        out[f"{key}_p99_ms"] = round(pct(times, 99), 2)
    out["tickets_timed"] = N
    if any(v is None or v <= 0 for v in out.values()):
        print("bench/ticket.py: a measurement came out empty", file=sys.stderr)
        return 1
    for k, v in out.items():
        print(f"{k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
