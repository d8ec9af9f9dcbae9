"""What the first-run wizard collects, and the files it writes: no Kivy here.

``Draft`` holds the answers; ``Draft.config()`` turns them into the site
config as TOML would parse it, validated by ``kiosk.config.parse`` (the same
model as ``phucvu config check``); ``save()`` writes, next to the real site
file: ``kiosk-admin.pin_hash`` and ``first-admin.json`` (mode 0600, THE
CONTRACT "First admin" in docs/admin.md), then the site file itself, last,
because its appearance is what starts the other services
(deploy/systemd/phucvu-configured.path) and the core must find the first
admin when it starts.  Every file goes through tmp + fsync + rename + fsync
of the directory, so a power cut leaves either no file or the whole file.
"""
from __future__ import annotations

import glob
import json
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from kiosk import config as site_config
from kiosk import durable
from kiosk.ui.i18n import t

USUAL_FIELDS = Path(__file__).with_name("wizard_fields.toml")
PIN_HASH_NAME = "kiosk-admin.pin_hash"
FIRST_ADMIN_NAME = "first-admin.json"
CENTRE_PREFIX = t("wz_centre_prefix")
# The administrative level (xã, phường, ...) is not part of a site's id.
LEVELS = tuple(level + " " for level in t("wz_levels").split("|"))
MAX_COUNTERS = 12
# A kiosk box runs the broker and the core itself (deploy/install.sh): these
# are the local sections the wizard writes; tests pass their own.
KIOSK_BOX_LOCAL: dict[str, Any] = {
    "mqtt": {"host": "127.0.0.1", "port": 1883, "password_file": "/etc/phucvu/secrets/core.password"},
    "store": {"path": "/var/lib/phucvu/phucvu.db"},
}


def usual_fields() -> list[dict[str, Any]]:
    """The list the wizard offers (kiosk/ui/wizard_fields.toml), each a fresh dict."""
    with USUAL_FIELDS.open("rb") as f:
        return [dict(x) for x in tomllib.load(f)["fields"]]


def plain(text: str) -> str:
    """``text`` without diacritics (and d for the barred d), lower case."""
    text = text.replace("\u0111", "d").replace("\u0110", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()


def site_id(commune: str) -> str:
    """``site.id`` from the commune's name, the level and the marks dropped
    (tests/test_wizard.py has examples)."""
    low = unicodedata.normalize("NFC", commune).strip().lower()
    for level in LEVELS:
        if low.startswith(level) and len(low) > len(level):
            low = low[len(level):]
            break
    slug = re.sub(r"[^a-z0-9]+", "-", plain(low)).strip("-")[:32].strip("-")
    return slug or "centre"


def spread(codes: list[str], counters: int) -> list[list[str]]:
    """A sensible first split of the fields over the counters.

    Fewer counters than fields: the fields are dealt out in turn.  As many or
    more: counter i serves field i mod n, so each field has its own counter and
    the busiest (the first ones in the list) get the extra counters."""
    if not codes or counters < 1:
        return [[] for _ in range(max(counters, 0))]
    if counters < len(codes):
        return [[c for j, c in enumerate(codes) if j % counters == i] for i in range(counters)]
    return [[codes[i % len(codes)]] for i in range(counters)]


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


@dataclass
class Draft:
    """The wizard's answers so far."""

    commune: str = ""
    centre: str = ""
    fields: list[dict[str, Any]] = field(default_factory=usual_fields)
    counters: list[list[str]] = field(default_factory=list)
    morning: tuple[str, str] = ("07:00", "11:30")
    afternoon: tuple[str, str] = ("13:30", "17:00")
    saturday: bool = False      # Saturday morning besides ``days``
    days: list[str] = field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    pin: str = ""
    printer: str = "none"
    local: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(KIOSK_BOX_LOCAL)))

    def chosen(self) -> list[dict[str, Any]]:
        return [f for f in self.fields if f["on"]]

    def set_counters(self, n: int) -> None:
        self.counters = spread([f["code"] for f in self.chosen()], max(1, min(MAX_COUNTERS, n)))

    def problems(self) -> list[str]:
        """Why the counters step cannot be left yet (Vietnamese, one line each)."""
        out = []
        chosen = [f["code"] for f in self.chosen()]
        for f in self.chosen():
            if not any(f["code"] in c for c in self.counters):
                out.append(t("wz_unserved", name=f["name_vi"]))
        for i, c in enumerate(self.counters, 1):
            if not [x for x in c if x in chosen]:
                out.append(t("wz_counter_empty", n=i))
        return out

    def hours(self) -> list[dict[str, Any]]:
        days = [d for d in site_config.WEEKDAYS if d in self.days]
        morning = days + (["sat"] if self.saturday and "sat" not in days else [])
        return [{"days": [d for d in site_config.WEEKDAYS if d in morning],
                 "open": self.morning[0], "close": self.morning[1]},
                {"days": days, "open": self.afternoon[0], "close": self.afternoon[1]}]

    def config(self) -> dict[str, Any]:
        """The site config as TOML would parse it (not yet validated)."""
        chosen = [f["code"] for f in self.chosen()]
        cfg: dict[str, Any] = {
            "site": {"id": site_id(self.commune), "commune": self.commune.strip(),
                     "centre": self.centre.strip(), "timezone": "Asia/Ho_Chi_Minh"},
            "hours": self.hours(),
            "fields": [{"code": f["code"], "name_vi": f["name_vi"], "name_en": f["name_en"],
                        "prefix": f["prefix"], "minutes_per_citizen": f["minutes"], "icon": f["icon"]}
                       for f in self.chosen()],
            "counters": [{"number": i, "name": t("wz_counter_name", n=i), "fields": [x for x in c if x in chosen]}
                         for i, c in enumerate(self.counters, 1)],
        }
        for section, values in self.local.items():
            cfg[section] = dict(values)
        cfg["printer"] = {**cfg.get("printer", {}), "connection": self.printer}
        return cfg

    def validate(self) -> site_config.SiteConfig:
        """The validated config; raises ConfigError with one line per problem."""
        return site_config.parse(self.config(), "wizard")


