"""The whole site config: every section, the checks across sections, and the
lookups every part uses (a field by code, a counter by number, local time).
"""
from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

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
from kiosk.config.section import Section, unique


class SiteConfig(Section):
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

    # -- lookups used everywhere ------------------------------------------
    @property
    def topic_prefix(self) -> str:
        return self.mqtt.prefix or f"phucvu/{self.site.id}"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.site.timezone)

    def field(self, code: str) -> FieldSection:
        for f in self.fields:
            if f.code == code:
                return f
        raise KeyError(code)

    def counter(self, number: int) -> CounterSection:
        # A dict, not a walk of the list: the wait forecast asks for a
        # counter at every call it plays (500 waiting: 24,000 times).
        return self._counters_by_number[number]

    @functools.cached_property
    def _counters_by_number(self) -> dict[int, CounterSection]:
        # Computed once per (frozen) config; cached_property writes the
        # instance's __dict__, which a frozen pydantic model allows.
        return {c.number: c for c in self.counters}

    def wait_target_min(self, code: str) -> float:
        """The longest wait the centre promises in this field ([targets])."""
        own = self.targets.fields.get(code)
        return own.wait_min if own is not None and own.wait_min is not None else self.targets.wait_min

    def service_target_min(self, code: str) -> float:
        """The typical service in this field: a served ticket within it is on time."""
        own = self.targets.fields.get(code)
        if own is not None and own.service_min is not None:
            return own.service_min
        if self.targets.service_min is not None:
            return self.targets.service_min
        return self.field(code).minutes_per_citizen

    def field_hours(self, code: str) -> list[Session]:
        f = self.field(code)
        return f.hours if f.hours is not None else self.hours

    def priority_class(self, code: str) -> PriorityClass:
        for p in self.priority.classes:
            if p.code == code:
                return p
        raise KeyError(code)

    def local_time(self, epoch: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch, self.tz)
