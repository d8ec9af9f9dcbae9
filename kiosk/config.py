"""The validated site config: one TOML file per centre.

Everything is checked at start-up.  Unknown keys are errors (a typo such as
``minute_per_citizen`` must not silently fall back to a default), and every
error names the file, the key and what was expected, in the spirit of
Klipper's "Option 'x' is not valid in section 'y'".

This module and ``kiosk.contract`` are the only parts of ``kiosk`` that
``display`` and ``firmware_bridge`` may import.
"""
from __future__ import annotations

import datetime as dt
import tomllib
import unicodedata
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """A site config that cannot be used; the message is meant for a person."""


def timezone_name(v: str) -> str:
    """An IANA time zone name this machine knows, as a pydantic validator."""
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as Asia/Ho_Chi_Minh)")
    return v


M = TypeVar("M", bound=BaseModel)


def check_tls_files(cafile: str, certfile: str, keyfile: str) -> None:
    """A client of a TLS broker: a certificate needs its key and a CA file."""
    if bool(certfile) != bool(keyfile):
        raise ValueError("certfile and keyfile go together (a client certificate needs both)")
    if certfile and not cafile:
        raise ValueError("a client certificate needs cafile too (TLS is off without it)")


def nfc(text: str) -> str:
    # Vietnamese typed on different keyboards arrives decomposed or composed;
    # printers, fonts and the voice all want one form.
    return unicodedata.normalize("NFC", text)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
