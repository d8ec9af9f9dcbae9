"""The README's demo command, headless: every part starts and leaves what it promises."""
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_demo_runs_the_whole_appliance_headless(tmp_path):
    data = tmp_path / "demo-data"
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--seconds", "35", "--data", str(data)],
                       capture_output=True, text=True, cwd=ROOT, timeout=180, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Xã Thắng Lộc" in p.stdout and "mosquitto_sub" in p.stdout
    # The simulated printer saved tickets as raw bytes and decoded images.
    assert list((data / "tickets").glob("*.bin")) and list((data / "tickets").glob("*.png"))
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
    assert r.returncode == 0 and "Nguyễn Văn An" in r.stdout, r.stderr
