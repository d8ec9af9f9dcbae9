"""The province's config: one TOML file for the aggregator and its reports.

Validated at start-up like the site config: unknown keys are errors, and an
error names the file, the key and what was expected.
"""
from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from kiosk import config as site_config
from kiosk.config import Section, TlsClient, nfc, timezone_name


class ProvinceSection(Section):
    name: str = Field(default="", max_length=120)
    # Service days in reports; every commune of a province shares one zone.
    timezone: str = "Asia/Ho_Chi_Minh"

    _nfc = field_validator("name")(nfc)

    _tz = field_validator("timezone")(timezone_name)


class BrokerSection(TlsClient):
    host: str = "127.0.0.1"
    port: int = Field(default=8883, ge=1, le=65535)
    username: str = "aggregator"
    password_file: str = ""
    # Fixed: the broker keeps this client's session (and the events that
    # arrive while it is down) under this id.
    client_id: str = Field(default="phucvu-aggregate", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    keepalive: int = Field(default=30, ge=5, le=600)


class DatabaseSection(Section):
    # libpq conninfo or URI, e.g. "host=/run/postgresql dbname=phucvu".
    # Keep passwords out of it: libpq reads ~/.pgpass or PGPASSFILE.
    conninfo: str = Field(min_length=1)
    # One transaction per batch: up to this many messages, or what arrived
    # within batch_wait_s of the first one.  Batches are only this big while
    # a backlog waits, and then a big one costs PostgreSQL less per event.
    batch_size: int = Field(default=4000, ge=1, le=100_000)
    batch_wait_s: float = Field(default=0.05, ge=0, le=10)


class ProvinceConfig(Section):
    province: ProvinceSection = Field(default_factory=ProvinceSection)
    broker: BrokerSection = Field(default_factory=BrokerSection)
    database: DatabaseSection

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.province.timezone)


def parse(data: dict[str, Any], source: str = "<province config>") -> ProvinceConfig:
    return site_config.parse(data, source, ProvinceConfig)


def load(path: str | Path) -> ProvinceConfig:
    return site_config.load(path, ProvinceConfig, "province config")


def documented_keys() -> list[str]:
    """Every dotted key; tests compare it with the table in docs/multi-site.md."""
    return site_config.documented_keys(ProvinceConfig)
