"""The validated site config: one TOML file per centre.

Everything is checked at start-up.  Unknown keys are errors (a typo such as
``minute_per_citizen`` must not silently fall back to a default), and every
error names the file, the key and what was expected, in the spirit of
Klipper's "Option 'x' is not valid in section 'y'".

The rooms: ``section`` (what every section is made of, shared with the
province's config), ``centre`` (how the centre serves: site, hours, fields,
counters, priority, ratings), ``parts`` (the bus, store, printer, display,
announcer, bridge, web, phone and uplink sections), ``site`` (the whole file, its
cross-checks and lookups) and ``loading`` (TOML in, model or ConfigError out).

This package is the ground floor (docs/architecture.md, "Floors"): it
imports only the standard library and pydantic, and with ``kiosk.contract``
and ``kiosk.sdnotify`` it is all of ``kiosk`` that ``display`` and
``firmware_bridge`` may import.  Everyone imports the names below from
``kiosk.config``, not from the rooms, so the rooms can move without touching
the rest of the tree.
"""
import importlib
from typing import Any

# Each name is imported from its room when first asked for (PEP 562): the
# wall display imports ConfigError, Live and the checked loader from here
# without loading pydantic and the models (20 MB of its memory,
# kiosk/config/checked.py); everyone else sees the same names as before.
_ROOMS = {
    "centre": ("FIELD_ICONS", "GRADES", "WEEKDAYS", "CounterSection", "FieldSection", "PriorityClass",
               "PrioritySection", "RatingLevel", "RatingReason", "RatingSection", "Session", "SiteSection",
               "derive_grades"),
    "errors": ("ConfigError",),
    "loading": ("documented_keys", "load", "parse"),
    "live": ("Live", "config_hash", "merge"),
    "parts": ("AnnouncerSection", "BridgeSection", "DeviceSection", "DisplaySection", "MqttSection",
              "PhoneSection", "PrinterSection", "StoreSection", "UplinkSection", "WebSection"),
    "section": ("Section", "TlsClient", "nfc", "timezone_name"),
    "site": ("SiteConfig",),
}
_ROOM_OF = {name: room for room, names in _ROOMS.items() for name in names}


def __getattr__(name: str) -> Any:
    room = _ROOM_OF.get(name)
    if room is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{room}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_ROOM_OF))


__all__ = [
    "FIELD_ICONS", "GRADES", "WEEKDAYS", "AnnouncerSection", "BridgeSection", "ConfigError", "CounterSection",
    "DeviceSection", "DisplaySection", "FieldSection", "MqttSection", "PhoneSection", "PrinterSection",
    "PriorityClass", "PrioritySection", "RatingLevel", "RatingReason", "RatingSection", "Section", "Session",
    "SiteConfig", "SiteSection", "StoreSection", "TlsClient", "UplinkSection", "WebSection",
    "Live", "config_hash", "derive_grades", "documented_keys", "load", "merge", "nfc", "parse", "timezone_name",
]
