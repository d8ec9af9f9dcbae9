"""A ticket's token: what makes its phone address unguessable.

Ticket ids are public and predictable (``20261202-B001``), so the address a
ticket's QR opens carries, beside the id, a keyed hash of it with a secret
kept on the appliance: ``<public_url>/t/<ticket_id>/<token>``.  Without the
secret nobody can make the token of another ticket, and a token is good for
its own ticket only.  The core makes tokens (it prints the QR) and checks
them again on every phone rating; the phone page's server checks them before
anything else.

The secret is 32 random bytes in a file readable by its owner only, made by
whichever process starts first (``load_or_create``: a whole file linked into place, so two processes
starting together end up with the same secret).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from pathlib import Path

from kiosk import durable

# 96 bits, in 16 URL-safe characters: short enough for a small QR, far out
# of reach of guessing through a rate-limited page.
TOKEN_BYTES = 12
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16}")
SECRET_BYTES = 32


class SecretError(RuntimeError):
    """The secret file is unreadable, or not a secret this module made."""


def make(secret: bytes, ticket_id: str) -> str:
    """The token of ``ticket_id`` under ``secret``."""
    mac = hmac.new(secret, b"phucvu-ticket:" + ticket_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:TOKEN_BYTES]).decode("ascii")


def check(secret: bytes, ticket_id: str, token: str) -> bool:
    """True when ``token`` is ``ticket_id``'s (in constant time)."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return False
    return hmac.compare_digest(make(secret, ticket_id), token)


def address(public_url: str, secret: bytes, ticket_id: str) -> str:
    """What the ticket's QR carries."""
    return f"{public_url.rstrip('/')}/t/{ticket_id}/{make(secret, ticket_id)}"


def load_or_create(path: str | Path) -> bytes:
    """The site secret in ``path``, made (0600) when the file does not exist."""
    path = Path(path)
    if path.exists():
        return _read(path)
    # Made durable before it takes its name, and only if the name is free:
    # of two processes starting together one secret wins, and a power cut
    # never leaves an empty file.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        durable.create(path, secrets.token_hex(SECRET_BYTES).encode("ascii") + b"\n")
    except OSError as e:
        raise SecretError(f"{path}: cannot create the phone secret: {e.strerror}") from None
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SecretError(f"{path}: cannot read the phone secret: {e}") from None
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        # A stranger's file: refuse rather than key tokens with something guessable.
        raise SecretError(f"{path}: not a phone secret (64 hex digits expected); "
                          "delete it to make a new one (printed QRs of today stop working)")
    return bytes.fromhex(text)
