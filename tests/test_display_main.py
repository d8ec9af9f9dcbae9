"""``display.app.main`` as the CLI runs it: real broker, live screenshots, wavs."""
import os
import subprocess
import sys
import time
from pathlib import Path

from display.screenshots import demo_messages

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_main_shows_speaks_and_saves_live_screenshots(broker, bus, site, tmp_path):
    core = bus("tester")
    core.subscribe("presence/display-1")
    msgs = demo_messages(site)
    core.publish("presence/core", {"device": "core", "status": "online"}, retain=True)
    core.publish("display/snapshot", msgs["snapshot"], retain=True)
    shots, wavs = tmp_path / "shots", tmp_path / "wavs"
    code = (f"from display.app import main; main({str(ROOT / 'deploy' / 'demo-site.toml')!r}, "
            f"password_file={str(broker.password_file('display-1'))!r}, fullscreen=False, "
            f"screenshot_dir={str(shots)!r}, voice_dir={str(wavs)!r}, port={broker.port})")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KIVY_HOME=str(tmp_path / "kivy"), PYTHONPATH=str(ROOT))
    err = open(tmp_path / "display.err", "wb")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=err, stderr=err)
    try:
        core.wait_for(lambda t, b: t == "presence/display-1" and b["status"] == "online", timeout=30)
        core.publish("event/call", msgs["call"])
        assert wait_for(lambda: list(wavs.glob("*-B023-q2.wav"))), (tmp_path / "display.err").read_text()
        assert wait_for(lambda: (shots / "display-live.png").exists())
        from PIL import Image
        assert Image.open(shots / "display-live.png").size == (1920, 1080)
    finally:
        proc.terminate()
        proc.wait(10)
    # Killed without a goodbye: the broker publishes the display's last will.
    core.wait_for(lambda t, b: t == "presence/display-1" and b["status"] == "offline", timeout=30)


def test_main_refuses_a_bad_config_with_a_clear_message(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text((ROOT / "deploy" / "demo-site.toml").read_text() + "\n[display]\nlast_call = 5\n")
    code = f"from display.app import main; main({str(bad)!r}, password_file='/nonexistent')"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
                                KIVY_HOME=str(tmp_path / "kivy"), PYTHONPATH=str(ROOT)))
    assert r.returncode != 0
    assert "display.last_call: unknown key" in r.stderr


def test_screenshots_command_renders_the_pictures_it_is_asked_for(tmp_path):
    # Every size and kind is laid out and measured by tests/test_display_fit.py;
    # here the command draws the three pictures whose pixels say most.
    from display import screenshots
    assert {f"{n}-{w}x{h}.png" for n, w, h in screenshots.SHOTS} == {
        "display-1280x720.png", "display-1366x768.png", "display-1920x1080.png", "display-3840x2160.png",
        "display-stale-1280x720.png", "display-busy-1280x720.png", "display-busy-1920x1080.png",
        "display-board-1920x1080.png", "display-60-counters-1280x720.png", "display-60-counters-1920x1080.png",
        "display-60-counters-3840x2160.png", "display-1080x1920.png", "display-busy-1080x1920.png",
        "display-1024x768.png", "display-busy-1024x768.png"}
    shots = ["display-1366x768.png", "display-busy-1080x1920.png", "display-stale-1280x720.png"]
    r = subprocess.run([sys.executable, "-m", "display.screenshots", "--out-dir", str(tmp_path),
                        *[a for s in shots for a in ("--only", s)]], cwd=ROOT,
                       capture_output=True, text=True,
                       env=dict(os.environ, KIVY_HOME=str(tmp_path / "kivy"), PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image
    assert sorted(p.name for p in tmp_path.glob("display-*.png")) == sorted(shots)
    # A width that is no multiple of 4 is not sheared: the header's panel
    # colour top left, the notice's yellow along the whole bottom row.
    odd = Image.open(tmp_path / "display-1366x768.png").convert("RGB")
    assert all(abs(a - b) <= 2 for a, b in zip(odd.getpixel((2, 2)), (20, 41, 77)))
    assert all(odd.getpixel((x, 766))[0] > 230 and odd.getpixel((x, 766))[2] < 60 for x in (2, 683, 1363))
    # Portrait: the call panel (orange while it blinks "on") spans the width
    # under the header, not a third of it.
    tall = Image.open(tmp_path / "display-busy-1080x1920.png").convert("RGB")
    for x in (30, 540, 1050):
        r, g, b = tall.getpixel((x, 330))
        assert r > 220 and 110 < g < 170 and b < 50, (x, (r, g, b))
    # The stale picture really carries the red mark in its header.
    stale = Image.open(tmp_path / "display-stale-1280x720.png").convert("RGB")
    reds = [px for px in stale.crop((640, 0, 1000, 90)).getcolors(maxcolors=65536)
            if px[1][0] > 200 and px[1][1] < 60 and px[1][2] < 60]
    assert sum(n for n, _ in reds) > 2000
