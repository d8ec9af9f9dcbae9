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

from kiosk.config import SiteConfig
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


def ticket(kiosk, rid: str, field: str, timeout: float = 20) -> dict:
    kiosk.publish("ticket/request/kiosk-1", {"request_id": rid, "field": field})
    return kiosk.wait_for(lambda t, b: t == "ticket/reply/kiosk-1" and b.get("request_id") == rid,
                          timeout)


def counter(box, n: int, action: str, timeout: float = 20) -> dict:
    cid = uuid.uuid4().hex
    box.publish(f"counter/{n}/command", {"command_id": cid, "action": action})
    return box.wait_for(lambda t, b: t == f"counter/{n}/reply" and b.get("command_id") == cid,
                        timeout)


def without_field(config: dict, code: str) -> dict:
    new = copy.deepcopy(config)
    new["fields"] = [f for f in new["fields"] if f["code"] != code]
    for c in new["counters"]:
        c["fields"] = [x for x in c["fields"] if x != code]
    return new


def test_a_stranding_change_is_refused_and_closing_the_field_works(live, bus, site_file):
    admin = Admin(bus)
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    box = bus("counter-1")
    box.subscribe("counter/1/reply")
    first = admin.site()
    labels = [ticket(kiosk, f"r{i}", "tu-phap")["ticket"]["label"] for i in range(3)]
    assert labels == ["A001", "A002", "A003"]
    text = site_file.read_bytes()
    refused = admin.apply(without_field(first["config"], "tu-phap"), first["hash"])
    assert refused["ok"] is False and refused["error"]["code"] == "config_strands", refused
    assert refused["error"]["reasons"] == [
        "Lĩnh vực «Tư pháp – Hộ tịch» còn 3 người chờ: không xoá được, chỉ tạm ngừng nhận số (closed)."]
    # Nothing changed: the file, the history, the running config.
    assert site_file.read_bytes() == text and len(history(live.db)) == 1
    assert ticket(kiosk, "r3", "tu-phap")["ticket"]["label"] == "A004"
    closed = copy.deepcopy(first["config"])
    closed["fields"][0]["closed"] = True
    ok = admin.apply(closed, first["hash"])
    assert ok["ok"] and ok["effects"] == [
        "fields[tu-phap].closed: no new tickets; the 4 waiting are still called"], ok
    refused = ticket(kiosk, "r4", "tu-phap")
    assert refused["ok"] is False and refused["error"]["code"] == "field_closed"
    # The line is still called, in order.
    called = [counter(box, 1, "next")["ticket"]["label"] for _ in range(4)]
    assert called == ["A001", "A002", "A003", "A004"]
    counter(box, 1, "finish")
    # Now nobody waits: the field may go.
    gone = admin.apply(without_field(closed, "tu-phap"), ok["hash"])
    assert gone["ok"], gone
    assert "tu-phap" not in [f["code"] for f in admin.site(lambda b: b["version"] == 3)["config"]["fields"]]
    summary = admin.bus.wait_for(lambda t, b: t == "queue/summary"
                                 and "tu-phap" not in [f["field"] for f in b["fields"]])
    assert [f["field"] for f in summary["fields"]][:1] == ["chung-thuc"]


def test_a_first_admin_from_the_wizard_is_taken_once(broker, tmp_path, site_file, bus):
    from kiosk.core.auth import hash_pin
    wizard = site_file.parent / "first-admin.json"
    wizard.write_text(json.dumps({"official": "admin", "name": "Quản trị viên",
                                  "pin_hash": hash_pin("2468")}), encoding="utf-8")
    os.chmod(wizard, 0o600)
    core = start_core(broker, tmp_path, site_file)
    try:
        conn = sqlite3.connect(core.db)
        rows = conn.execute("SELECT code, name, role, active FROM officials").fetchall()
        assert rows == [("admin", "Quản trị viên", "admin", 1)]
        assert not wizard.exists() and (site_file.parent / "first-admin.json.done").exists()
        admin = Admin(bus)
        ok = admin.send({"action": "login", "counter": 1, "official": "admin", "pin": "2468"})
        assert ok["ok"] is True, ok
        # A file put back (or a second wizard run) never adds a second one
        # nor changes the first one's PIN.
        core.stop()
        wizard.write_text(json.dumps({"official": "admin", "name": "Khác",
                                      "pin_hash": hash_pin("1111")}), encoding="utf-8")
        core.start()
        rows = conn.execute("SELECT code, name FROM officials").fetchall()
        assert rows == [("admin", "Quản trị viên")]
        conn.close()
    finally:
        core.stop()


