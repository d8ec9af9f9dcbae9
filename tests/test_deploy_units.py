"""Deploy files: systemd units verified by systemd itself, shell scripts by
shellcheck, the Kivy config against the installed Kivy, and the nightly
backup's rotation on a real database.
"""
from __future__ import annotations

import configparser
import datetime as dt
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_SITE, ROOT

UNITS = sorted((ROOT / "deploy/systemd").glob("phucvu-*.[stp]*"))
# The appliance's own units (install.sh's roles); other units in the folder
# (the provincial aggregator) are verified but follow their own owner's rules.
APPLIANCE = ["phucvu-broker.service", "phucvu-core.service", "phucvu-kiosk.service",
             "phucvu-display.service", "phucvu-speaker.service", "phucvu-bridge.service",
             "phucvu-web.service", "phucvu-phone.service", "phucvu-backup.service"]
# Executables a unit may start, and who puts them there on a box:
# install.sh makes the venv; Debian's mosquitto and procps/util-linux the rest.
PROVIDED = {"/opt/phucvu/venv/bin/phucvu": "deploy/install.sh",
            "/usr/sbin/mosquitto": "Debian package mosquitto",
            "/bin/kill": "Debian package procps",
            "/bin/systemctl": "Debian package systemd"}
# The host's libseccomp may not know syscalls newer than itself; systemd
# says so while parsing @system-service, which is not a fault of the unit.
NOISE = re.compile(r"Failed to parse system call, ignoring|Failed to read \$container|"
                   r"PR_SET_MM_ARG_START|Cannot stat .*/transient")


def _exec_paths(text: str) -> set[str]:
    paths = set()
    for line in text.splitlines():
        m = re.match(r"^Exec\w+=(.*)$", line)
        if m:
            paths.add(shlex.split(m.group(1).lstrip("-@+!:"))[0])
    return paths


@pytest.fixture(scope="module")
def verify_root(tmp_path_factory):
    """A root for ``systemd-analyze verify --root``: systemd's own units from
    this host (targets such as sysinit.target that every unit pulls in), ours
    in /etc/systemd/system, and an empty executable at each path in PROVIDED.

    verify refuses a unit whose ExecStart= binary is missing.  On a real box
    install.sh and Debian put them there; here the stand-ins sit at exactly
    those paths, so a unit naming any other path (a typo, an old venv
    location) still fails.
    """
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    root = tmp_path_factory.mktemp("verify-root")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for path in PROVIDED:
        stand_in = root / path.lstrip("/")
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
    return root


def _verify(root: Path, unit: Path) -> tuple[int, list[str]]:
    dest = root / "etc/systemd/system" / unit.name
    shutil.copy(unit, dest)
    r = subprocess.run(["systemd-analyze", "verify", f"--root={root}", str(dest)],
                       capture_output=True, text=True, env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not NOISE.search(l)]
    return r.returncode, complaints


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify(verify_root, unit):
    unknown = _exec_paths(unit.read_text()) - set(PROVIDED)
    assert not unknown, f"{unit.name} starts {unknown}, which nothing installs (known: {PROVIDED})"
    rc, complaints = _verify(verify_root, unit)
    assert rc == 0 and not complaints, "\n".join(complaints)


def test_verify_catches_a_broken_unit(verify_root, tmp_path):
    """The check above can fail: a misspelt key and a wrong path are caught."""
    good = (ROOT / "deploy/systemd/phucvu-core.service").read_text()
    typo = tmp_path / "phucvu-typo.service"
    typo.write_text(good.replace("WatchdogSec=", "WatchDogSec="))
    rc, complaints = _verify(verify_root, typo)
    assert any("WatchDogSec" in c for c in complaints), complaints
    wrong = tmp_path / "phucvu-wrong.service"
    wrong.write_text(good.replace("/opt/phucvu/venv/", "/opt/phucvu/.venv/"))
    rc, complaints = _verify(verify_root, wrong)
    assert rc != 0 and any("not executable" in c for c in complaints), complaints


def _unit(name: str) -> configparser.ConfigParser:
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.optionxform = str
    p.read_string((ROOT / "deploy/systemd" / name).read_text())
    return p


