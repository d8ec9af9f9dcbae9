"""The running centre's config: its history, and changes applied without a restart.

The core is the one writer of the site file and of its history
(``config_versions``).  A change comes from ``config_apply`` or
``config_restore`` on ``core/command``, or from the file itself (a hand
edit found at start or on SIGHUP).  Every change goes through the same
checks, in this order: the model (``config_invalid`` with one error per
key), the editor's base (``config_stale``), the keys that need a restart
(``restart_needed``), and the rules that keep anybody from being stranded
(``config_strands``, kiosk/core/domain/reconfig.py).

Durability, and why this order: the file is written first (atomically,
kiosk/core/store_sitefile.py), then the version row is committed with the
command's reply, then the running config switches.  The file's header names
the version being saved and who saves it, so a crash between the file and
the commit is recognised at the next start (the newest row is one version
behind the header) and the version is recorded as the admin's, not as a
hand edit.  A crash before the rename leaves the old file and no row: the
change did not happen, and the broker still holds the unacknowledged
command, which is then applied again (or found already there: no change).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from kiosk.config import SiteConfig
from kiosk.config.changes import diff
from kiosk.config.loading import describe_error
from kiosk.core import refusals, store_config
from kiosk.core import store_sitefile as sitefile
from kiosk.core.domain import QueueState
from kiosk.core.domain.reconfig import check
from kiosk.core.store import Store, StoreError

log = logging.getLogger("phucvu.core")

FIRST_ADMIN = "first-admin.json"


class Refused(Exception):
    """A change the core will not apply; ``body`` is the reply's refusal."""

    def __init__(self, body: dict):
        super().__init__(body["error"]["message"])
        self.body = body


def invalid(e: ValidationError) -> dict:
    """The ``config_invalid`` refusal: one ``{loc, message}`` per error, loc as
    ``describe_error`` writes it, so the admin page can put it next to its input."""
    errors = []
    for err in e.errors():
        line = describe_error(err)
        loc, sep, message = line.partition(": ") if err["loc"] else ("", "", line)
        errors.append({"loc": loc, "message": message if sep else line})
    first = "; ".join(f"{x['loc']}: {x['message']}" if x["loc"] else x["message"]
                      for x in errors[:3])
    return refusals.error("config_invalid", f"the config has {len(errors)} error(s): {first}",
                          errors=errors)