def test_sighup_takes_a_hand_edit_through_the_same_checks(live, bus, site_file):
    admin = Admin(bus)
    first = admin.site()
    text = site_file.read_text(encoding="utf-8")
    site_file.write_text(text.replace('name = "Quầy 3"', 'name = "Quầy ba"'), encoding="utf-8")
    os.kill(live.proc.pid, signal.SIGHUP)
    now = admin.site(lambda b: b["version"] == 2)
    assert now["by"] == "file" and now["changes"] == ["counters[3].name: 'Quầy 3' → 'Quầy ba'"]
    admin.bus.wait_for(lambda t, b: t == "display/snapshot" and b["counters"][2]["name"] == "Quầy ba")
    # A hand edit the model refuses: one log line, the core keeps version 2.
    site_file.write_text(text.replace('prefix = "A"', 'prefix = "ab"'), encoding="utf-8")
    os.kill(live.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "SIGHUP" not in live.log.read_text() or "not applied" not in live.log.read_text():
        assert time.monotonic() < deadline, live.log.read_text()[-2000:]
        time.sleep(0.05)
    line = next(x for x in live.log.read_text().splitlines() if "not applied" in x)
    assert "fields[0].prefix" in line and "version 2" in line
    assert "Traceback" not in live.log.read_text()
    assert [r[0] for r in history(live.db)] == [1, 2]
    ok = admin.apply(renamed(now["config"], 4, "Quầy bốn"), now["hash"])
    assert ok["ok"] and ok["version"] == 3 and first["hash"] != ok["hash"]


def test_kiosk_and_counter_logins_cannot_change_the_config(live, bus, site_file):
    admin = Admin(bus)
    first = admin.site()
    forged = renamed(first["config"], 1, "Quầy giả")
    for login in ("kiosk-1", "counter-1", "display-1"):
        intruder = bus(login, client_id=login)
        intruder.publish("core/command", {"command_id": f"evil-{login}", "action": "config_apply",
                                          "by": "qt01", "base": first["hash"], "config": forged})
        intruder.publish("config/site", {**first, "version": 99, "config": forged}, retain=True)
    # The core answers an admin's command after anything sent before it.
    assert admin.send({"action": "republish"})["ok"]
    late = bus("tester")
    late.subscribe("config/site")
    got = late.wait_for(lambda t, b: t == "config/site")
    assert got["version"] == 1 and got["config"]["counters"][0]["name"] == "Quầy 1"
    assert not [b for t, b, _ in admin.bus.messages
                if t.endswith("/core/reply") and b"evil-" in b]
    assert len(history(live.db)) == 1
    assert tomllib.loads(site_file.read_text(encoding="utf-8"))["counters"][0]["name"] == "Quầy 1"


FIELDS = ["tu-phap", "chung-thuc", "dat-dai", "van-hoa-xa-hoi", "kinh-te"]


def test_an_admin_change_while_tickets_are_issued_and_called(live, bus, site_file):
    """Kiosk and four counter boxes busy on the bus while the admin changes
    counters' fields and names five times: every request answered, no number
    given twice, every ticket in the database, every call of a real ticket."""
    admin = Admin(bus)
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    boxes = {}
    for n in (1, 2, 3, 4):
        boxes[n] = bus(f"counter-{n}")
        boxes[n].subscribe(f"counter/{n}/reply")
    issued: list[dict] = []
    calls: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def issuing():
        try:
            for i in range(80):
                issued.append(ticket(kiosk, f"load-{i}", FIELDS[i % len(FIELDS)]))
        except BaseException as e:
            errors.append(e)
        finally:
            stop.set()

    def calling(n):
        try:
            while not stop.is_set():
                calls.append((n, counter(boxes[n], n, "next")))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=issuing)] + \
              [threading.Thread(target=calling, args=(n,)) for n in boxes]
    for t in threads:
        t.start()
    config = admin.site()
    base, versions = config["hash"], []
    edits = [
        lambda c: c["counters"][0].update(fields=["chung-thuc", "tu-phap"]),
        lambda c: c["counters"][1].update(name="Quầy hai", fields=["tu-phap", "chung-thuc", "dat-dai"]),
        lambda c: c["counters"][2].update(fields=["kinh-te", "dat-dai", "van-hoa-xa-hoi"]),
        lambda c: c["counters"][3].update(name="Quầy bốn", fields=["van-hoa-xa-hoi"]),
        lambda c: c["counters"][0].update(name="Quầy một", fields=["tu-phap", "chung-thuc", "kinh-te"]),
    ]
    current = copy.deepcopy(config["config"])
    for edit in edits:
        time.sleep(0.15)
        edit(current)
        reply = admin.apply(copy.deepcopy(current), base)
        assert reply["ok"], reply
        base = reply["hash"]
        versions.append(reply["version"])
    # The changes were made while the kiosk was still issuing.
    assert not stop.is_set()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert versions == [2, 3, 4, 5, 6]
    # Every request got its ticket; no label twice; the database has each.
    assert len(issued) == 80 and all(r["ok"] for r in issued), [r for r in issued if not r["ok"]]
    labels = [r["ticket"]["label"] for r in issued]
    assert len(set(labels)) == 80
    conn = sqlite3.connect(live.db)
    rows = dict(conn.execute("SELECT label, field FROM tickets").fetchall())
    assert set(rows) == set(labels)
    for field in FIELDS:
        numbers = sorted(n for (n,) in conn.execute(
            "SELECT number FROM tickets WHERE origin_field = ?", (field,)))
        assert numbers == list(range(1, 17)), (field, numbers)
    # Each call named a real ticket, each ticket was called at most once
    # (no recall here), and by a counter that served its field at the time.
    called = [r["ticket"]["label"] for _, r in calls if r["ok"]]
    assert len(called) == len(set(called)) and set(called) <= set(labels)
    assert all(r["ok"] or r["error"]["code"] == "empty" for _, r in calls), \
        [r for _, r in calls if not r["ok"]][:3]
    db_calls = conn.execute("SELECT COUNT(*) FROM calls WHERE recall = 0").fetchone()[0]
    assert db_calls == len(called)
    assert [r[0] for r in history(live.db)] == [1, 2, 3, 4, 5, 6]
    final = admin.site(lambda b: b["version"] == 6)
    assert final["config"]["counters"][0]["name"] == "Quầy một"
    on_disk = SiteConfig.model_validate(tomllib.loads(site_file.read_text(encoding="utf-8")))
    assert sitefile.config_hash(on_disk) == final["hash"]
    conn.close()
    assert "Traceback" not in live.log.read_text()