@pytest.mark.parametrize("name", APPLIANCE)
def test_appliance_unit_is_explained_and_hardened(name):
    u = _unit(name)
    svc = u["Service"]
    assert u["Unit"]["Documentation"].startswith("file:///opt/phucvu/share/doc/deploy-raspberry-pi.md")
    assert svc["User"] == "phucvu" and svc["Group"] == "phucvu"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert svc.get(key) == value, f"{name}: {key}"
    # /var/lib/phucvu writable under ProtectSystem=strict, created for User=.
    assert svc["StateDirectory"] == "phucvu"
    if svc.get("Type") == "oneshot":
        return
    assert svc["Restart"] in ("always", "on-failure")
    assert svc["Type"] == "notify"
    if name != "phucvu-broker.service":
        # Mosquitto sends READY=1 but no pings; every phucvu process pings.
        assert int(svc["WatchdogSec"]) >= 10 and svc["NotifyAccess"] == "main"
    text = (ROOT / "deploy/systemd" / name).read_text()
    # Every unit starts with comments saying what it is and how to look at it.
    assert text.startswith("# ") and f"journalctl -u {name.removesuffix('.service')}" in text


def test_screens_run_kivy_on_kms_without_a_desktop():
    for name in ("phucvu-kiosk.service", "phucvu-display.service"):
        text = (ROOT / "deploy/systemd" / name).read_text()
        assert "Environment=SDL_VIDEODRIVER=kmsdrm" in text
        assert "Environment=KIVY_HOME=/var/lib/phucvu/kivy" in text
        assert "Conflicts=getty@tty1.service" in text


def test_install_sh_enables_only_units_that_exist():
    text = (ROOT / "deploy/install.sh").read_text()
    block = text[text.index("declare -A ROLE_UNITS"):text.index(")", text.index("declare -A ROLE_UNITS") + 30)]
    named = set(re.findall(r"phucvu-[a-z]+\.(?:service|timer|path)", block))
    assert named and all((ROOT / "deploy/systemd" / n).exists() for n in named), named
    assert "phucvu-backup.timer" in named


def test_services_wait_for_the_site_config_of_the_first_run():
    """With no site config (a kiosk box fresh from install.sh), the kiosk runs
    its setup wizard; every other unit reading the file is skipped, not
    failed in a restart loop, and phucvu-configured.path starts them when
    the wizard writes it, at the path install.sh links /etc/phucvu/site.toml to."""
    readers = [u for u in UNITS if u.suffix == ".service" and "--config /etc/phucvu/site.toml" in u.read_text()]
    assert len(readers) >= 7
    for unit in readers:
        cond = _unit(unit.name)["Unit"].get("ConditionPathExists")
        if unit.name == "phucvu-kiosk.service":
            assert cond is None, "the kiosk must start without a config: it runs the wizard"
        else:
            assert cond == "/etc/phucvu/site.toml", unit.name
    install = (ROOT / "deploy/install.sh").read_text()
    site = re.search(r"^SITE=\$DATA(/\S+)$", install, re.M).group(1)
    assert _unit("phucvu-configured.path")["Path"]["PathExists"] == "/var/lib/phucvu" + site
    assert _unit("phucvu-configured.path")["Path"]["Unit"] == "phucvu-configured.service"
    svc = _unit("phucvu-configured.service")["Service"]
    assert svc["RemainAfterExit"] == "yes"       # else PathExists= triggers it again and again


def test_backup_timer_is_nightly_and_persistent():
    t = _unit("phucvu-backup.timer")["Timer"]
    assert t["Persistent"] == "true"
    r = subprocess.run(["systemd-analyze", "calendar", t["OnCalendar"]], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cmd = _unit("phucvu-backup.service")["Service"]["ExecStart"]
    assert "--keep" in cmd and "--dir /var/lib/phucvu/backups" in cmd


# ------------------------------------------------------------------ shell
def _shell_scripts() -> list[Path]:
    found = []
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT).parts
        if not p.is_file() or rel[0] in (".git", ".venv", "demo-data", "node_modules"):
            continue
        if p.suffix == ".sh":
            found.append(p)
            continue
        with open(p, "rb") as f:
            first = f.readline(80)
        if re.match(rb"#!\s*/(usr/)?bin/(env\s+)?(ba|da)?sh\b", first):
            found.append(p)
    return sorted(found)


