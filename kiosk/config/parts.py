"""The sections of the parts that run at a site: the bus, the store, the
printer, the wall display and its voice, the counter boxes' bridge, the web
console and the uplink to the province (docs/config.md).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from kiosk.config.section import Section, TlsClient, nfc, unique


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
    # The public board (công khai): its own panel, in turn with the calls
    # panel, or not shown.
    public_board: Literal["panel", "rotate", "off"] = "panel"
    # A citizen first called within this many minutes of taking the ticket
    # counts as served on time on the public board.
    wait_target_min: int = Field(default=30, ge=1, le=480)

    _nfc = field_validator("notice")(nfc)


class AnnouncerSection(Section):
    """The voice that calls numbers (see docs/display.md)."""

    engine: Literal["espeak", "clips"] = "espeak"
    voice: str = "vi"
    template: str = "Mời công dân có số thứ tự {number} đến quầy số {counter}"
    # How a label's digits are read: B001 "bê một" (whole), "bê không trăm linh
    # một" (hundreds), "bê không không một" (digits); docs/voice.md.
    number_style: Literal["whole", "hundreds", "digits"] = "whole"
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

    @field_validator("number_style", mode="before")
    @classmethod
    def _old_style_name(cls, v: object) -> object:
        # "words" was the name of "whole" before hundreds existed; old files still start.
        return "whole" if v == "words" else v


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
        unique("bridge.devices", "port", [d.port for d in self.devices])
        unique("bridge.devices", "counter", [d.counter for d in self.devices])
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
    # The dashboard's alerts: a counter has this many waiting while another
    # open counter serves nobody.  (A wait over [targets] is the other alert.)
    alert_imbalance_waiting: int = Field(default=10, ge=1, le=1000)


class PhoneSection(Section):
    """The citizen's phone page on its own listener (docs/phone.md); absent: no page,
    and the ticket's QR carries only the ticket id."""

    # What the ticket's QR opens: the appliance's address on the centre's
    # Wi-Fi, as a phone reaches it (a LAN name or IP, and the page's port).
    public_url: str = Field(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
    # The page's own listener, never the staff console's.
    host: str = "0.0.0.0"
    port: int = Field(default=8090, ge=1, le=65535)
    # The site secret that keys each ticket's token; made on first start
    # (readable by the phucvu user only).
    secret_file: str = "/var/lib/phucvu/phone.key"
    # How long after its finish a ticket may be rated from a phone, in
    # minutes; absent: until the core closes the day.
    rating_window_min: int | None = Field(default=None, ge=1, le=24 * 60)
    # Requests one client address may make per minute (page, state, rating).
    requests_per_min: int = Field(default=60, ge=5, le=6000)
    # Live streams (one per open page) one client address may hold.
    streams_per_client: int = Field(default=4, ge=1, le=100)


class UplinkSection(TlsClient):
    """The bridge from this site's Mosquitto to the provincial broker (docs/multi-site.md)."""

    host: str = Field(min_length=1)
    port: int = Field(default=8883, ge=1, le=65535)
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
