"""What the kiosk does with a touch and with the core's reply: pure logic, no I/O.

One ticket request is outstanding at a time.  A second touch while it is
outstanding, or within ``debounce_s`` of the last accepted touch, is ignored,
so a double tap gives one ticket.  When the core does not answer within
``busy_after_s`` the kiosk says so and re-sends the *same* request_id, then
again every ``retry_every_s``: the core answers a repeated request_id with its stored
reply, so a retry can never issue a second ticket.  After ``give_up_s`` the
kiosk stops and tells the citizen to ask staff; a reply that arrives later
is logged by the caller and shown to nobody.

Times are monotonic seconds passed in by the caller (the one clock seam).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from kiosk import waitwords

PRINT_REASONS = ("paper_out", "cover_open", "offline", "unplugged", "unknown", "error")
CLOSED_CODES = ("closed", "quota", "day_closed", "field_closed")
log = logging.getLogger("phucvu.kiosk")


@dataclass
class Pending:
    request: dict[str, Any]
    first_sent: float
    last_sent: float
    attempts: int = 1
    busy: bool = False
    # Known once the core said "issued, printing" (print status pending).
    ticket: dict[str, Any] | None = None

    @property
    def request_id(self) -> str:
        return self.request["request_id"]


@dataclass(frozen=True)
class Outcome:
    """What to show for a reply.  kind: printed | problem | closed | refused | pending."""

    kind: str
    ticket: dict[str, Any] = field(default_factory=dict)
    reason: str = ""            # print problem reason, or the error code
    message: str = ""           # the core's own words, for the log
    next_open: float | None = None


def _new_id(client: str) -> str:
    return f"{client}-{secrets.token_hex(6)}"


class TicketFlow:
    def __init__(self, client: str, *, busy_after_s: float = 2.5, retry_every_s: float = 3.0,
                 give_up_s: float = 120.0, debounce_s: float = 1.0,
                 new_id: Callable[[str], str] = _new_id):
        self.client = client
        self.busy_after_s = busy_after_s
        self.retry_every_s = retry_every_s
        self.give_up_s = give_up_s
        self.debounce_s = debounce_s
        self.new_id = new_id
        self.pending: Pending | None = None
        self.last_accepted: float | None = None

    def tap(self, field_code: str, priority: str | None, lang: str, now: float) -> dict[str, Any] | None:
        """The request to publish for a touch, or None when the touch is a repeat."""
        if self.pending is not None:
            return None
        if self.last_accepted is not None and now - self.last_accepted < self.debounce_s:
            return None
        request = {"request_id": self.new_id(self.client), "client": self.client,
                   "field": field_code, "priority": priority, "lang": lang}
        self.pending = Pending(request, first_sent=now, last_sent=now)
        self.last_accepted = now
        return request

    def tick(self, now: float) -> list[tuple[str, Any]]:
        """Due actions: ("busy", None), ("resend", request), ("give_up", pending)."""
        p = self.pending
        if p is None:
            return []
        actions: list[tuple[str, Any]] = []
        if now - p.first_sent >= self.give_up_s:
            self.pending = None
            return [("give_up", p)]
        if p.ticket is not None:
            # Issued and printing (a slow serial printer takes seconds): not
            # busy, but keep asking now and then in case the final reply is lost.
            if now - p.last_sent >= self.retry_every_s:
                p.last_sent = now
                p.attempts += 1
                actions.append(("resend", p.request))
            return actions
        if not p.busy and now - p.first_sent >= self.busy_after_s:
            # The first request may have been lost with a broker that was
            # down: re-send at once, then every retry_every_s.
            p.busy = True
            p.last_sent = now
            p.attempts += 1
            return [("busy", None), ("resend", p.request)]
        if p.busy and now - p.last_sent >= self.retry_every_s:
            p.last_sent = now
            p.attempts += 1
            actions.append(("resend", p.request))
        return actions

    def reply(self, payload: dict[str, Any]) -> Outcome | None:
        """The outcome for a reply to the outstanding request; None for any other reply."""
        p = self.pending
        if p is None or payload.get("request_id") != p.request_id:
            return None
        outcome = classify(payload)
        if outcome.kind == "pending":
            # The answer to a re-send while the first copy is still printing:
            # the final reply follows when the printer is done.
            p.ticket = outcome.ticket
            p.busy = False
            return outcome
        self.pending = None
        return outcome


def classify(payload: dict[str, Any]) -> Outcome:
    """Turn a ticket reply (docs/mqtt.md) into what the citizen should see."""
    if payload.get("ok") is True:
        ticket = payload.get("ticket")
        if not isinstance(ticket, dict) or not ticket.get("label"):
            return Outcome("refused", reason="bad_reply", message="reply has ok=true but no ticket label")
        printed = payload.get("print") or {}
        if printed.get("status") == "printed":
            return Outcome("printed", ticket=ticket)
        if printed.get("status") == "pending":
            return Outcome("pending", ticket=ticket)
        reason = printed.get("reason") or "unknown"
        return Outcome("problem", ticket=ticket, reason=reason if reason in PRINT_REASONS else "unknown")
    error = payload.get("error") or {}
    code = str(error.get("code") or "unknown")
    message = str(error.get("message") or "")
    if code in CLOSED_CODES:
        next_open = error.get("next_open")
        return Outcome("closed", reason=code, message=message,
                       next_open=float(next_open) if isinstance(next_open, (int, float)) else None)
    return Outcome("refused", reason=code, message=message)


WAIT_KEYS = waitwords.WAIT_KEYS
_bad_logged: set[tuple[str, str]] = set()


def wait_figures(d: dict[str, Any], what: str) -> dict[str, Any]:
    """The core's told wait in ``d`` (a summary field or a ticket) as
    ``minutes``, ``low``, ``high`` (floats >= 0 or None) and ``paused`` (the
    core said None: no open counter serves the field).

    Checked by ``waitwords.checked``: a figure that is not minutes >= 0 is
    logged (once per value) and taken as unsaid, no wait shown rather than
    a wrong one or a crash, and not "paused" either."""
    minutes, low, high, problems = waitwords.checked(*(d.get(k) for k in WAIT_KEYS))
    for problem in problems:
        if waitwords.first_time(_bad_logged, (what, problem)):
            log.warning("%s: %s; not shown", what, problem)
    return {"paused": WAIT_KEYS[0] in d and d[WAIT_KEYS[0]] is None,
            "minutes": minutes, "low": low, "high": high}


def field_tiles(fields: list[dict[str, Any]], summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per configured field: live waiting count, estimate (minutes, p10-p90
    range; ``paused`` when the core said None) and whether it takes numbers.

    ``fields`` are the config's fields as dicts (code, name_vi, name_en,
    prefix, and ``closed`` when the field is closed for new tickets);
    ``summary`` is the retained queue/summary, or None before the core has
    published one (then every field is shown open, counts unknown).
    """
    live = {}
    day_closed = False
    if summary:
        day_closed = bool(summary.get("day_closed"))
        live = {f.get("field"): f for f in summary.get("fields") or [] if isinstance(f, dict)}
    tiles = []
    for f in fields:
        s = live.get(f["code"])
        tile = {**f, "waiting": None, "estimate": None, "low": None, "high": None, "paused": False,
                "state": "open"}
        if s is not None:
            tile["waiting"] = s.get("waiting")
            # Said as None: no open counter serves the field, a citizen waits
            # for one to reopen (absent: a core too old to say, nothing shown).
            w = wait_figures(s, f"queue/summary field {f['code']}")
            tile["estimate"], tile["low"], tile["high"], tile["paused"] = (
                w["minutes"], w["low"], w["high"], w["paused"])
            if s.get("quota_left") == 0:
                tile["state"] = "quota"
            elif s.get("open") is False:
                tile["state"] = "closed"
        if f.get("closed"):
            # Closed by the head (fields.closed): until reopened, whatever the hours.
            tile["state"] = "field_closed"
        if day_closed:
            tile["state"] = "day_closed"
        tiles.append(tile)
    return tiles