def test_shellcheck_every_shell_script():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    scripts = _shell_scripts()
    names = {str(p.relative_to(ROOT)) for p in scripts}
    assert {"deploy/install.sh", "run", ".ci/run"} <= names, names
    r = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_sh_refuses_bad_arguments_before_changing_anything(tmp_path):
    install = str(ROOT / "deploy/install.sh")
    for args, says in ((["--roles", "core,printer"], "unknown role 'printer'"),
                       (["--colour"], "unknown option --colour"),
                       (["--source", str(tmp_path / "nowhere")], "does not exist"),
                       (["--source", str(tmp_path)], "not a phucvu checkout")):
        r = subprocess.run(["bash", install, *args], capture_output=True, text=True)
        assert r.returncode != 0
        if os.geteuid() == 0:
            assert says in r.stderr, r.stderr
        else:
            assert "run as root" in r.stderr


# ------------------------------------------------------------------ kivy
def test_kivy_config_has_one_input_provider_and_kivy_keeps_it(tmp_path):
    """Kivy reads the file as it is (current config_version, no defaults added
    back): one input provider, so one tap is one touch."""
    home = tmp_path / "kivy"
    home.mkdir()
    shutil.copy(ROOT / "deploy/kivy/config.ini", home / "config.ini")
    probe = ("from kivy.config import Config\n"
             "import json\n"
             "print(json.dumps({'input': dict(Config.items('input')),"
             " 'full': Config.get('graphics', 'fullscreen'),"
             " 'escape': Config.get('kivy', 'exit_on_escape'),"
             " 'tap': Config.getint('postproc', 'triple_tap_time')}))\n")
    env = {**os.environ, "KIVY_HOME": str(home), "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_NO_FILELOG": "1"}
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    import json
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["input"] == {"mouse": "mouse,disable_multitouch"}
    assert (seen["full"], seen["escape"]) == ("auto", "0")
    assert seen["tap"] > 0
    # Untouched: an older version would have been upgraded and rewritten.
    assert (home / "config.ini").read_bytes() == (ROOT / "deploy/kivy/config.ini").read_bytes()


# ------------------------------------------------------------------ backup
def test_rotation_keeps_the_newest_and_only_touches_its_own_files():
    from kiosk.backup import BackupError, to_delete
    names = [f"phucvu-202611{d:02d}-223000.db" for d in range(1, 6)] + [
        "phucvu-20261103-223000.db.partial", "notes.txt", "phucvu-latest.db"]
    assert to_delete(names, 2) == [f"phucvu-202611{d:02d}-223000.db" for d in (1, 2, 3)]
    assert to_delete(names, 10) == []
    with pytest.raises(BackupError):
        to_delete(names, 0)


def test_backup_command_rotates_real_copies(tmp_path):
    from kiosk import config
    from kiosk.backup import rotate
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store

    cfg = config.load(DEMO_SITE)
    db = tmp_path / "phucvu.db"
    store = Store(db)
    engine = Engine(cfg, store)
    engine.run("issue", "tu-phap", None)
    store.close()
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "notes.txt").write_text("left alone")
    reader = Store(db, lock=False)
    try:
        for day in (1, 2, 3):
            rotate(backups, reader, 2, dt.datetime(2026, 11, day, 22, 30))
    finally:
        reader.close()
    assert sorted(p.name for p in backups.iterdir()) == [
        "notes.txt", "phucvu-20261102-223000.db", "phucvu-20261103-223000.db"]
    # The command the timer runs, beside the copies already there.
    r = subprocess.run([sys.executable, "-m", "kiosk.cli", "backup", "--config", str(DEMO_SITE),
                        "--db", str(db), "--dir", str(backups), "--keep", "2"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "integrity ok" in r.stdout and r.stdout.count("old backup deleted") == 1
    copies = sorted(backups.glob("phucvu-*.db"))
    assert len(copies) == 2 and copies[0].name == "phucvu-20261103-223000.db"
    con = sqlite3.connect(copies[-1])
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    finally:
        con.close()
    bad = subprocess.run([sys.executable, "-m", "kiosk.cli", "backup", "--config", str(DEMO_SITE),
                          "--db", str(db)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0 and "either PATH or --dir" in bad.stderr
