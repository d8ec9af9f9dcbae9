"""Printer profiles: what a model can do, kept as data in profiles.json.

Code asks ``profile.tcvn3`` or ``profile.cut`` instead of testing model
names, the way python-escpos asks ``profile.supports("paperPartCut")``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

_DATA = Path(__file__).with_name("profiles.json")

# python-escpos knows these code pages (escpos/capabilities.json); a profile
# naming anything else would fail only when the first odd letter is printed.
_KNOWN_PAGES = {"CP437", "CP1258", "TCVN-3-1", "TCVN-3-2", "CP850", "CP858", "CP1252"}


class ProfileError(ValueError):
    """A profile name or profile entry that cannot be used."""


@dataclass(frozen=True)
class PrinterProfile:
    name: str
    description: str
    width_dots: int
    code_pages: dict[str, int]
    tcvn3: bool
    cut: Literal["full", "partial", "none"]
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
    if prof.cut not in ("full", "partial", "none"):
        raise ProfileError(f"printer profile {name!r}: cut must be full, partial or none")
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
