"""deploy/install.sh for real, in a fresh Debian root made by debootstrap.

The root is ``debootstrap --variant=minbase bookworm``, cached as a tarball in
/var/cache/phucvu-tests so later runs skip that download (a cold run adds
about a minute).  Each run unpacks it, mounts /proc, /sys, /dev and /dev/pts,
copies this checkout in and runs install.sh in the chroot with ``--no-start`` (no
systemd runs there).  The host's pip cache and a cached apt archive folder are
bind-mounted so warm runs download little; apt's package lists are fetched
each time.

Then, as user phucvu and with the commands parsed from the installed unit
files (not copied here), it starts the broker and the core inside the chroot
and asks for a ticket from the host over MQTT.  Needs root, network access
to deb.debian.org and PyPI (or warm caches), and about 1 GB in /tmp.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sqlite3
import subprocess
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, stop_process

pytestmark = pytest.mark.slow

CACHE = Path("/var/cache/phucvu-tests")
TARBALL = CACHE / "bookworm-minbase.tar"
APT_ARCHIVES = CACHE / "apt-archives"
PIP_CACHE = Path("/root/.cache/pip")
MIRROR = "http://deb.debian.org/debian"
SRC_IN_ROOT = "/usr/local/src/phucvu"
# Where /etc/phucvu/site.toml points (absolute, so it is read in the root, not on the host).
SITE_IN_ROOT = "/var/lib/phucvu/config/site.toml"
# What a copy of the checkout leaves out: build products and local state.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "demo-data", "__pycache__", "*.egg-info",
                                    "build", ".pytest_cache", ".hypothesis", "node_modules")
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
              "DEBIAN_FRONTEND": "noninteractive"}

if os.geteuid() != 0 or not shutil.which("debootstrap") or not shutil.which("chroot"):
    pytest.skip("needs root, debootstrap and chroot", allow_module_level=True)


def base_tarball() -> Path:
    """The minbase root, made once and cached; a half-made one is never used."""
    if TARBALL.exists():
        return TARBALL
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"debootstrap-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(work), MIRROR],
                       check=True, capture_output=True)
        partial = TARBALL.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(work), "-cf", str(partial), "."], check=True)
        partial.rename(TARBALL)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TARBALL


def exec_lines(unit: Path, key: str) -> list[list[str]]:
    """The argv of each ``key=`` line (ExecStart, ExecStartPre) of a unit file."""
    out = []
    for line in unit.read_text().splitlines():
        if line.startswith(key + "="):
            # systemd's prefixes ("-" ignore failure, "@", "+", "!") are not part of argv.
            out.append(shlex.split(line.split("=", 1)[1].lstrip("-@+!:")))
    assert out, f"no {key}= in {unit}"
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Root:
    """An unpacked Debian root with /proc, /sys, /dev and the caches mounted."""

    def __init__(self, path: Path):
        self.path = path
        self.mounts: list[Path] = []

    def _mount(self, args: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(target)], check=True)
        self.mounts.append(target)

    def up(self) -> "Root":
        subprocess.run(["tar", "-C", str(self.path), "-xf", str(base_tarball())], check=True)
        self._mount(["-t", "proc", "proc"], self.path / "proc")
        self._mount(["-t", "sysfs", "sysfs"], self.path / "sys")
        self._mount(["--bind", "/dev"], self.path / "dev")
        # Ptys: apt logs through one, the simulated printer is one.
        self._mount(["--bind", "/dev/pts"], self.path / "dev/pts")
        PIP_CACHE.mkdir(parents=True, exist_ok=True)
        self._mount(["--bind", str(PIP_CACHE)], self.path / "root/.cache/pip")
        (APT_ARCHIVES / "partial").mkdir(parents=True, exist_ok=True)
        self._mount(["--bind", str(APT_ARCHIVES)], self.path / "var/cache/apt/archives")
        # Keep the downloaded .debs for the next run (Debian's default deletes them).
        (self.path / "etc/apt/apt.conf.d/99keep-debs").write_text('Binary::apt::APT::Keep-Downloaded-Packages "true";\n')
        shutil.copy("/etc/resolv.conf", self.path / "etc/resolv.conf")
        # The host's own trust for HTTPS (a site proxy's CA, pip's cert
        # setting) goes in too, or pip inside cannot reach PyPI where the host can.
        local_ca = Path("/usr/local/share/ca-certificates")
        if local_ca.is_dir():
            shutil.copytree(local_ca, self.path / "usr/local/share/ca-certificates", dirs_exist_ok=True)
        if Path("/etc/pip.conf").exists():
            shutil.copy("/etc/pip.conf", self.path / "etc/pip.conf")
        # As in any chroot: packages' scripts must not start daemons here.
        policy = self.path / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        return self

    def kill_leftovers(self) -> None:
        """Processes still running inside this root (started by this test) go."""
        me = str(self.path.resolve())
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.readlink(proc / "root") == me:
                    os.kill(int(proc.name), 9)
            except (OSError, ProcessLookupError):
                continue

    def down(self) -> None:
        self.kill_leftovers()
        for target in reversed(self.mounts):
            if subprocess.run(["umount", str(target)]).returncode != 0:
                subprocess.run(["umount", "-l", str(target)])
        self.mounts.clear()

    def run(self, *argv: str, user: str | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
        cmd = ["chroot", *([f"--userspec={user}:{user}"] if user else []), str(self.path), *argv]
        return subprocess.run(cmd, env=CHROOT_ENV, capture_output=True, text=True, timeout=timeout)

    def popen(self, argv: list[str], user: str, log: Path) -> subprocess.Popen:
        env = {**CHROOT_ENV, "HOME": "/var/lib/phucvu", "PYTHONUNBUFFERED": "1"}
        with open(log, "ab") as f:
            return subprocess.Popen(["chroot", f"--userspec={user}:{user}", str(self.path), *argv],
                                    env=env, stdout=f, stderr=subprocess.STDOUT)

    def stat(self, rel: str) -> os.stat_result:
        return os.lstat(self.path / rel.lstrip("/"))

    def ids(self, name: str) -> tuple[int, int]:
        for line in (self.path / "etc/passwd").read_text().splitlines():
            f = line.split(":")
            if f[0] == name:
                return int(f[2]), int(f[3])
        raise AssertionError(f"no user {name} in the root's /etc/passwd")

    def members(self, group: str) -> list[str]:
        for line in (self.path / "etc/group").read_text().splitlines():
            f = line.split(":")
            if f[0] == group:
                return f[3].split(",") if f[3] else []
        return []


def edit_site(root: Root, port: int) -> None:
    """What a technician does next: edit /etc/phucvu/site.toml for the centre.

    Here: open around the clock (the test runs at any hour), a free port (the
    chroot shares the host's network), and the simulated printer.
    """
    import tomli_w
    path = root.path / SITE_IN_ROOT.lstrip("/")
    site = tomllib.loads(path.read_text())
    site["hours"] = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                      "open": "00:00", "close": "24:00"}]
    for field in site["fields"]:
        field.pop("hours", None)
    site["mqtt"]["port"] = port
    site["printer"]["connection"] = "sim:/var/lib/phucvu/tickets"
    path.write_text(tomli_w.dumps(site))


def ask_for_ticket(port: int, password: str, prefix: str) -> dict:
    from kiosk import contract
    replies: list[dict] = []
    client = contract.mqtt_client("kiosk-1", username="kiosk-1", password=password, prefix=prefix)
    client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(f"{prefix}/ticket/reply/kiosk-1", 1)
    client.on_message = lambda c, u, m: replies.append(json.loads(m.payload))
    client.connect_async("127.0.0.1", port, 10)
    client.loop_start()
    rid = uuid.uuid4().hex
    try:
        deadline = time.monotonic() + 30
        sent_at = 0.0
        while time.monotonic() < deadline:
            mine = [r for r in replies if r.get("request_id") == rid and "print" in r]
            if mine:
                return mine[0]
            if client.is_connected() and time.monotonic() - sent_at > 5:
                # Re-sent with the same id until answered: the core dedupes.
                client.publish(f"{prefix}/ticket/request/kiosk-1", json.dumps(
                    {"request_id": rid, "client": "kiosk-1", "field": "tu-phap", "priority": None}), qos=1)
                sent_at = time.monotonic()
            time.sleep(0.1)
        raise AssertionError(f"no reply to the ticket request; got {replies}")
    finally:
        client.loop_stop()
        client.disconnect()


def test_install_in_a_fresh_debian_root_then_the_core_answers(tmp_path):
    root = Root(tmp_path / "root")
    root.path.mkdir()
    procs: list[subprocess.Popen] = []
    started = time.monotonic()
    try:
        root.up()
        shutil.copytree(ROOT, root.path / SRC_IN_ROOT.lstrip("/"), ignore=NOT_COPIED)
        install = f"{SRC_IN_ROOT}/deploy/install.sh"
        first = root.run(install, "--no-start", "--roles", "core,web,bridge")
        assert first.returncode == 0, first.stdout + first.stderr
        first_s = time.monotonic() - started

        # --- what the install left behind
        uid, gid = root.ids("phucvu")
        for g in ("dialout", "lp"):
            assert "phucvu" in root.members(g), g
        # The site file lives where the core and the kiosk's wizard may replace it.
        assert os.readlink(root.path / "etc/phucvu/site.toml") == SITE_IN_ROOT
        st = root.stat(SITE_IN_ROOT)
        assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == ("0o640", uid, gid)
        st = root.stat("/var/lib/phucvu")
        assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == ("0o750", uid, gid)
        assert os.readlink(root.path / "etc/phucvu/secrets") == "/var/lib/phucvu/broker/secrets"
        assert os.access(root.path / "opt/phucvu/venv/bin/phucvu", os.X_OK)
        for rules in (ROOT / "deploy/udev").glob("*.rules"):
            assert (root.path / "etc/udev/rules.d" / rules.name).read_bytes() == rules.read_bytes()
        wants = {"multi-user.target.wants": ["phucvu-broker.service", "phucvu-core.service",
                                             "phucvu-web.service", "phucvu-bridge.service"],
                 "timers.target.wants": ["phucvu-backup.timer"]}
        for target, units in wants.items():
            for unit in units:
                link = root.path / "etc/systemd/system" / target / unit
                assert os.readlink(link) == f"/etc/systemd/system/{unit}", link
        for unit in ("phucvu-kiosk.service", "phucvu-display.service", "phucvu-configured.path"):
            assert not (root.path / "etc/systemd/system/multi-user.target.wants" / unit).is_symlink()
            assert (root.path / "etc/systemd/system" / unit).exists()
        assert os.readlink(root.path / "etc/systemd/system/mosquitto.service") == "/dev/null"

        # --- a second run changes nothing and succeeds
        again = root.run(install, "--no-start", "--roles", "core,web,bridge")
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.strip().splitlines()[-1].endswith("; 0 change(s)"), again.stdout
        # --roles says what this box runs: a role dropped is switched off, and only that.
        fewer = root.run(install, "--no-start", "--roles", "core,web")
        assert fewer.returncode == 0, fewer.stdout + fewer.stderr
        assert "phucvu-bridge.service disabled" in fewer.stdout
        assert fewer.stdout.strip().splitlines()[-1].endswith("; 1 change(s)"), fewer.stdout
        assert not (root.path / "etc/systemd/system/multi-user.target.wants/phucvu-bridge.service").is_symlink()
        assert (root.path / "etc/systemd/system/multi-user.target.wants/phucvu-core.service").is_symlink()

        # --- start the broker and the core as the units would, as user phucvu
        port = free_port()
        edit_site(root, port)
        units = root.path / "etc/systemd/system"
        for argv in exec_lines(units / "phucvu-broker.service", "ExecStartPre"):
            pre = root.run(*argv, user="phucvu", timeout=60)
            assert pre.returncode == 0, pre.stdout + pre.stderr
        for name in ("broker", "core"):
            (argv,) = exec_lines(units / f"phucvu-{name}.service", "ExecStart")
            procs.append(root.popen(argv, "phucvu", tmp_path / f"{name}.log"))
        secrets = root.path / "var/lib/phucvu/broker/secrets"
        st = os.stat(secrets / "core.password")
        assert (oct(st.st_mode & 0o777), st.st_uid) == ("0o600", uid)

        site = tomllib.loads((root.path / SITE_IN_ROOT.lstrip("/")).read_text())
        from kiosk.config import SiteConfig
        prefix = SiteConfig.model_validate(site).topic_prefix
        reply = ask_for_ticket(port, (secrets / "kiosk-1.password").read_text().strip(), prefix)
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
        assert reply["ok"], (reply, logs)
        assert reply["ticket"]["label"].startswith("A"), reply
        assert reply["print"]["status"] == "printed", (reply, logs)
        assert list((root.path / "var/lib/phucvu/tickets").glob("*.bin")), "the simulated printer got nothing"

        # --- the nightly backup, with the unit's own command, beside the running core
        (argv,) = exec_lines(units / "phucvu-backup.service", "ExecStart")
        backup = root.run(*argv, user="phucvu", timeout=60)
        assert backup.returncode == 0, backup.stdout + backup.stderr
        (copy,) = (root.path / "var/lib/phucvu/backups").glob("phucvu-*.db")
        db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
        finally:
            db.close()
        print(f"install_first_s={first_s:.0f} total_s={time.monotonic() - started:.0f}")
    finally:
        for p in reversed(procs):
            stop_process(p)
        root.down()
        if not root.mounts:
            shutil.rmtree(root.path, ignore_errors=True)
