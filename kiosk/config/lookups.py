"""The lookups every part uses on a site config (a field by code, a counter
by number, local time), over whatever holds the validated sections as
attributes: the pydantic ``SiteConfig`` and the wall display's ``SiteView``
(kiosk/config/checked.py) share them, so neither copies the other.
Standard library only.
"""
from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any


class SiteLookups:
    # No instance layout of its own: pydantic's BaseModel keeps its slots.
    __slots__ = ()

    @property
    def topic_prefix(self) -> str:
        return self.mqtt.prefix or f"phucvu/{self.site.id}"  # type: ignore[attr-defined]

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.site.timezone)  # type: ignore[attr-defined]

    def field(self, code: str) -> Any:
        for f in self.fields:  # type: ignore[attr-defined]
            if f.code == code:
                return f
        raise KeyError(code)

    def counter(self, number: int) -> Any:
        # A dict, not a walk of the list: the wait forecast asks for a
        # counter at every call it plays (500 waiting: 24,000 times).
        return self._counters_by_number[number]

    @functools.cached_property
    def _counters_by_number(self) -> dict[int, Any]:
        # Computed once per (frozen) config; cached_property writes the
        # instance's __dict__, which a frozen pydantic model allows.
        return {c.number: c for c in self.counters}  # type: ignore[attr-defined]

    def wait_target_min(self, code: str) -> float:
        """The longest wait the centre promises in this field ([targets])."""
        own = self.targets.fields.get(code)  # type: ignore[attr-defined]
        return own.wait_min if own is not None and own.wait_min is not None else self.targets.wait_min  # type: ignore[attr-defined]

    def service_target_min(self, code: str) -> float:
        """The typical service in this field: a served ticket within it is on time."""
        own = self.targets.fields.get(code)  # type: ignore[attr-defined]
        if own is not None and own.service_min is not None:
            return own.service_min
        if self.targets.service_min is not None:  # type: ignore[attr-defined]
            return self.targets.service_min  # type: ignore[attr-defined]
        return self.field(code).minutes_per_citizen

    def field_hours(self, code: str) -> list[Any]:
        f = self.field(code)
        return f.hours if f.hours is not None else self.hours  # type: ignore[attr-defined]

    def priority_class(self, code: str) -> Any:
        for p in self.priority.classes:  # type: ignore[attr-defined]
            if p.code == code:
                return p
        raise KeyError(code)

    def local_time(self, epoch: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch, self.tz)