ViText = Annotated[str, Field(min_length=1, max_length=120)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


class Session(Section):
    """One opening session, e.g. Monday to Friday 07:00–11:30."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    open: HHMM
    close: HHMM

    @model_validator(mode="after")
    def _ordered(self) -> "Session":
        if _minutes(self.close) <= _minutes(self.open):
            raise ValueError(f"close {self.close} must be after open {self.open}")
        return self

    def open_minute(self) -> int:
        return _minutes(self.open)

    def close_minute(self) -> int:
        return _minutes(self.close)


def _default_hours() -> list[Session]:
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    return [
        Session(days=weekdays, open="07:00", close="11:30"),
        Session(days=weekdays, open="13:30", close="17:00"),
    ]


class SiteSection(Section):
    id: Code
    commune: ViText
    centre: ViText
    province: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"

    _nfc = field_validator("commune", "centre", "province")(nfc)

    _tz = field_validator("timezone")(timezone_name)


class FieldSection(Section):
    """A lĩnh vực: one queue with its own ticket prefix."""

    code: Code
    name_vi: ViText
    name_en: ViText
    prefix: Annotated[str, Field(pattern=r"^[A-Z]$")]
    minutes_per_citizen: float = Field(gt=0, le=240)
    daily_quota: int = Field(default=999, ge=1, le=999)
    # None: the site's [[hours]].
    hours: list[Session] | None = None

    _nfc = field_validator("name_vi", "name_en")(nfc)


class CounterSection(Section):
    """A quầy; ``fields`` in the order the counter serves them."""

    number: int = Field(ge=1, le=99)
    name: ViText
    fields: list[Code] = Field(min_length=1)

    _nfc = field_validator("name")(nfc)


class PriorityClass(Section):
    code: Code
    name_vi: ViText
    name_en: ViText

    _nfc = field_validator("name_vi", "name_en")(nfc)


def _default_priority_classes() -> list[PriorityClass]:
    return [
        PriorityClass(code="cao-tuoi", name_vi="Người cao tuổi", name_en="Elderly person"),
        PriorityClass(code="khuyet-tat", name_vi="Người khuyết tật", name_en="Person with a disability"),
        PriorityClass(code="co-thai", name_vi="Phụ nữ có thai", name_en="Pregnant woman"),
        PriorityClass(code="co-cong", name_vi="Người có công", name_en="Person of merit"),
        PriorityClass(code="lan-xanh", name_vi="Làn xanh", name_en="Green lane"),
    ]


class PrioritySection(Section):
    # After this many priority calls in a row at one counter, the next call
    # takes a normal ticket if one waits, so normal tickets are not starved.
    interleave: int = Field(default=3, ge=1, le=100)
    classes: list[PriorityClass] = Field(default_factory=_default_priority_classes)


class RatingLevel(Section):
    code: Code
    name_vi: ViText
    name_en: ViText
    # Counted in the satisfaction rate (the top two of three by default).
    satisfied: bool

    _nfc = field_validator("name_vi", "name_en")(nfc)


def _default_levels() -> list[RatingLevel]:
    return [
        RatingLevel(code="rat-hai-long", name_vi="Rất hài lòng", name_en="Very satisfied", satisfied=True),
        RatingLevel(code="hai-long", name_vi="Hài lòng", name_en="Satisfied", satisfied=True),
        RatingLevel(code="khong-hai-long", name_vi="Không hài lòng", name_en="Not satisfied", satisfied=False),
    ]


class RatingSection(Section):
    window_s: float = Field(default=60, ge=5, le=600)
    # Presses at one counter closer together than this are not a person
    # answering a question: kept as 'too_fast', never counted.
    min_press_interval_s: float = Field(default=1.0, ge=0, le=30)
    # A box's press is judged on the box's clock mapped to the core's
    # (docs/reports.md).  When the window was opened by another source (the
    # browser's "finish"), the mapping may be off by the link's delay and
    # drift: a press this close after the window's end still counts.
    clock_tolerance_s: float = Field(default=1.0, ge=0, le=10)
    # How fast a box's clock may drift from the core's, in parts per million,
    # for the mapping to forgive a stale estimate (crystals: 20-100 ppm).
    max_drift_ppm: float = Field(default=200, ge=0, le=10000)
    # A press that reaches the core this long after it was made is flagged
    # delivered_late in the data (it is still judged on its press time).
    late_after_s: float = Field(default=2.0, ge=0.1, le=3600)
    levels: list[RatingLevel] = Field(default_factory=_default_levels, min_length=3, max_length=5)

    @model_validator(mode="after")
    def _some_satisfied(self) -> "RatingSection":
        if not any(lv.satisfied for lv in self.levels):
            raise ValueError("at least one rating level must have satisfied = true")
        if all(lv.satisfied for lv in self.levels):
            raise ValueError("at least one rating level must have satisfied = false")
        return self


class MqttSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    # Topic prefix; empty means "phucvu/<site.id>".
    prefix: str = ""
    keepalive: int = Field(default=10, ge=2, le=300)
    username: str = "core"
    # Read at start-up; a file keeps the secret out of the site config.
    password_file: str = ""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v and (v.startswith("/") or v.endswith("/") or any(c in v for c in "#+")):
            raise ValueError("a topic prefix has no leading or trailing '/' and no wildcards")
        return v


class StoreSection(Section):
    path: str = "/var/lib/phucvu/phucvu.db"


class PrinterSection(Section):
    """The kiosk's ticket printer (see docs/printing.md)."""

    # sim:DIR | usb:VID:PID | serial:DEVICE[@BAUD] | network:HOST[:PORT] | file:PATH
    # "none": no printer (the kiosk shows the number; a warning says so).
    connection: str = "none"
    profile: str = "80mm"
    mode: Literal["raster", "tcvn3", "full_raster"] = "raster"
    qr: bool = True
    # Empty: the first installed font that covers Vietnamese.
    font: str = ""
    timeout_s: float = Field(default=2.0, gt=0, le=30)

    @field_validator("connection")
    @classmethod
    def _connection(cls, v: str) -> str:
        # Only the shape here (the ground floor imports nothing above it);
        # kiosk.printing.connection checks ids, ports and baud rates at start-up.
        if v == "none":
            return v
        kind, sep, rest = v.partition(":")
        if kind not in ("sim", "usb", "serial", "network", "file") or not sep or not rest:
            raise ValueError(
                "expected sim:DIR, usb:VID:PID, serial:DEVICE[@BAUD], network:HOST[:PORT], file:PATH or none"
            )
        return v


class DisplaySection(Section):
    """The wall display (see docs/display.md)."""

    notice: str = ""
    last_calls: int = Field(default=8, ge=5, le=10)
    show_official: bool = False
    highlight_s: float = Field(default=6, ge=1, le=60)
    # Window size when not fullscreen (fullscreen takes the screen's own size).
    width: int = Field(default=1920, ge=640, le=7680)
    height: int = Field(default=1080, ge=360, le=4320)
    # A TTF covering Vietnamese; empty: Kivy's bundled Roboto.
    font: str = ""

    _nfc = field_validator("notice")(nfc)


class AnnouncerSection(Section):
    """The voice that calls numbers (see docs/display.md)."""

    engine: Literal["espeak", "clips"] = "espeak"
    voice: str = "vi"
    template: str = "Mời công dân có số thứ tự {number} đến quầy số {counter}"
    number_style: Literal["digits", "words"] = "digits"
    clips_dir: str = ""
    chime: bool = True
    # Older calls than this many waiting are dropped so the hall is not behind.
    max_backlog: int = Field(default=3, ge=1, le=20)
    # espeak-ng words per minute; a hall wants slower than espeak's 175.
    speed: int = Field(default=140, ge=80, le=300)
    # Command that plays a wav (file appended); empty: aplay, pw-play or paplay.
    player: str = ""
    # When set, announcements are written here as wav files instead of played.
    output_dir: str = ""

    _nfc = field_validator("template")(nfc)


class DeviceSection(Section):
    """One counter box on a serial port (see docs/serial-protocol.md)."""

    counter: int = Field(ge=1, le=99)
    # /dev/serial/by-id/... (stable across replugs) or a plain device path.
    port: str = Field(min_length=1)
    baud: int = Field(default=115200, ge=1200, le=1_000_000)
    # The id the box reports in HELLO; empty accepts any box on this port.
    # Set it so a box plugged into the wrong counter is refused, not obeyed.
    device_id: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,16}$")
    # MQTT login for this counter; empty means "counter-<counter>".
    username: str = ""
    # File holding that login's password (keeps the secret out of the config).
    password_file: str = ""


