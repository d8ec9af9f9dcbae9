"""One hour of a busy centre with every fault of the day's plan: nothing lost.

bench/day.py itself, as a newcomer would run it, at one hour of the day
(36 s at 100x) and 20 counters: the real Mosquitto, core, bridge, web
console, 20 simulated boxes on ptys, 4 kiosks, 4 displays in processes of
their own, the printer simulator on a pty; the core killed -9 right after it
said ready, the bridge killed -9, the broker restarted and killed -9, the
paper out, the cover open, a display's cable pulled, the wall clock stepped
back an hour.  The loss figures must all be 0; latencies are the bench's
business (docs/performance.md), never asserted here.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys

from tests.conftest import ROOT

LOSSES = ("tickets_lost", "numbers_reused", "unprinted_unlisted", "printed_twice", "printed_unknown",
          "presses_lost", "ratings_misjudged", "report_mismatches")
FAULTS = ("core_kill9_after_start", "bridge_kill9", "broker_restart", "broker_kill9", "paper_out",
          "cover_open", "display_offline", "clock_back")


def test_an_hour_of_a_busy_centre_with_every_fault_loses_nothing():
    env = {**os.environ, "DAY_HOURS": "1", "DAY_COUNTERS": "20", "DAY_DISPLAYS": "4",
           "DAY_SEED": "5"}
    out = subprocess.run([sys.executable, "bench/day.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=400)
    tail = out.stderr[-12000:]
    assert out.returncode == 0, tail
    figures = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    for name in LOSSES:
        assert figures[name] == "0", f"{name}={figures[name]}\n{tail}"
    fired = dict(kv.split(":") for kv in figures["faults"].split(","))
    assert set(FAULTS) <= set(fired), figures["faults"]
    # The day really happened: tickets, calls, ratings, the officials' own
    # presses, paper lost to the faults and reprinted from the console.
    assert int(figures["tickets_acknowledged"]) >= 400
    assert int(figures["served"]) >= 100 and int(figures["citizens_rated"]) >= 50
    assert int(figures["officials_pressed"]) >= 20
    # Every display had a fresh snapshot after every repair (a finite figure).
    assert math.isfinite(float(figures["display_converge_max_ms"])), tail
