"""The wall display's view-model: bus messages in, what the screen shows out.

Pure: no Kivy, no paho, no clock of its own.  The app feeds it the decoded
payloads of ``display/snapshot``, ``event/call``, ``display/notice`` and
``presence/core`` (and a merged ``config/site``, ``apply_config``) together with a monotonic time, and asks ``view(now,
wall)`` for plain data to put into widgets.  That keeps every rule (which
call is highlighted, when the "Mất kết nối" mark shows) testable without a
window.

Staleness: the core republishes its snapshot at least every keepalive
seconds, so silence for longer than 1.5 x keepalive means the broker or the
core is gone.  A retained ``presence/core`` of "offline" (the core's last
will) means the same at once.  Both clear by themselves when the core speaks
again.
"""
from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from kiosk import waitwords

log = logging.getLogger("phucvu.display")

WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
STATUS_VI = {"open": "", "paused": "Tạm dừng", "closed": "Đóng"}
STALE_TEXT = "Mất kết nối"
WAITING_TEXT = "Đang kết nối…"
# A snapshot's minutes per field (docs/mqtt.md display/snapshot).
WAIT_KEYS = waitwords.WAIT_KEYS


def _nfc(v: Any) -> str:
    return unicodedata.normalize("NFC", str(v)) if v is not None else ""


def _list(v: Any) -> list:
    return v if isinstance(v, list) else []


class BadMessage(ValueError):
    """A payload the display cannot use; logged with the topic, never shown."""


@dataclass(frozen=True)
class CounterRow:
    number: int
    name: str
    current: str          # "" when the counter serves nobody
    field_name: str
    official: str
    status: str           # open | paused | closed
    status_text: str      # Vietnamese, "" when open
    highlight: bool       # the newest call is at this counter and still fresh


@dataclass(frozen=True)
class CallRow:
    label: str
    counter: int
    counter_name: str
    recall: bool


@dataclass(frozen=True)
class WaitingRow:
    name: str
    prefix: str
    waiting: int
    # The wait a ticket taken now is told and its p10-p90 range (docs/wait.md);
    # None with ``told``: no open counter serves the field (all paused).
    estimated_wait_min: float | None
    next: list[str] = field(default_factory=list)   # the next labels the field calls
    closed: bool = False      # fields.closed: no new tickets (those waiting are still called)
    wait_low_min: float | None = None
    wait_high_min: float | None = None
    told: bool = True         # False: the core said no wait (older core, or a bad figure)


@dataclass(frozen=True)
class Board:
    """The public board (công khai), as the display words it."""
    served: str
    satisfied: str
    on_time: str
    wait_target_min: int


@dataclass(frozen=True)
class View:
    commune: str
    centre: str
    date_text: str
    clock_text: str
    counters: list[CounterRow]
    last_calls: list[CallRow]
    waiting: list[WaitingRow]
    notice: str
    highlight_label: str       # "" when nothing is highlighted
    highlight_counter: str
    stale: bool
    has_data: bool
    day_closed: bool
    board: Board | None = None      # None until a core that sends one speaks
    highlight_counter_no: int = 0   # the counter of highlight_counter, 0 when none


@dataclass
class _Call:
    call_id: str
    call_seq: int
    label: str
    counter: int
    counter_name: str
    field: str
    field_name: str
    recall: bool
    received: float       # monotonic time the display learnt of it