class LiveConfig:
    """The config the core runs, its version, and the file it came from.

    ``state`` and ``mono`` give the queue state and the core's monotonic
    time that the stranding rules judge against."""

    def __init__(self, path: str | Path, config: SiteConfig, store: Store,
                 clock: Callable[[], float]):
        self.path = Path(path)
        self.config = config
        self.store = store
        self.clock = clock
        self.version = 0
        self.hash = sitefile.config_hash(config)
        self.row: dict[str, Any] = {}

    # --------------------------------------------------------------- start
    def start(self) -> None:
        """The file the core started with, recorded as a version if it is new."""
        sitefile.clean(self.path)
        newest = store_config.newest(self.store)
        text = self.path.read_text(encoding="utf-8")
        if newest is not None and newest["hash"] == self.hash:
            self.version, self.row = newest["version"], newest
            return
        by, changes = "file", []
        if newest is not None:
            head = sitefile.header(text)
            if head is not None and head[0] == newest["version"] + 1:
                # Our own save, cut off between the file and the commit.
                by = head[1]
            changes = self._changes_from(newest["toml"])
        self._record(by, text, changes)
        log.info("site config version %s recorded (by %s, %d change(s))",
                 self.version, by, len(changes))

    def _changes_from(self, old_toml: str) -> list[str]:
        try:
            old = SiteConfig.model_validate(sitefile.parse_text(old_toml))
        except (ValueError, ValidationError):
            return []
        return [c.describe() for c in diff(old, self.config)]

    def _record(self, by: str, text: str, changes: list[str],
                reply: tuple[str, dict] | None = None) -> None:
        at = self.clock()
        self.version = store_config.add(self.store, at=at, by=by, hash_=self.hash, toml=text,
                                        changes=changes, reply=reply)
        self.row = {"version": self.version, "at": at, "by": by, "hash": self.hash,
                    "changes": changes}

    def payload(self) -> dict[str, Any]:
        """The retained ``config/site`` body."""
        return {"version": self.version, "hash": self.hash, "at": self.row.get("at"),
                "by": self.row.get("by"), "changes": self.row.get("changes", []),
                "config": self.config.model_dump(mode="json")}

    # --------------------------------------------------------------- checks
    def _judge(self, raw: dict, base: str | None, state: QueueState, mono: float
               ) -> tuple[SiteConfig, list[str], list[str]] | None:
        """The validated new config, its change lines and effects; None for no
        change at all; ``Refused`` for a change the core will not make."""
        try:
            new = SiteConfig.model_validate(raw)
        except ValidationError as e:
            raise Refused(invalid(e)) from None
        if sitefile.config_hash(new) == self.hash:
            # Also what a command redelivered after a crash finds.
            return None
        if base is not None and base != self.hash:
            raise Refused(refusals.error(
                "config_stale", f"the config changed since it was loaded (now version "
                f"{self.version}, hash {self.hash}); reload it and make the change again"))
        stranded, effects, restart = check(self.config, new, state, mono)
        if restart:
            raise Refused(refusals.error(
                "restart_needed", "these keys are not changed on a running centre: "
                + ", ".join(restart) + "; edit the site file and restart", keys=restart))
        if stranded:
            raise Refused(refusals.error("config_strands", " ".join(stranded), reasons=stranded))
        return new, [c.describe() for c in diff(self.config, new)], effects

    # --------------------------------------------------------------- apply
    def apply(self, raw: dict, *, by: str, base: str | None, key: str, reply: dict,
              state: QueueState, mono: float) -> tuple[dict, SiteConfig | None]:
        """A change from an admin: (reply, the new config or None when nothing changed).

        ``reply`` holds what every reply to this command carries (its id and
        action).  The reply is stored with the version, or on its own for a
        refusal, so a redelivered command gets it again."""
        try:
            judged = self._judge(raw, base, state, mono)
        except Refused as r:
            body = {**reply, **r.body}
            self.store.remember_reply(key, self.clock(), body)
            log.info("config change by %s refused: %s", by, r.body["error"]["message"])
            return body, None
        if judged is None:
            body = {**reply, "ok": True, "version": self.version, "hash": self.hash,
                    "changes": [], "effects": []}
            self.store.remember_reply(key, self.clock(), body)
            return body, None
        new, changes, effects = judged
        text = sitefile.render(raw, version=self.version + 1, by=by, at=self.clock())
        old = (self.config, self.hash)
        sitefile.write(self.path, text)
        self.config, self.hash = new, sitefile.config_hash(new)
        body = {**reply, "ok": True, "hash": self.hash, "changes": changes, "effects": effects}
        try:
            self._record(by, text, changes, (key, body))
        except BaseException:
            # Not committed: the file goes back to what the core runs.
            self.config, self.hash = old
            sitefile.undo(self.path)
            raise
        body["version"] = self.version
        log.info("site config version %s by %s: %s", self.version, by, "; ".join(changes))
        return body, new

    def restore(self, version: int, **kwargs: Any) -> tuple[dict, SiteConfig | None]:
        row = store_config.version(self.store, version)
        if row is None:
            body = {**kwargs["reply"], **refusals.error(
                "unknown_version", f"no site config version {version} (newest is {self.version})")}
            return body, None
        return self.apply(sitefile.parse_text(row["toml"]), base=None, **kwargs)

    def reread(self, state: QueueState, mono: float) -> SiteConfig | None:
        """SIGHUP: the file as it is now, through the same checks; the new config or None."""
        try:
            text = self.path.read_text(encoding="utf-8")
            new = SiteConfig.model_validate(sitefile.parse_text(text))
        except (OSError, ValueError) as e:
            lines = [describe_error(x) for x in e.errors()] if isinstance(e, ValidationError) \
                else [str(e)]
            log.error("SIGHUP: %s not applied, still running version %s: %s",
                      self.path, self.version, "; ".join(lines))
            return None
        try:
            judged = self._judge(new.model_dump(mode="json"), None, state, mono)
        except Refused as r:
            log.error("SIGHUP: %s not applied, still running version %s: %s",
                      self.path, self.version, r.body["error"]["message"])
            return None
        if judged is None:
            log.info("SIGHUP: %s unchanged (version %s)", self.path, self.version)
            return None
        new, changes, _ = judged
        self.config, self.hash = new, sitefile.config_hash(new)
        self._record("file", text, changes)
        log.info("SIGHUP: site config version %s from the file: %s", self.version,
                 "; ".join(changes))
        return new


def take_first_admin(path: str | Path, store: Store) -> str | None:
    """The wizard's first admin (``first-admin.json`` next to the site file),
    added once; the file is renamed ``.done``.  Returns the code added."""
    # Next to the path the wizard was given, or next to the file it names.
    found = [d / FIRST_ADMIN for d in (Path(path).parent, sitefile.real_path(path).parent)
             if (d / FIRST_ADMIN).exists()]
    if not found:
        return None
    f = found[0]
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
        code, name, pin_hash = data["official"], data["name"], data["pin_hash"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.error("%s cannot be read (%s); no first admin added", f, e)
        return None
    added = None
    if store.official(code) is None:
        try:
            store.apply_roster("official_add", code, name=name, role="admin", pin_hash=pin_hash)
            added = code
            log.info("first admin %s added from %s", code, f)
        except StoreError as e:
            log.error("first admin from %s not added: %s", f, e)
            return None
    os.replace(f, f.with_name(FIRST_ADMIN + ".done"))
    return added
