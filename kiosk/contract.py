"""The bus contract: topic names and payload schemas (the code side of docs/mqtt.md).

Every topic lives under the site prefix (``phucvu/<site>`` by default, no
leading slash).  Payloads are UTF-8 JSON with Vietnamese as is.  Inbound
payloads (what the core accepts) are validated by the pydantic models here;
outbound payloads are built by the core and documented with examples on the
contract page.  ``TOPICS`` is the list a test compares with docs/mqtt.md.

Only MQTT 3.1.1 features are used: request/reply works by a reply topic and
a correlation id inside the payload, not by MQTT 5 properties.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# How a client connects, and the payloads every part writes, live in a room
# of their own (no pydantic: the wall display uses it); the topic names in
# another.  Everyone imports them from here.
from kiosk.contract_link import (  # noqa: F401
    PayloadError,
    announce_online,
    encode,
    mqtt_client,
    no_delay,
    presence,
    read_password,
)
from kiosk.topics import COUNTER_SEGMENT, TOPICS, Topics, TopicSpec  # noqa: F401

ClientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
MessageId = Annotated[str, Field(min_length=1, max_length=80)]


# ------------------------------------------------------------------ inbound
class _Inbound(BaseModel):
    # strict: a JSON string "1" or true is not the number 1.  A payload that
    # needs coercion was written against another contract; saying so beats
    # guessing, above all for a rating level.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class TicketRequest(_Inbound):
    request_id: MessageId
    # The reply goes to ticket/reply/<login>, the login named in the request
    # topic.  ``client`` is optional and, if given, must be that same login.
    client: ClientId | None = None
    field: str = Field(min_length=1, max_length=32)
    priority: str | None = None
    lang: Literal["vi", "en"] = "vi"


class _Pressed(_Inbound):
    """Where and when a box's key or button was pressed, on the box's clock.

    ``boot`` is the box's random per-boot id and ``device_time_ms`` its
    monotonic milliseconds since that boot: together with ``device`` they
    let the core judge a press on when it was made, not on when it arrived
    (docs/reports.md, "Judged on the press").  All three or none.
    """

    device: str | None = Field(default=None, min_length=1, max_length=64)
    boot: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    device_time_ms: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    # The bridge's own clock: which bridge process (``<login>:<random boot
    # id>``), and its monotonic milliseconds when the event was pressed (as
    # well as the bridge can tell, from the box's HEARTBEATs) and when it
    # published this copy.  They place the press of
    # a box whose clock the core has not learnt yet (a box just rebooted).
    relay: str | None = Field(default=None, min_length=1, max_length=80)
    relay_rx_ms: int | None = Field(default=None, ge=0)
    relay_tx_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _all_or_none(self):
        given = [x is not None for x in (self.device, self.boot, self.device_time_ms)]
        if any(given) and not all(given):
            raise ValueError("'device', 'boot' and 'device_time_ms' go together")
        relayed = [x is not None for x in (self.relay, self.relay_rx_ms, self.relay_tx_ms)]
        if any(relayed) and not (all(relayed) and all(given)):
            raise ValueError("'relay', 'relay_rx_ms' and 'relay_tx_ms' go together, "
                             "with the box's 'device', 'boot' and 'device_time_ms'")
        if all(relayed) and self.relay_rx_ms > self.relay_tx_ms:
            raise ValueError("'relay_rx_ms' is after 'relay_tx_ms'")
        return self

    @property
    def link(self) -> str | None:
        """One boot of one box: the unit its clock is counted in."""
        return None if self.boot is None else f"{self.device}:{self.boot:08x}"

    @property
    def press(self) -> tuple | None:
        """What the domain needs to place the press in time (``domain.map_press``)."""
        if self.link is None:
            return None
        if self.relay is None:
            return (self.link, self.device_time_ms)
        return (self.link, self.device_time_ms, self.relay, self.relay_rx_ms, self.relay_tx_ms)


COUNTER_ACTIONS = ("next", "recall", "no_show", "finish", "transfer", "pause", "resume", "call")


class CounterCommand(_Pressed):
    command_id: MessageId
    action: Literal["next", "recall", "no_show", "finish", "transfer", "pause", "resume", "call"]
    number: str | None = Field(default=None, pattern=r"^[A-Za-z]\d{1,3}$")
    to_field: str | None = None
    to_counter: int | None = Field(default=None, ge=1, le=99)
    source: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _arguments(self) -> "CounterCommand":
        if self.action == "call" and not self.number:
            raise ValueError("action 'call' needs 'number' (e.g. \"B023\")")
        if self.action == "transfer" and (self.to_field is None) == (self.to_counter is None):
            raise ValueError("action 'transfer' needs exactly one of 'to_field' or 'to_counter'")
        if self.action != "call" and self.number is not None:
            raise ValueError(f"'number' is only for action 'call', not {self.action!r}")
        if self.action != "transfer" and (self.to_field or self.to_counter):
            raise ValueError("'to_field'/'to_counter' are only for action 'transfer'")
        return self


class RatingPress(_Pressed):
    """One press of a satisfaction button, as the device reported it.

    ``rating_id`` must be the same on every redelivery of the same press
    (the bridge derives it from device, boot id and sequence number), so the
    core stores a press once however often it arrives.  ``level`` is the
    button's number as the box sends it (a byte): a button the site has no
    level for is still a press, kept as the anomaly ``bad_level``.
    """

    rating_id: MessageId
    level: int = Field(ge=0, le=255)        # 1 = the first (best) level in config order
    received_at: float | None = None        # bridge receive time, epoch seconds
    # Who relayed it ("bridge:counter-3").  Never "phone": that source marks
    # a rating from the phone page, which reports count apart.
    source: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _not_phone(self) -> "RatingPress":
        if self.source == "phone":
            raise ValueError("source: 'phone' is the phone page's, not a box's")
        return self


class PhoneRating(_Inbound):
    """A citizen's rating from the phone page (docs/mqtt.md, ``phone/rating``).

    Only the shape is checked here.  Whether the token is the ticket's, the
    reasons are the site's and the comment may go with them is the core's
    judgement (kiosk/core/domain/ratings.py), so the page hears a specific
    code (``bad_token``, ``bad_reason``) rather than ``bad_payload``.
    """

    # "phone-" first: a phone's id can never take a box's press id (which
    # would make the box's press look delivered twice and drop it).
    rating_id: str = Field(min_length=7, max_length=80, pattern=r"^phone-")
    ticket_id: str = Field(min_length=1, max_length=40)
    token: str = Field(min_length=1, max_length=64)
    level: int = Field(ge=0, le=255)        # 1 = the first (best) level, as a box's button
    reasons: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=64)
    comment: str | None = Field(default=None, max_length=2000)
    client: str = Field(default="", max_length=64)   # a hash of the client address, for logs


class CoreCommand(_Inbound):
    command_id: MessageId
    action: Literal["close_day", "issue", "republish", "reprint", "notice", "login", "logout",
                    "official_add", "official_pin", "official_active", "config_apply",
                    "config_restore", "print_test", "voice_test", "case_update"]
    field: str | None = None
    priority: str | None = None
    # reprint: a ticket label ("A013") or id ("20261127-A013") of today.
    ticket: str | None = Field(default=None, max_length=40)
    # reprint a ticket that did print (lost, torn): only on purpose.
    force: bool = False
    # notice: the text the wall displays scroll; empty returns to the config's.
    text: str | None = Field(default=None, max_length=500)
    # login / logout: who, where; with a PIN the core checks it.
    official: str | None = Field(default=None, max_length=32)
    counter: int | None = Field(default=None, ge=1, le=99)
    pin: str | None = Field(default=None, max_length=12)
    # The roster (admins): a PIN travels only as its hash.
    name: str | None = Field(default=None, max_length=120)
    role: Literal["staff", "head", "admin"] = "staff"
    pin_hash: str | None = Field(default=None, max_length=200)
    active: bool | None = None
    source: str = Field(default="", max_length=64)
    # The site config (admins): who saves, the hash of the config the editor
    # loaded, and the whole config as TOML would parse it; or a version to restore.
    by: str = Field(default="", max_length=32, pattern=r"^[A-Za-z0-9_.-]*$")
    base: str | None = Field(default=None, max_length=64)
    config: dict[str, Any] | None = None
    version: int | None = Field(default=None, ge=1)
    # case_update (the head): which follow-up case, to what, and the note
    # (the core cleans it and holds it to 1000 characters: bad_note).
    case: int | None = Field(default=None, ge=1)
    status: Literal["looked_into", "closed"] | None = None
    note: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _arguments(self) -> "CoreCommand":
        # Who changed a case is on its log for good: never anonymous.
        if self.action == "case_update" and (self.case is None or self.status is None or not self.by):
            raise ValueError("action 'case_update' needs 'case', 'status' and 'by'")
        if self.action in ("config_apply", "config_restore") and not self.by:
            raise ValueError(f"action {self.action!r} needs 'by' (who saves it)")
        if self.action == "config_apply" and (self.config is None or self.base is None):
            raise ValueError("action 'config_apply' needs 'config' and 'base'")
        if self.action == "config_restore" and self.version is None:
            raise ValueError("action 'config_restore' needs 'version'")
        if self.action == "voice_test" and not self.text:
            raise ValueError("action 'voice_test' needs 'text'")
        if self.action == "issue" and not self.field:
            raise ValueError("action 'issue' needs 'field'")
        if self.action == "reprint" and not self.ticket:
            raise ValueError("action 'reprint' needs 'ticket'")
        if self.action == "notice" and self.text is None:
            raise ValueError("action 'notice' needs 'text'")
        if self.action == "login" and (not self.official or self.counter is None):
            raise ValueError("action 'login' needs 'official' and 'counter'")
        if self.action == "logout" and self.counter is None:
            raise ValueError("action 'logout' needs 'counter'")
        if self.action.startswith("official_") and not self.official:
            raise ValueError(f"action {self.action!r} needs 'official'")
        if self.action == "official_add" and not self.name:
            raise ValueError("action 'official_add' needs 'name'")
        if self.action == "official_pin" and not self.pin_hash:
            raise ValueError("action 'official_pin' needs 'pin_hash'")
        if self.action == "official_active" and self.active is None:
            raise ValueError("action 'official_active' needs 'active'")
        return self


def decode(model: type[BaseModel], payload: bytes) -> Any:
    """Parse and validate an inbound payload, with a one-line reason on failure."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PayloadError(f"payload is not UTF-8 (byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PayloadError(f"payload is not JSON: {e.msg} at char {e.pos}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"payload must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        parts = []
        for err in e.errors()[:3]:
            loc = ".".join(str(x) for x in err["loc"]) or "payload"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            parts.append(f"{loc}: {msg.removeprefix('Value error, ')}")
        raise PayloadError("; ".join(parts)) from None
