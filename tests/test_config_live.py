"""Changing a running centre's config, end to end: a real Mosquitto, the real
``phucvu core`` process on its own copy of the site file, real SQLite.

What is checked each time is what a person would check: the reply, the
retained config/site, the snapshot and summary, the file on disk and its
``.prev``, the history rows in the database.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import sqlite3
import threading
import time
import tomllib
import uuid

import pytest

from kiosk.core import store_sitefile as sitefile
from tests.conftest import DEMO_SITE, CoreProcess


@pytest.fixture
def site_file(tmp_path):
    path = tmp_path / "etc" / "site.toml"
    path.parent.mkdir()
    shutil.copy(DEMO_SITE, path)
    return path


def start_core(broker, tmp_path, site_file) -> CoreProcess:
    return CoreProcess(broker, tmp_path / "phucvu.db", extra=["--config", str(site_file)]).start()


@pytest.fixture
def live(broker, tmp_path, site_file):
    c = start_core(broker, tmp_path, site_file)
    yield c
    c.stop()


class Admin:
    """The admin's side of the bus: sends core commands, waits for replies."""

    def __init__(self, bus):
        self.bus = bus("tester")
        self.bus.subscribe("core/reply", "config/site", "display/snapshot", "queue/summary",
                           "display/voice", "site/info")

    def send(self, body: dict, timeout: float = 10) -> dict:
        cid = body.setdefault("command_id", uuid.uuid4().hex)
        self.bus.publish("core/command", body)
        return self.bus.wait_for(lambda t, b: t == "core/reply" and b and b.get("command_id") == cid,
                                 timeout)

    def site(self, predicate=lambda b: True, timeout: float = 10) -> dict:
        return self.bus.wait_for(lambda t, b: t == "config/site" and b and predicate(b), timeout)

    def apply(self, config: dict, base: str, by: str = "qt01", **kw) -> dict:
        return self.send({"action": "config_apply", "by": by, "base": base, "config": config, **kw})


def history(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT version, by, hash, changes, toml FROM config_versions "
                            "ORDER BY version").fetchall()
    finally:
        conn.close()


def renamed(config: dict, counter: int, name: str) -> dict:
    new = copy.deepcopy(config)
    next(c for c in new["counters"] if c["number"] == counter)["name"] = name
    return new


def test_a_change_is_applied_written_published_and_kept_in_history(live, bus, site_file):
    admin = Admin(bus)
    first = admin.site()
    assert first["version"] == 1 and first["by"] == "file"
    assert first["hash"] == sitefile.config_hash(first["config"])
    before = site_file.read_bytes()
    reply = admin.apply(renamed(first["config"], 1, "Quầy một"), first["hash"])
    assert reply["ok"] is True, reply
    assert reply["version"] == 2
    assert reply["changes"] == ["counters[1].name: 'Quầy 1' → 'Quầy một'"]
    assert reply["effects"] == ["counters[1].name: shown everywhere at once; tickets already "
                                "printed keep the old text"]
    now = admin.site(lambda b: b["version"] == 2)
    assert now["hash"] == reply["hash"] != first["hash"] and now["by"] == "qt01"
    assert now["changes"] == reply["changes"]
    assert now["config"]["counters"][0]["name"] == "Quầy một"
    snap = admin.bus.wait_for(lambda t, b: t == "display/snapshot"
                              and b["counters"][0]["name"] == "Quầy một")
    assert snap["counters"][0]["number"] == 1
    # The file: the new config under a header saying who and which version;
    # the old file kept byte for byte as .prev; no temporary file left.
    text = site_file.read_text(encoding="utf-8")
    assert text.startswith("# phucvu site config version 2, saved by qt01 at ")
    assert tomllib.loads(text)["counters"][0]["name"] == "Quầy một"
    assert (site_file.parent / "site.toml.prev").read_bytes() == before
    assert sorted(p.name for p in site_file.parent.iterdir()) == ["site.toml", "site.toml.prev"]
    rows = history(live.db)
    assert [(r[0], r[1]) for r in rows] == [(1, "file"), (2, "qt01")]
    assert rows[1][2] == reply["hash"] and json.loads(rows[1][3]) == reply["changes"]
    assert rows[1][4] == text
    # The same config again is no change: ok, same version, nothing written.
    again = admin.apply(now["config"], now["hash"])
    assert again["ok"] and again["version"] == 2 and again["changes"] == []
    assert len(history(live.db)) == 2


