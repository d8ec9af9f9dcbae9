"""Printer profiles: what a model can do, kept as data in profiles.json.

Code asks ``profile.tcvn3`` or ``profile.cut`` instead of testing model
names, the way python-escpos asks ``profile.supports("paperPartCut")``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

_DATA = Path(__file__).with_name("profiles.json")

# python-escpos knows these code pages (escpos/capabilities.json); a profile
# naming anything else would fail only when the first odd letter is printed.
_KNOWN_PAGES = {"CP437", "CP1258", "TCVN-3-1", "TCVN-3-2", "CP850", "CP858", "CP1252"}


# How a ticket ends.  There is no "none": the cut command also ends the job
# (the simulator saves a job at each cut), and a tear-bar printer needs the
# paper fed past its bar.  "feed" is feed-and-cut (GS V 66 0): feed to the
# cutting position, then cut; a model with only a tear bar feeds and has
# nothing to cut with.
Cut = Literal["full", "partial", "feed"]
CUTS = get_args(Cut)


class ProfileError(ValueError):
    """A profile name or profile entry that cannot be used."""


@dataclass(frozen=True)
class PrinterProfile:
    name: str
    description: str
    width_dots: int
    code_pages: dict[str, int]
    tcvn3: bool
    cut: Cut
    native_qr: bool
    raster_align: bool
    number_size: int
    feed_before_cut: int


def _check(name: str, raw: dict) -> PrinterProfile:
    expected = set(PrinterProfile.__dataclass_fields__) - {"name"}
    unknown = set(raw) - expected
    missing = expected - set(raw)
    if unknown or missing:
        raise ProfileError(
            f"printer profile {name!r} in {_DATA.name}: "
            + (f"unknown keys {sorted(unknown)} " if unknown else "")
            + (f"missing keys {sorted(missing)}" if missing else "")
        )
    prof = PrinterProfile(name=name, **raw)
    if prof.width_dots % 8 or not 128 <= prof.width_dots <= 832:
        raise ProfileError(f"printer profile {name!r}: width_dots {prof.width_dots} must be a multiple of 8 in 128..832")
    if not 1 <= prof.number_size <= 8:
        raise ProfileError(f"printer profile {name!r}: number_size must be 1..8 (GS ! multiplier)")
    if prof.cut not in CUTS:
        raise ProfileError(
            f"printer profile {name!r}: cut must be full, partial or feed (feed-and-cut, also for a tear bar), "
            f"got {prof.cut!r}"
        )
    bad = set(prof.code_pages) - _KNOWN_PAGES
    if bad:
        raise ProfileError(f"printer profile {name!r}: unknown code pages {sorted(bad)}")
    if prof.tcvn3 and not {"TCVN-3-1", "TCVN-3-2"} <= set(prof.code_pages):
        raise ProfileError(f"printer profile {name!r}: tcvn3 = true needs code pages TCVN-3-1 and TCVN-3-2")
    return prof


@cache
def profiles() -> dict[str, PrinterProfile]:
    raw = json.loads(_DATA.read_text(encoding="utf-8"))
    return {k: _check(k, v) for k, v in raw.items() if not k.startswith("_")}


def get(name: str) -> PrinterProfile:
    try:
        return profiles()[name]
    except KeyError:
        raise ProfileError(
            f"[printer] profile: unknown printer profile {name!r} (expected one of {sorted(profiles())})"
        ) from None
