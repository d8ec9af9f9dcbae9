"""The whole site config: every section and the checks across sections; the
lookups every part uses (a field by code, a counter by number, local time)
are in ``lookups.py``.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from kiosk.config.centre import (
    CasesSection,
    CounterSection,
    FieldSection,
    PriorityClass,
    PrioritySection,
    RatingSection,
    Session,
    SiteSection,
    TargetsSection,
    default_hours,
)
from kiosk.config.parts import (
    AnnouncerSection,
    BridgeSection,
    DisplaySection,
    MqttSection,
    PhoneSection,
    PrinterSection,
    StoreSection,
    UplinkSection,
    WebSection,
)
from kiosk.config.lookups import SiteLookups
from kiosk.config.section import Section, unique


class SiteConfig(Section, SiteLookups):
    # The lookups (a field by code, a counter by number, local time) are
    # SiteLookups', shared with the display's SiteView.
    site: SiteSection
    hours: list[Session] = Field(default_factory=default_hours)
    fields: list[FieldSection] = Field(min_length=1)
    counters: list[CounterSection] = Field(min_length=1)
    priority: PrioritySection = Field(default_factory=PrioritySection)
    rating: RatingSection = Field(default_factory=RatingSection)
    targets: TargetsSection = Field(default_factory=TargetsSection)
    cases: CasesSection = Field(default_factory=CasesSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    store: StoreSection = Field(default_factory=StoreSection)
    printer: PrinterSection = Field(default_factory=PrinterSection)
    display: DisplaySection = Field(default_factory=DisplaySection)
    announcer: AnnouncerSection = Field(default_factory=AnnouncerSection)
    bridge: BridgeSection = Field(default_factory=BridgeSection)
    web: WebSection = Field(default_factory=WebSection)
    phone: PhoneSection | None = None
    uplink: UplinkSection | None = None

    @model_validator(mode="after")
    def _cross_refs(self) -> "SiteConfig":
        unique("fields", "code", [f.code for f in self.fields])
        unique("fields", "prefix", [f.prefix for f in self.fields])
        unique("counters", "number", [c.number for c in self.counters])
        unique("priority.classes", "code", [p.code for p in self.priority.classes])
        unique("rating.levels", "code", [lv.code for lv in self.rating.levels])
        unique("rating.reasons", "code", [r.code for r in self.rating.reasons])
        known = {f.code for f in self.fields}
        for i, c in enumerate(self.counters):
            for code in c.fields:
                if code not in known:
                    raise ValueError(
                        f"counters[{i}].fields: unknown field {code!r} (expected one of {sorted(known)})"
                    )
            if len(set(c.fields)) != len(c.fields):
                raise ValueError(f"counters[{i}].fields: a field is listed twice")
        for code in self.targets.fields:
            if code not in known:
                raise ValueError(f"targets.fields: unknown field {code!r} "
                                 f"(expected one of {sorted(known)})")
        served = {code for c in self.counters for code in c.fields}
        for f in self.fields:
            if f.code not in served:
                raise ValueError(f"fields: no counter serves field {f.code!r}")
        return self
