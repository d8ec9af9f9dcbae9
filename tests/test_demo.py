"""The README's demo command, headless: every part starts and leaves what it promises."""
import sqlite3
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_demo_runs_the_whole_appliance_headless(tmp_path):
    data = tmp_path / "demo-data"
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path)}
    # At most 180 s; it is stopped with Ctrl-C (SIGINT) as soon as everything
    # below has happened, so a quiet machine does not wait out a fixed run.
    demo = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "demo", "--seconds", "180", "--data",
                             str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    # While it runs, the staff console answers at the address the demo prints.
    page = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "Đăng nhập" not in page:
        time.sleep(0.5)
        try:
            port = tomllib.loads((data / "site.toml").read_text())["web"]["port"]
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read().decode()
        except (OSError, KeyError, ValueError):
            continue
    # The simulated citizens' kiosk says it is online, even after a run that
    # left its retained presence "offline" (the dashboard showed it lost).
    from kiosk import config
    site = config.load(data / "site.toml")
    presence = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(site.mqtt.port), "-u", "watch",
         "-P", (data / "broker" / "secrets" / "watch.password").read_text().strip(),
         "-t", f"{site.topic_prefix}/presence/kiosk-2", "-C", "1", "-W", "10"],
        capture_output=True, text=True, timeout=20)
    assert '"status":"online"' in presence.stdout.replace(" ", ""), presence
    phone_page = _phone_page(data, site)
    # A second demo on the same folder says so in one line and writes nothing
    # there: the first one's config, logins and logs stay as they were.
    before = _files(data)
    second = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--seconds", "5", "--data",
                             str(data)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr
    assert second.stderr.strip().startswith(f"Error: a demo already runs with {data} (pid {demo.pid})")
    assert len(second.stderr.strip().splitlines()) == 1
    after = _files(data)
    assert after == before
    _wait_for_a_morning(data, demo)
    demo.send_signal(signal.SIGINT)
    out, err = demo.communicate(timeout=120)
    assert demo.returncode == 0, out[-2000:] + err[-2000:]
    assert "demo stopped" in out
    assert "Đăng nhập" in page
    assert "Xã Thắng Lộc" in out and "mosquitto_sub" in out and f"http://127.0.0.1:{port}/" in out
    # The simulated printer saved tickets as raw bytes and decoded images.
    assert list((data / "tickets").glob("*.bin")) and list((data / "tickets").glob("*.png"))
    # Each ticket's QR is its phone page's address, which answered while the demo ran.
    assert phone_page.startswith("<!doctype html>") and "/static/phone/phone.js" in phone_page
    assert f"phone page   {site.phone.public_url}/t/" in out
    # The screens rendered offscreen; the voice went to wav files.
    shots = {x.name for x in (data / "screenshots").glob("*.png")}
    assert {"display-live.png", "kiosk-live.png"} <= shots
    assert list((data / "voice").glob("*.wav"))
    conn = sqlite3.connect(f"file:{data / 'phucvu.db'}?mode=ro", uri=True)
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] >= 3
    assert conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] >= 1
    # Presses from the simulated boxes reached the core through the bridge.
    assert conn.execute("SELECT COUNT(*) FROM commands WHERE command_id LIKE 'counter/%:box-%'").fetchone()[0] >= 1
    assert conn.execute("SELECT COUNT(*) FROM official_sessions").fetchone()[0] == 4
    # And the report works on the demo database.
    day = conn.execute("SELECT MAX(day) FROM days").fetchone()[0]
    r = subprocess.run([sys.executable, "-m", "kiosk.cli", "report", "--config", str(data / "site.toml"),
                        "--from", day, "--to", day, "--by", "official"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    # The four officials the demo logs in each have a row, served or not.
    for name in ("Nguyễn Văn An", "Phạm Thị Bình", "Hoàng Văn Cường", "Đỗ Thị Dung"):
        assert name in r.stdout, r.stdout


def _wait_for_a_morning(data, demo, timeout: float = 150) -> None:
    """Until the demo has done what the test checks: tickets printed and
    decoded, a call, a box's press through the bridge, four officials logged
    in, both screens' live pictures and a spoken call."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and demo.poll() is None:
        time.sleep(1)
        try:
            conn = sqlite3.connect(f"file:{data / 'phucvu.db'}?mode=ro", uri=True, timeout=5)
            try:
                counts = [conn.execute(q).fetchone()[0] for q in (
                    "SELECT COUNT(*) >= 3 FROM tickets", "SELECT COUNT(*) >= 1 FROM calls",
                    "SELECT COUNT(*) >= 1 FROM commands WHERE command_id LIKE 'counter/%:box-%'",
                    "SELECT COUNT(*) = 4 FROM official_sessions")]
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        shots = {x.name for x in (data / "screenshots").glob("*.png")}
        if all(counts) and {"display-live.png", "kiosk-live.png"} <= shots \
                and list((data / "voice").glob("*.wav")) and list((data / "tickets").glob("*.png")):
            return


def _files(data):
    """The demo folder's config and broker files, by content (logs and tickets move on)."""
    import hashlib
    keep = [data / "site.toml", *sorted((data / "broker").rglob("*"))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in keep
            if p.is_file() and p.suffix not in (".log", ".db")}


def _phone_page(data, site) -> str:
    """The page a printed ticket's QR opens (the QR read from the ticket's ESC/POS bytes)."""
    from kiosk.printing.decode import QrCode, parse
    deadline = time.monotonic() + 30
    while True:
        qrs = [op.data for b in sorted((data / "tickets").glob("*.bin"))
               for op in parse(b.read_bytes()) if isinstance(op, QrCode)]
        if qrs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert qrs and all(q.startswith(f"{site.phone.public_url}/t/") for q in qrs), qrs
    # The first ticket may print before `phucvu phone` listens on a loaded machine.
    while True:
        try:
            return urllib.request.urlopen(qrs[-1], timeout=5).read().decode()
        except OSError:
            if time.monotonic() > deadline + 30:
                raise
            time.sleep(0.5)


def test_the_demo_table_says_each_fields_wait_as_the_wall_does():
    """``render``'s field table from a display/snapshot: the wait worded by
    waitwords.short in plain spaces (a terminal), "chờ quầy mở lại" where no counter is open (None)."""
    from kiosk.demo import render
    snapshot = {"commune": "Xã Thắng Lộc", "centre": "Trung tâm", "day": "2026-12-02", "call_seq": 3,
                "counters": [], "last_calls": [], "waiting": [
                    {"prefix": "A", "name_vi": "Tư pháp", "waiting": 4, "estimated_wait_min": 22.0,
                     "wait_low_min": 14.9, "wait_high_min": 37.6},
                    {"prefix": "B", "name_vi": "Chứng thực", "waiting": 1, "estimated_wait_min": 6.2,
                     "wait_low_min": 4.0, "wait_high_min": 9.0},
                    {"prefix": "C", "name_vi": "Đất đai", "waiting": 2, "estimated_wait_min": None,
                     "wait_low_min": None, "wait_high_min": None}]}
    rows = [line for line in render(snapshot, {}).splitlines() if line[:2] in ("A ", "B ", "C ")]
    assert [r.split("   ")[-1] for r in rows] == ["15–40 phút", "≈ 6 phút", "chờ quầy mở lại"]
