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
from kiosk.config.centre import (
    FIELD_ICONS,
    GRADES,
    WEEKDAYS,
    CounterSection,
    FieldSection,
    PriorityClass,
    PrioritySection,
    RatingLevel,
    RatingReason,
    RatingSection,
    Session,
    SiteSection,
    derive_grades,
)
from kiosk.config.loading import ConfigError, documented_keys, load, parse
from kiosk.config.live import Live, config_hash, merge
from kiosk.config.parts import (
    AnnouncerSection,
    BridgeSection,
    DeviceSection,
    DisplaySection,
    MqttSection,
    PhoneSection,
    PrinterSection,
    StoreSection,
    UplinkSection,
    WebSection,
)
from kiosk.config.section import Section, TlsClient, nfc, timezone_name
from kiosk.config.site import SiteConfig

__all__ = [
    "FIELD_ICONS", "GRADES", "WEEKDAYS", "AnnouncerSection", "BridgeSection", "ConfigError", "CounterSection",
    "DeviceSection", "DisplaySection", "FieldSection", "MqttSection", "PhoneSection", "PrinterSection",
    "PriorityClass", "PrioritySection", "RatingLevel", "RatingReason", "RatingSection", "Section", "Session",
    "SiteConfig", "SiteSection", "StoreSection", "TlsClient", "UplinkSection", "WebSection",
    "Live", "config_hash", "derive_grades", "documented_keys", "load", "merge", "nfc", "parse", "timezone_name",
]