def agree(db, site_file) -> tuple[int, str]:
    """The file, the newest history row and the config/site retained now say
    the same config, and the file is a whole config; returns (version, hash)."""
    rows = history(db)
    on_disk = SiteConfig.model_validate(tomllib.loads(site_file.read_text(encoding="utf-8")))
    assert sitefile.config_hash(on_disk) == rows[-1][2]
    return rows[-1][0], rows[-1][2]


@pytest.mark.parametrize("delay", [0.0, 0.004, 0.012, 0.03, 0.1])
def test_kill_9_right_after_a_config_apply(broker, tmp_path, site_file, bus, delay):
    core = start_core(broker, tmp_path, site_file)
    try:
        admin = Admin(bus)
        first = admin.site()
        new = renamed(first["config"], 1, "Quầy một")
        admin.bus.publish("core/command", {"command_id": "k9", "action": "config_apply",
                                           "by": "qt01", "base": first["hash"], "config": new})
        time.sleep(delay)
        core.proc.kill()
        core.proc.wait()
        core.stop()
        # Whatever the moment, the file is whole and one of the two configs.
        text = site_file.read_text(encoding="utf-8")
        names = {tomllib.loads(text)["counters"][0]["name"]}
        assert names <= {"Quầy 1", "Quầy một"}
        core.start()
        # The broker kept the command until the core acknowledged it after
        # its commit: it comes again, and the change is there exactly once.
        late = bus("tester")
        late.subscribe("config/site")
        got = late.wait_for(lambda t, b: t == "config/site" and b["hash"] == sitefile.config_hash(
            SiteConfig.model_validate(new).model_dump(mode="json")), timeout=15)
        version, hash_ = agree(core.db, site_file)
        assert (version, hash_) == (got["version"], got["hash"]) == (2, got["hash"])
        rows = history(core.db)
        assert [r[1] for r in rows] == ["file", "qt01"]
        assert (site_file.parent / "site.toml.prev").exists()
        assert sorted(p.name for p in site_file.parent.iterdir()) == ["site.toml", "site.toml.prev"]
    finally:
        core.stop()


def test_a_save_cut_off_between_the_file_and_the_commit_is_the_admins(broker, tmp_path,
                                                                        site_file, bus):
    """The file renamed in place, the core killed before its commit: at the
    next start the file's header names the version and who saved it."""
    core = start_core(broker, tmp_path, site_file)
    core.stop()
    data = tomllib.loads(site_file.read_text(encoding="utf-8"))
    data["counters"][1]["name"] = "Quầy hai"
    sitefile.write(site_file, sitefile.render(data, version=2, by="qt07", at=time.time()))
    core.start()
    try:
        admin = Admin(bus)
        got = admin.site(lambda b: b["version"] == 2)
        assert got["by"] == "qt07" and got["changes"] == ["counters[2].name: 'Quầy 2' → 'Quầy hai'"]
        agree(core.db, site_file)
        # A later hand edit (the header still says version 2) is the file's.
        core.stop()
        text = site_file.read_text(encoding="utf-8").replace('"Quầy hai"', '"Quầy 2b"')
        site_file.write_text(text, encoding="utf-8")
        core.start()
        assert [(r[0], r[1]) for r in history(core.db)] == [(1, "file"), (2, "qt07"), (3, "file")]
    finally:
        core.stop()