# ----------------------------------------------------------------- files
def real_path(path: str | Path) -> Path:
    """Where ``path`` really is, following symlinks even when the target is
    missing (/etc/phucvu/site.toml -> /var/lib/phucvu/config/site.toml)."""
    return Path(os.path.realpath(path))


class AlreadyConfigured(Exception):
    """Someone wrote the site file while the wizard ran; it is not overwritten."""


def save(draft: Draft, config_path: str | Path) -> dict[str, Path]:
    """Validate, then write the PIN hashes and, last, the site file.  Returns the paths."""
    from kiosk.core.auth import hash_pin as core_hash_pin
    from kiosk.ui.flow import hash_pin as kiosk_hash_pin

    draft.validate()
    target = real_path(config_path)
    if target.exists():
        raise AlreadyConfigured(f"{target} appeared while the wizard ran; it was not overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    paths = {"config": target, "pin_hash": target.with_name(PIN_HASH_NAME),
             "first_admin": target.with_name(FIRST_ADMIN_NAME)}
    durable.replace(paths["pin_hash"], (kiosk_hash_pin(draft.pin) + "\n").encode(), 0o600)
    first = {"official": "admin", "name": t("wz_admin_name"), "pin_hash": core_hash_pin(draft.pin)}
    durable.replace(paths["first_admin"], json.dumps(first, ensure_ascii=False).encode(), 0o600)
    text = ("# Written by the kiosk's first-run wizard; every key is described in docs/config.md.\n"
            + tomli_w.dumps(draft.config()))
    # Only if the name is still free: the check above leaves a moment.
    if not durable.create(target, text.encode("utf-8"), 0o640):
        raise AlreadyConfigured(f"{target} appeared while the wizard ran; it was not overwritten")
    return paths


# ----------------------------------------------------------------- printers
def find_printers(extra: str | None = None) -> list[str]:
    """Connections to offer: ``extra`` (the kiosk's --printer), USB line
    printers, serial adapters by id, then "none"."""
    found = [extra] if extra else []
    found += [f"file:{p}" for p in sorted(glob.glob("/dev/usb/lp*"))]
    found += [f"serial:{p}" for p in sorted(glob.glob("/dev/serial/by-id/*"))]
    return found + ["none"]
