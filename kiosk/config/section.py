"""What every section of a config file is made of.

A section rejects unknown keys, refuses a value of the wrong type and cannot
be changed once loaded; the types
and validators here are shared by the site config and the province config
(``kiosk/province/config.py``), so a code, a Vietnamese name, a time zone or
a TLS client means the same in both files.
"""
from __future__ import annotations

import unicodedata
import zoneinfo
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    # strict: TOML already types its values, so "200" for a number, "true"
    # for a boolean or 1 for true is a mistake in the file; converting it
    # would hide the mistake.  (An integer is still a valid float: 60 for
    # 60.0 is how people write seconds.)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
ViText = Annotated[str, Field(min_length=1, max_length=120)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


def nfc(text: str) -> str:
    # Vietnamese typed on different keyboards arrives decomposed or composed;
    # printers, fonts and the voice all want one form.
    return unicodedata.normalize("NFC", text)


def timezone_name(v: str) -> str:
    """An IANA time zone name this machine knows, as a pydantic validator."""
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as Asia/Ho_Chi_Minh)")
    return v


def unique(section: str, key: str, values: list[Any]) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{section}: {key} {v!r} is used twice")
        seen.add(v)


class TlsClient(Section):
    """A client of a TLS broker: the site's uplink, the province's aggregator."""

    # TLS is on when cafile is set; certfile/keyfile add a client certificate.
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""

    @model_validator(mode="after")
    def _tls_pairs(self) -> "TlsClient":
        if bool(self.certfile) != bool(self.keyfile):
            raise ValueError("certfile and keyfile go together (a client certificate needs both)")
        if self.certfile and not self.cafile:
            raise ValueError("a client certificate needs cafile too (TLS is off without it)")
        return self
