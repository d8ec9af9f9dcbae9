"""The province's config: one TOML file for the aggregator and its reports.

Validated at start-up like the site config: unknown keys are errors, and an
error names the file, the key and what was expected.
"""
from __future__ import annotations

import tomllib
import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kiosk.config import ConfigError, describe_error, documented_keys as _keys, nfc, timezone_name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProvinceSection(_Section):
    name: str = Field(default="", max_length=120)
    # Service days in reports; every commune of a province shares one zone.
    timezone: str = "Asia/Ho_Chi_Minh"

    _nfc = field_validator("name")(nfc)

    _tz = field_validator("timezone")(timezone_name)


class BrokerSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8883, ge=1, le=65535)
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""
    username: str = "aggregator"
    password_file: str = ""
    # Fixed: the broker keeps this client's session (and the events that
    # arrive while it is down) under this id.
    client_id: str = Field(default="phucvu-aggregate", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    keepalive: int = Field(default=30, ge=5, le=600)

    @model_validator(mode="after")
    def _tls_pairs(self) -> "BrokerSection":
        if bool(self.certfile) != bool(self.keyfile):
            raise ValueError("certfile and keyfile go together (a client certificate needs both)")
        if self.certfile and not self.cafile:
            raise ValueError("a client certificate needs cafile too (TLS is off without it)")
        return self


class DatabaseSection(_Section):
    # libpq conninfo or URI, e.g. "host=/run/postgresql dbname=phucvu".
    # Keep passwords out of it: libpq reads ~/.pgpass or PGPASSFILE.
    conninfo: str = Field(min_length=1)
    # One transaction per batch: up to this many messages, or what arrived
    # within batch_wait_s of the first one.
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    batch_wait_s: float = Field(default=0.05, ge=0, le=10)


class ProvinceConfig(_Section):
    province: ProvinceSection = Field(default_factory=ProvinceSection)
    broker: BrokerSection = Field(default_factory=BrokerSection)
    database: DatabaseSection

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.province.timezone)


def parse(data: dict[str, Any], source: str = "<province config>") -> ProvinceConfig:
    try:
        return ProvinceConfig.model_validate(data)
    except ValidationError as e:
        lines = [describe_error(err) for err in e.errors()]
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(lines)) from None


def load(path: str | Path) -> ProvinceConfig:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_bytes().decode("utf-8"))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the province config: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return parse(data, str(p))


def documented_keys() -> list[str]:
    """Every dotted key; tests compare it with the table in docs/multi-site.md."""
    return _keys(ProvinceConfig)