def test_restore_stale_invalid_and_restart_needed(live, bus, site_file):
    admin = Admin(bus)
    first = admin.site()
    v2 = admin.apply(renamed(first["config"], 2, "Quầy hai"), first["hash"])
    assert v2["ok"], v2
    # An editor that loaded version 1 saves on top of version 2: stale.
    stale = admin.apply(renamed(first["config"], 3, "Quầy ba"), first["hash"])
    assert stale["ok"] is False and stale["error"]["code"] == "config_stale"
    assert "reload" in stale["error"]["message"]
    # An invalid config: one error per key, loc as the config's own messages name it.
    bad = copy.deepcopy(admin.site(lambda b: b["version"] == 2)["config"])
    bad["fields"][0]["prefix"] = "ab"
    bad["fields"][1]["minutes_per_citizen"] = 0
    text = site_file.read_bytes()
    refused = admin.apply(bad, v2["hash"])
    assert refused["ok"] is False and refused["error"]["code"] == "config_invalid"
    locs = {e["loc"]: e["message"] for e in refused["error"]["errors"]}
    assert locs["fields[0].prefix"] == "String should match pattern '^[A-Z]$', got 'ab'"
    assert "fields[1].minutes_per_citizen" in locs
    assert site_file.read_bytes() == text
    # The bus's port is no live change.
    moved = copy.deepcopy(bad)
    moved["fields"][0]["prefix"], moved["fields"][1]["minutes_per_citizen"] = "A", 5
    moved["mqtt"]["port"] = 1999
    restart = admin.apply(moved, v2["hash"])
    assert restart["error"]["code"] == "restart_needed" and restart["error"]["keys"] == ["mqtt.port"]
    assert site_file.read_bytes() == text
    # Version 1 restored: a new version 3, by whoever restored it.
    back = admin.send({"action": "config_restore", "by": "qt02", "version": 1})
    assert back["ok"] and back["version"] == 3, back
    assert back["changes"] == ["counters[2].name: 'Quầy hai' → 'Quầy 2'"]
    assert back["hash"] == first["hash"]
    assert admin.site(lambda b: b["version"] == 3)["by"] == "qt02"
    unknown = admin.send({"action": "config_restore", "by": "qt02", "version": 99})
    assert unknown["error"]["code"] == "unknown_version"
    assert [(r[0], r[1]) for r in history(live.db)] == [(1, "file"), (2, "qt01"), (3, "qt02")]


def test_print_test_and_voice_test(live, bus):
    admin = Admin(bus)
    before = set(live.tickets.glob("*")) if live.tickets.exists() else set()
    printed = admin.send({"action": "print_test", "by": "qt01"}, timeout=20)
    assert printed["ok"] is True, printed
    assert set(printed["printer"]) == {"state", "detail", "at"}
    # The simulated printer kept what it was sent: one new ticket.
    assert len(set(live.tickets.glob("*")) - before) >= 1
    text = "Mời công dân có số thứ tự A001 đến quầy số 1"
    voiced = admin.send({"action": "voice_test", "by": "qt01", "text": text})
    assert voiced["ok"] is True
    said = admin.bus.wait_for(lambda t, b: t == "display/voice")
    assert said["text"] == text and said["id"] == voiced["command_id"]
    assert not any(r for t, _, r in admin.bus.messages if t.endswith("/display/voice"))