class BridgeSection(Section):
    devices: list[DeviceSection] = Field(default_factory=list)
    state_db: str = "/var/lib/phucvu/bridge.db"
    # Whole display state is re-sent this often even when nothing changed,
    # so a box that missed a frame or rebooted is right within this time.
    state_refresh_s: float = Field(default=1.0, gt=0, le=60)
    # An event published but not yet confirmed by the core (on
    # counter/<n>/reply, after its commit) is published again (same id) when
    # the box retransmits it after this long.
    republish_s: float = Field(default=2.0, gt=0, le=300)
    # How often a missing or busy port is tried again.
    reopen_s: float = Field(default=0.5, gt=0, le=60)
    # A box silent this long (it heartbeats every second) is reopened.
    link_timeout_s: float = Field(default=3.0, gt=0, le=300)

    @model_validator(mode="after")
    def _distinct(self) -> "BridgeSection":
        _unique("bridge.devices", "port", [d.port for d in self.devices])
        _unique("bridge.devices", "counter", [d.counter for d in self.devices])
        return self


class WebSection(Section):
    """The browser console and dashboard (see docs/console.md)."""

    # Loopback by default: a centre opens it to the LAN on purpose.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # A signed session cookie lives this long; a shift is about 9 hours.
    session_lifetime_s: int = Field(default=36000, ge=60, le=7 * 86400)
    # This many wrong PINs for one code, or from one client, lock both out.
    login_attempts: int = Field(default=5, ge=1, le=100)
    lockout_s: float = Field(default=60, gt=0, le=86400)
    # How long a button waits for the core's reply before saying so.
    command_timeout_s: float = Field(default=5, gt=0, le=60)