def test_a_site_file_the_core_cannot_write_changes_nothing(live, bus, site_file):
    admin = Admin(bus)
    first = admin.site()
    # A directory where .prev goes: the save fails half-way (as root too,
    # whom a read-only mode would not stop), after its temporary file.
    blocker = site_file.parent / "site.toml.prev"
    blocker.mkdir()
    (blocker / "keep").write_text("x")
    before = site_file.read_bytes()
    reply = admin.apply(renamed(first["config"], 1, "Quầy một"), first["hash"])
    assert reply["error"]["code"] == "config_unwritable", reply
    assert "site.toml" in reply["error"]["message"]
    assert site_file.read_bytes() == before and len(history(live.db)) == 1
    assert sorted(p.name for p in site_file.parent.iterdir()) == ["site.toml", "site.toml.prev"]
    assert admin.send({"action": "republish"})["ok"]
    snap = admin.bus.wait_for(lambda t, b: t == "display/snapshot")
    assert snap["counters"][0]["name"] == "Quầy 1"
    # Once the directory is writable again, the same change goes through.
    (blocker / "keep").unlink()
    blocker.rmdir()
    assert admin.apply(renamed(first["config"], 1, "Quầy một"), first["hash"])["ok"]


def test_a_symlinked_site_file_is_replaced_where_it_lives(tmp_path):
    real_dir = tmp_path / "site.d"
    real_dir.mkdir()
    shutil.copy(DEMO_SITE, real_dir / "site.toml")
    link = tmp_path / "site.toml"
    link.symlink_to(real_dir / "site.toml")
    data = tomllib.loads(link.read_text(encoding="utf-8"))
    data["counters"][0]["name"] = "Quầy một"
    written = sitefile.write(link, sitefile.render(data, version=2, by="qt01", at=0.0))
    assert written == real_dir / "site.toml" and link.is_symlink()
    assert tomllib.loads(link.read_text(encoding="utf-8"))["counters"][0]["name"] == "Quầy một"
    assert (real_dir / "site.toml.prev").read_bytes() == DEMO_SITE.read_bytes()
    assert sorted(p.name for p in real_dir.iterdir()) == ["site.toml", "site.toml.prev"]
    assert sitefile.header(link.read_text(encoding="utf-8")) == (2, "qt01")


def test_levels_reordered_during_the_day_keep_the_boards_rate(live, bus, site_file):
    """Ratings are counted by level code, not by button position: after the
    admin reverses the levels (no window open), today's two satisfied presses
    are still satisfied on the wall's board (by position, one of them would
    now be "Không hài lòng")."""
    admin = Admin(bus)
    config = admin.site()
    short = copy.deepcopy(config["config"])
    short["rating"]["window_s"] = 5                 # the shortest window, so the test can wait it out
    r = admin.apply(short, config["hash"])
    assert r["ok"], r
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    box = bus("counter-1")
    box.subscribe("counter/1/reply")
    admin.bus.subscribe("event/rating")
    for i in range(2):
        assert ticket(kiosk, f"lv-{i}", "tu-phap")["ok"]
    for level in (1, 2):                            # Rất hài lòng, Hài lòng: both satisfied
        time.sleep(1.1)                             # not "too_fast"
        counter(box, 1, "next")
        counter(box, 1, "finish")
        rid = uuid.uuid4().hex
        box.publish("counter/1/rating", {"rating_id": rid, "level": level})
        ev = admin.bus.wait_for(lambda t, b: t == "event/rating" and b and b.get("rating_id") == rid)
        assert ev["counted"], ev
    snap = admin.bus.wait_for(lambda t, b: t == "display/snapshot" and b and b["board"]["rated"] == 2)
    assert snap["board"]["satisfied_pct"] == 100
    time.sleep(5.5)                                 # the last window closed
    current = admin.site(lambda b: b["version"] == r["version"])
    reversed_ = copy.deepcopy(current["config"])
    reversed_["rating"]["levels"].reverse()
    r2 = admin.apply(reversed_, current["hash"])
    assert r2["ok"], r2
    # The admin is told what the physical buttons now mean.
    assert any(e.startswith("rating.levels: the boxes' buttons now mean 1 = Không hài lòng")
               for e in r2["effects"]), r2["effects"]
    admin.site(lambda b: b["version"] == r2["version"])
    # The snapshot goes out before config/site: the retained one is built on the new levels.
    wall = bus("display-1")
    wall.subscribe("display/snapshot")
    assert wall.wait_for(lambda t, b: t == "display/snapshot")["board"]["satisfied_pct"] == 100
