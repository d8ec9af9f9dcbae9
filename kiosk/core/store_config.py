"""The site config's history in the core's database (table ``config_versions``).

The core is its only writer; a version is one row, committed in the same
transaction as the command reply that announced it, so a redelivered
``config_apply`` finds its reply exactly when its version exists.  The web
reads the history through ``kiosk.core.read.queries.config_versions``.
"""
from __future__ import annotations

import json
from typing import Any

from kiosk.core.read import queries
from kiosk.core.store import Store, _put_reply


def newest(store: Store) -> dict[str, Any] | None:
    rows = queries.config_versions(store.conn, limit=1, with_toml=True)
    return rows[0] if rows else None


def version(store: Store, number: int) -> dict[str, Any] | None:
    return queries.config_version(store.conn, number)


def add(store: Store, *, at: float, by: str, hash_: str, toml: str, changes: list[str],
        reply: tuple[str, dict] | None = None) -> int:
    """A new version (the next number), with the command's reply if any; returns its number."""
    with store.transaction() as c:
        number = c.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM config_versions").fetchone()[0]
        c.execute("INSERT INTO config_versions (version, at, by, hash, toml, changes) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  (number, at, by, hash_, toml, json.dumps(changes, ensure_ascii=False)))
        if reply is not None:
            _put_reply(c, reply[0], at, {**reply[1], "version": number})
    return number
