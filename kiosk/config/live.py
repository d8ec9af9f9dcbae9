"""Taking a saved change while running: the retained ``config/site`` merged
into a device's own config (docs/mqtt.md, "config/site").

Pure (no I/O): the kiosk, the wall display, the speaker and the bridge each
hand the decoded payload to ``Live.offer`` on their own thread and apply what
comes back.  The core is the only writer of the site file; a device takes
from it only the sections a running centre may change and keeps its own
``mqtt``, ``store``, ``printer``, ``bridge``, ``uplink`` and ``web`` (the bus
login, the database and the serial ports belong to the machine, not to the
centre's description).  A payload for another site, or one that would move
the site to another time zone, is refused: that is a different centre, or a
change that needs a restart (the core refuses it too).
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Callable

from kiosk.config.errors import ConfigError

if TYPE_CHECKING:
    from kiosk.config.site import SiteConfig

# Standard library only at import: the wall display runs ``Live`` with the
# merge done by the pydantic schema in a child process (kiosk/config/checked.py),
# and so never loads pydantic itself.

# The sections a running device takes from the core (the contract's list;
# ``web`` is the web process's alone).
LIVE_SECTIONS = ("site", "hours", "fields", "counters", "priority", "rating", "display", "announcer")
SOURCE = "config/site"


def config_hash(config: Any) -> str:
    """The contract's hash: the first 16 hex of sha256 of the sorted JSON dump
    (of a validated config, a ``SiteView`` or a dict already dumped)."""
    body = config if isinstance(config, dict) else config.model_dump(mode="json")
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def merge(local: Any, payload: dict[str, Any]) -> "SiteConfig":
    """``local`` with the live sections of the ``config/site`` payload.

    Raises ConfigError (one line per problem, each starting ``config/site:``)
    for a payload that is not the contract's, names another site or time
    zone, or does not validate once merged; ``local`` is never changed.
    """
    if not isinstance(payload, dict):
        raise ConfigError(f"{SOURCE}: expected a JSON object")
    remote = payload.get("config")
    if not isinstance(remote, dict):
        raise ConfigError(f"{SOURCE}: no 'config' object in the payload")
    site = remote.get("site")
    if not isinstance(site, dict):
        raise ConfigError(f"{SOURCE}: site: required table is missing")
    if site.get("id") != local.site.id:
        raise ConfigError(f"{SOURCE}: site.id: this device serves {local.site.id!r}, "
                          f"the payload is for {site.get('id')!r}; not applied")
    remote_tz = site.get("timezone", local.site.timezone)
    if remote_tz != local.site.timezone:
        raise ConfigError(f"{SOURCE}: site.timezone: changed from {local.site.timezone!r} to "
                          f"{remote_tz!r}; a time zone change needs a restart, not applied")
    merged = local.model_dump(mode="json", exclude_none=True)
    for name in LIVE_SECTIONS:
        if name in remote:
            merged[name] = remote[name]
        else:
            # A section left out is its default, as in the file.
            merged.pop(name, None)
    from kiosk.config.loading import parse
    return parse(merged, SOURCE)


class Live:
    """What one device runs now, and the hash it was told last.

    ``offer(payload)`` returns the new config to apply, or None when there is
    nothing new for this device (the same hash again on every reconnect of
    the core, or a change only to sections it keeps local); it raises
    ConfigError and keeps ``config`` when the payload cannot be used.
    ``merge_with`` is ``merge`` above unless told otherwise (the display's
    is ``checked.merge``: the same, in a child process).
    """

    def __init__(self, config: Any, merge_with: Callable[[Any, dict[str, Any]], Any] | None = None):
        self.config = config
        self._merge = merge_with or merge
        self.hash = config_hash(config)
        self.version: int | None = None

    def offer(self, payload: dict[str, Any]) -> SiteConfig | None:
        told = payload.get("hash") if isinstance(payload, dict) else None
        if isinstance(told, str) and told == self.hash:
            return None
        new = self._merge(self.config, payload)
        # Remembered even when nothing this device takes changed, so the
        # next republish of the same version is a no-op at once.
        self.hash = told if isinstance(told, str) else config_hash(new)
        version = payload.get("version")
        self.version = version if isinstance(version, int) else self.version
        if new == self.config:
            return None
        self.config = new
        return new


def changed_sections(old: Any, new: Any) -> list[str]:
    """The live sections that differ (for one log line per applied change)."""
    return [name for name in LIVE_SECTIONS if getattr(old, name) != getattr(new, name)]
