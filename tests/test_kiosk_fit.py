"""Every kiosk screen at every supported size: no text spills, is clipped,
is cut mid-word or shortened, or is smaller than theme.TEXT_FLOOR_PX.

Each size runs in its own process (``kiosk.ui.screenshots --size WxH
--check``), because SDL's offscreen surface keeps its first size; the real
kv rules and widgets are laid out and drawn offscreen, and kiosk/ui/fit.py
walks every visible label (tests below check that walk catches what it
should).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.ui.screenshots import RESOLUTIONS, SCREENS

ROOT = Path(__file__).resolve().parent.parent


def _check(size: tuple[int, int], tmp_path: Path) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy")}
    done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--check",
                           "--size", f"{size[0]}x{size[1]}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [l for l in done.stdout.splitlines() if l.startswith("FIT ")]
    assert line, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(line[-1][4:])


@pytest.mark.parametrize("size", RESOLUTIONS, ids=[f"{w}x{h}" for w, h in RESOLUTIONS])
def test_every_screen_fits(size, tmp_path):
    found = _check(size, tmp_path)
    assert sorted(found) == sorted(SCREENS)
    bad = [f"{screen}: {p}" for screen, ps in found.items() for p in ps]
    assert not bad, f"{size[0]}x{size[1]}:\n" + "\n".join(bad)


def test_the_sizes_are_the_ones_centres_buy():
    assert set(RESOLUTIONS) == {(800, 480), (1024, 768), (1280, 800), (1366, 768), (1280, 1024),
                                (1920, 1080), (1080, 1920)}