class UplinkSection(Section):
    """The bridge from this site's Mosquitto to the provincial broker (docs/multi-site.md)."""

    host: str = Field(min_length=1)
    port: int = Field(default=8883, ge=1, le=65535)
    # TLS is on when cafile is set; certfile/keyfile add a client certificate.
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""
    # The site's login on the provincial broker; empty means the site id.
    username: str = ""
    password_file: str = ""
    # Mosquitto's connection name, also the bridge's client id there; empty
    # means "phucvu-<site id>".  It must stay the same for the provincial
    # broker to keep this site's session (cleansession false).
    bridge_name: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,64}$")
    # Events kept on the site while the uplink is down (about 4 per citizen):
    # the default holds weeks of a busy centre.
    max_queued_messages: int = Field(default=100000, ge=1000, le=10_000_000)

    @model_validator(mode="after")
    def _tls_pairs(self) -> "UplinkSection":
        check_tls_files(self.cafile, self.certfile, self.keyfile)
        return self


class SiteConfig(Section):
    site: SiteSection
    hours: list[Session] = Field(default_factory=_default_hours)
    fields: list[FieldSection] = Field(min_length=1)
    counters: list[CounterSection] = Field(min_length=1)
    priority: PrioritySection = Field(default_factory=PrioritySection)
    rating: RatingSection = Field(default_factory=RatingSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    store: StoreSection = Field(default_factory=StoreSection)
    printer: PrinterSection = Field(default_factory=PrinterSection)
    display: DisplaySection = Field(default_factory=DisplaySection)
    announcer: AnnouncerSection = Field(default_factory=AnnouncerSection)
    bridge: BridgeSection = Field(default_factory=BridgeSection)
    web: WebSection = Field(default_factory=WebSection)
    uplink: UplinkSection | None = None

    @model_validator(mode="after")
    def _cross_refs(self) -> "SiteConfig":
        _unique("fields", "code", [f.code for f in self.fields])
        _unique("fields", "prefix", [f.prefix for f in self.fields])
        _unique("counters", "number", [c.number for c in self.counters])
        _unique("priority.classes", "code", [p.code for p in self.priority.classes])
        _unique("rating.levels", "code", [lv.code for lv in self.rating.levels])
        known = {f.code for f in self.fields}
        for i, c in enumerate(self.counters):
            for code in c.fields:
                if code not in known:
                    raise ValueError(
                        f"counters[{i}].fields: unknown field {code!r} (expected one of {sorted(known)})"
                    )
            if len(set(c.fields)) != len(c.fields):
                raise ValueError(f"counters[{i}].fields: a field is listed twice")
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
        for c in self.counters:
            if c.number == number:
                return c
        raise KeyError(number)

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


def _unique(section: str, key: str, values: list[Any]) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{section}: {key} {v!r} is used twice")
        seen.add(v)


def describe_error(err: dict[str, Any]) -> str:
    loc = ""
    for part in err["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += ("." if loc else "") + str(part)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (not valid in this section; see docs/config.md)"
    if kind == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"].removeprefix("Value error, ")
    given = err.get("input")
    shown = "" if isinstance(given, (dict, list)) or given is None else f", got {given!r}"
    return f"{loc}: {msg}{shown}" if loc else f"{msg}"


def parse(data: dict[str, Any], source: str = "<config>", model: type[M] = SiteConfig) -> M:
    """Validate ``data`` as ``model`` (the site config unless told otherwise)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        lines = [describe_error(err) for err in e.errors()]
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(lines)) from None


def load(path: str | Path, model: type[M] = SiteConfig, what: str = "site config") -> M:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the {what}: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return parse(data, str(p), model)


def documented_keys(model: type[BaseModel] = SiteConfig, prefix: str = "") -> list[str]:
    """Every dotted key the config accepts; tests compare it with docs/config.md."""
    keys: list[str] = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        sub = _submodel(info.annotation)
        if sub is not None:
            keys.extend(documented_keys(sub, dotted + "."))
    return keys


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _submodel(arg)
        if found is not None:
            return found
    return None