# ---------------------------------------------------------------- admin PIN
# Format: pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>.  A hash, never the
# PIN, is kept in the environment or a file, and there is no default PIN.
def hash_pin(pin: str, *, iterations: int = 200_000, salt: bytes | None = None) -> str:
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ValueError("an admin PIN is 4 to 12 digits")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def parse_pin_hash(text: str) -> tuple[int, bytes, bytes]:
    parts = text.strip().split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256":
        raise ValueError("admin PIN hash must look like pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>"
                         " (make one with kiosk.ui.flow.hash_pin)")
    try:
        return int(parts[1]), bytes.fromhex(parts[2]), bytes.fromhex(parts[3])
    except ValueError:
        raise ValueError("admin PIN hash has a bad iteration count or hex part") from None


def check_pin(pin: str, pin_hash: str) -> bool:
    iterations, salt, want = parse_pin_hash(pin_hash)
    got = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return hmac.compare_digest(got, want)


class CornerTaps:
    """The hidden admin gesture: ``taps`` touches in the corner within ``window_s``."""

    def __init__(self, taps: int = 5, window_s: float = 3.0):
        self.taps = taps
        self.window_s = window_s
        self.times: list[float] = []

    def touch(self, in_corner: bool, now: float) -> bool:
        if not in_corner:
            self.times.clear()
            return False
        self.times = [t for t in self.times if now - t < self.window_s] + [now]
        if len(self.times) >= self.taps:
            self.times.clear()
            return True
        return False
