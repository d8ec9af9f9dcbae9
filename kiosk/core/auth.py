"""PIN hashing for officials: scrypt (memory-hard), salted, no default PIN.

Stored as ``scrypt$n$r$p$salt_hex$hash_hex`` so parameters can grow later
without breaking old hashes.
"""
from __future__ import annotations

import hashlib
import hmac
import os

N, R, P = 2**14, 8, 1


def hash_pin(pin: str) -> str:
    if not (4 <= len(pin) <= 12 and pin.isdigit()):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def pin_matches(official: dict | None, pin: str) -> bool:
    """An active official from the roster whose PIN this is."""
    return official is not None and official["active"] and check_pin(pin, official["pin_hash"])


def check_pin(pin: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)