def _call_from(payload: dict[str, Any], received: float) -> _Call:
    try:
        return _Call(
            call_id=str(payload["call_id"]),
            call_seq=int(payload.get("call_seq") or 0),
            label=_nfc(payload["label"]),
            counter=int(payload["counter"]),
            counter_name=_nfc(payload.get("counter_name") or f"Quầy {int(payload['counter'])}"),
            field=str(payload.get("field") or ""),
            field_name=_nfc(payload.get("field_name_vi") or ""),
            recall=bool(payload.get("recall", False)),
            received=received,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BadMessage(f"call without a usable {e}") from None


@dataclass
class DisplayState:
    """Everything the display knows; mutate through ``apply_*`` only."""

    commune: str
    centre: str
    keepalive_s: float
    highlight_s: float = 6.0
    last_calls_shown: int = 8
    show_official: bool = False
    config_notice: str = ""
    counter_names: dict[int, str] = field(default_factory=dict)
    closed_fields: set[str] = field(default_factory=set)
    started: float = 0.0

    snapshot: dict[str, Any] | None = None
    calls: list[_Call] = field(default_factory=list)      # newest first
    notice: str = ""
    core_online: bool | None = None
    last_heard: float | None = None
    # The newest call: the one to highlight and the one announced.
    newest: _Call | None = None
    # Bad wait figures already logged (field, key, value): a snapshot comes
    # every few seconds and would repeat the same line.
    _bad_waits: set[tuple] = field(default_factory=set, repr=False)

    @classmethod
    def from_config(cls, cfg: Any, started: float = 0.0) -> "DisplayState":
        """The state of a display of this site, as the wall display starts it."""
        return cls(commune=cfg.site.commune, centre=cfg.site.centre, keepalive_s=cfg.mqtt.keepalive,
                   highlight_s=cfg.display.highlight_s, last_calls_shown=cfg.display.last_calls,
                   show_official=cfg.display.show_official, config_notice=cfg.display.notice,
                   counter_names={c.number: c.name for c in cfg.counters},
                   closed_fields={f.code for f in cfg.fields if f.closed}, started=started)

    @property
    def stale_after(self) -> float:
        return 1.5 * self.keepalive_s

    # -- inputs -----------------------------------------------------------
    def apply_snapshot(self, payload: dict[str, Any], now: float) -> list[str]:
        """Take a snapshot; returns the call_ids it brought that are new calls.

        The core publishes state before the call event, so a new call often
        arrives here first.  It is highlighted from now on, unless this is
        the display's first snapshot (or the first of a new day): calls in
        that one happened while the display was away and are shown, not
        blinked.
        """
        if not isinstance(payload, dict) or not isinstance(payload.get("counters"), list):
            raise BadMessage("snapshot without a 'counters' list")
        first = self.snapshot is None or payload.get("day") != self.snapshot.get("day")
        if first:
            # call_seq starts again each day: yesterday's calls must not
            # outrank today's, so only the snapshot's list survives.
            self.calls = []
            self.newest = None
        # Our own copy: call events patch the counter rows in place.
        self.snapshot = {**payload, "counters": [dict(r) for r in payload["counters"] if isinstance(r, dict)],
                         "waiting": [self._checked_waits(r) for r in _list(payload.get("waiting"))
                                     if isinstance(r, dict)]}
        self.last_heard = now
        merged: list[_Call] = []
        for raw in payload.get("last_calls") or []:
            try:
                merged.append(_call_from(raw, now))
            except BadMessage as e:
                log.warning("display/snapshot: skipping a last_calls entry: %s", e)
        known = {c.call_id: c for c in self.calls}
        top = max((c.call_seq for c in self.calls), default=0)
        fresh: list[str] = []
        for c in merged:
            if c.call_id in known:
                # A republished snapshot must not restart an old blink.
                c.received = known[c.call_id].received
            elif first or c.call_seq <= top:
                c.received = now - self.highlight_s
            else:
                fresh.append(c.call_id)
        seen = {c.call_id for c in merged}
        # Calls that arrived as events but are newer than this snapshot stay.
        newer = [c for c in self.calls if c.call_id not in seen
                 and c.call_seq > max((m.call_seq for m in merged), default=0)]
        self.calls = sorted(newer + merged, key=lambda c: c.call_seq, reverse=True)[:10]
        if self.calls and (self.newest is None or self.calls[0].call_seq >= self.newest.call_seq):
            self.newest = self.calls[0]
        return fresh

    def _checked_waits(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A ``waiting`` entry with its minutes checked by
        ``waitwords.checked``: floats >= 0, or None (all paused).  A figure
        that is neither is logged, once per field and value, and dropped:
        the wall shows no wait rather than a wrong one (a malformed wait is
        left out of the row, not said as paused), or a range without its
        ends."""
        row = dict(raw)
        minutes, low, high, problems = waitwords.checked(*(row.get(k) for k in WAIT_KEYS))
        for problem in problems:
            if waitwords.first_time(self._bad_waits, (row.get("field"), problem), limit=None):
                log.warning("display/snapshot: field %s: %s; not shown", row.get("field"), problem)
        if WAIT_KEYS[0] in row:
            if minutes is None and row[WAIT_KEYS[0]] is not None:
                del row[WAIT_KEYS[0]]
            else:
                row[WAIT_KEYS[0]] = minutes
        row[WAIT_KEYS[1]], row[WAIT_KEYS[2]] = low, high
        return row

    def apply_call(self, payload: dict[str, Any], now: float) -> bool:
        """Record a call event; False for a duplicate (QoS 1 may redeliver)."""
        call = _call_from(payload, now)
        self.last_heard = now
        if any(c.call_id == call.call_id for c in self.calls):
            return False
        self.calls = sorted([call] + self.calls, key=lambda c: c.call_seq, reverse=True)[:10]
        if self.newest is None or call.call_seq >= self.newest.call_seq:
            self.newest = call
        if self.snapshot is not None:
            # Show the number at once; the snapshot that follows confirms it.
            for row in self.snapshot.get("counters", []):
                if isinstance(row, dict) and row.get("number") == call.counter:
                    row["current"] = call.label
                    row["field_name_vi"] = call.field_name or row.get("field_name_vi")
        return True

    def apply_notice(self, payload: dict[str, Any]) -> None:
        text = payload.get("text", "") if isinstance(payload, dict) else None
        if not isinstance(text, str):
            raise BadMessage("notice without a 'text' string")
        self.notice = _nfc(text.strip())

    def apply_config(self, cfg: Any) -> None:
        """A saved change of the centre (config/site, already merged and valid).

        The settings are taken at once, and the snapshot in hand is patched
        to the new names, counters and fields, so the wall changes now rather
        than at the core's next snapshot (which says the same thing)."""
        self.commune, self.centre = cfg.site.commune, cfg.site.centre
        self.highlight_s = cfg.display.highlight_s
        self.last_calls_shown = cfg.display.last_calls
        self.show_official = cfg.display.show_official
        self.config_notice = _nfc(cfg.display.notice)
        self.counter_names = {c.number: c.name for c in cfg.counters}
        self.closed_fields = {f.code for f in cfg.fields if f.closed}
        snap = self.snapshot
        if snap is None:
            return
        snap["commune"], snap["centre"] = cfg.site.commune, cfg.site.centre
        rows = {r.get("number"): r for r in snap.get("counters", []) if isinstance(r, dict)}
        snap["counters"] = [{**rows.get(c.number, {"number": c.number, "status": "closed"}), "name": c.name}
                            for c in cfg.counters]
        waiting = {r.get("field"): r for r in snap.get("waiting", []) or [] if isinstance(r, dict)}
        snap["waiting"] = [{**waiting.get(f.code, {"field": f.code, "waiting": 0, "next": []}),
                            "name_vi": f.name_vi, "prefix": f.prefix} for f in cfg.fields]
        if isinstance(snap.get("board"), dict):
            snap["board"] = {**snap["board"], "wait_target_min": cfg.display.wait_target_min}

    def apply_presence(self, payload: dict[str, Any], now: float) -> None:
        status = payload.get("status") if isinstance(payload, dict) else None
        if status not in ("online", "offline"):
            raise BadMessage(f"presence with status {status!r} (expected online or offline)")
        self.core_online = status == "online"
        if self.core_online:
            self.last_heard = now

    # -- output -----------------------------------------------------------
    def is_stale(self, now: float) -> bool:
        if self.core_online is False:
            return True
        since = self.last_heard if self.last_heard is not None else self.started
        return now - since > self.stale_after

    def highlighted(self, now: float) -> _Call | None:
        c = self.newest
        if c is not None and now - c.received < self.highlight_s:
            return c
        return None

    def view(self, now: float, wall: dt.datetime) -> View:
        snap = self.snapshot or {}
        hl = self.highlighted(now)
        rows: list[CounterRow] = []
        for raw in snap.get("counters", []) or []:
            if not isinstance(raw, dict) or "number" not in raw:
                continue
            number = int(raw["number"])
            status = str(raw.get("status") or "open")
            rows.append(CounterRow(
                number=number,
                name=_nfc(raw.get("name") or self.counter_names.get(number) or f"Quầy {number}"),
                current=_nfc(raw.get("current") or ""),
                field_name=_nfc(raw.get("field_name_vi") or ""),
                official=_nfc(raw.get("official") or "") if self.show_official else "",
                status=status,
                status_text=STATUS_VI.get(status, status),
                highlight=hl is not None and hl.counter == number,
            ))
        if not rows:
            rows = [CounterRow(n, name, "", "", "", "open", "", False)
                    for n, name in sorted(self.counter_names.items())]
        waiting = []
        for raw in snap.get("waiting", []) or []:
            if isinstance(raw, dict):
                # Figures checked by apply_snapshot: numbers >= 0 or None.
                waiting.append(WaitingRow(
                    name=_nfc(raw.get("name_vi") or raw.get("field") or ""),
                    prefix=str(raw.get("prefix") or ""),
                    waiting=int(raw.get("waiting") or 0),
                    estimated_wait_min=raw.get("estimated_wait_min"),
                    next=[_nfc(x) for x in (raw.get("next") or []) if isinstance(x, str)][:3],
                    closed=raw.get("field") in self.closed_fields,
                    wait_low_min=raw.get("wait_low_min"),
                    wait_high_min=raw.get("wait_high_min"),
                    told="estimated_wait_min" in raw,
                ))
        calls = [CallRow(c.label, c.counter, c.counter_name, c.recall)
                 for c in self.calls[: self.last_calls_shown]]
        return View(
            commune=_nfc(snap.get("commune") or self.commune),
            centre=_nfc(snap.get("centre") or self.centre),
            date_text=date_vi(wall),
            # Minutes only: a seconds display would redraw the whole screen
            # every second, which a Pi without a GPU driver pays for.
            clock_text=wall.strftime("%H:%M"),
            counters=rows,
            last_calls=calls,
            waiting=waiting,
            notice=self.notice or self.config_notice,
            highlight_label=hl.label if hl else "",
            highlight_counter=hl.counter_name if hl else "",
            highlight_counter_no=hl.counter if hl else 0,
            stale=self.is_stale(now),
            has_data=self.snapshot is not None,
            day_closed=bool(snap.get("day_closed", False)),
            board=board_from(snap.get("board")),
        )


def _pct(v: Any) -> str:
    return "—" if v is None else f"{round(float(v))}%"


def board_from(raw: Any) -> Board | None:
    """The snapshot's ``board``; figures the core does not know yet read "—"."""
    if not isinstance(raw, dict):
        return None
    try:
        served = raw.get("served")
        return Board(served="—" if served is None else str(int(served)),
                     satisfied=_pct(raw.get("satisfied_pct")), on_time=_pct(raw.get("on_time_pct")),
                     wait_target_min=int(raw.get("wait_target_min") or 0))
    except (TypeError, ValueError):
        log.warning("display/snapshot: unusable board %r", raw)
        return None


def date_vi(d: dt.datetime) -> str:
    """'Thứ Sáu, 27/11/2026'."""
    return f"{WEEKDAYS_VI[d.weekday()]}, {d.day:02d}/{d.month:02d}/{d.year}"


CLOSED_FIELD_TEXT = "tạm ngừng"
NOBODY_TEXT = "không chờ"


def short_wait(row: WaitingRow) -> str:
    """The wall's per-field wait, short enough to sit beside three numbers:
    kiosk.waitwords' short form ("≈ 20 phút", "15–35 phút" when the range is
    wide, "chờ quầy mở lại" when every counter of the field is paused).  A
    closed field (no new tickets) says so once nobody of it waits."""
    if row.closed and row.waiting <= 0:
        return CLOSED_FIELD_TEXT
    if row.waiting <= 0:
        return NOBODY_TEXT
    if not row.told:
        return ""
    return waitwords.short(row.estimated_wait_min, row.wait_low_min, row.wait_high_min)
