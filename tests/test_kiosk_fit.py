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


def _check(size: tuple[int, int], tmp_path: Path, config: Path = ROOT / "deploy" / "demo-site.toml"
           ) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy")}
    done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--check", "--out", str(tmp_path),
                           "--config", str(config), "--size", f"{size[0]}x{size[1]}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [l for l in done.stdout.splitlines() if l.startswith("FIT ")]
    assert line, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(line[-1][4:])


# Checked, not pictured: an upright panel between the Pi's 480 px and full
# HD, whose header once stacked the centre's name a word a line (one size:
# each costs some 11 s of the suite's 10 minutes).
UPRIGHT = ((720, 1280),)
CHECKED = RESOLUTIONS + UPRIGHT


@pytest.mark.parametrize("size", CHECKED, ids=[f"{w}x{h}" for w, h in CHECKED])
def test_every_screen_fits(size, tmp_path):
    found = _check(size, tmp_path)
    assert sorted(found) == sorted(SCREENS)
    bad = [f"{screen}: {p}" for screen, ps in found.items() for p in ps]
    assert not bad, f"{size[0]}x{size[1]}:\n" + "\n".join(bad)
    # The pictures the same process drew (the ones `phucvu screenshots`
    # saves): the header bar's colour at the top and a real frame below it.
    from PIL import Image
    w, h = size
    for name in SCREENS:
        img = Image.open(tmp_path / f"kiosk-{name}-{w}x{h}.png").convert("RGB")
        assert img.size == (w, h)
        assert img.getpixel((w // 2, 10)) == (0x0B, 0x3D, 0x6B), (name, w, h)
        colours = img.resize((64, 64)).getcolors(64 * 64)
        assert colours is not None and len(colours) > 8, (name, w, h)


def test_a_long_ward_name_fits_the_header(tmp_path):
    """After the 2025 merger many centres are a ward's with a long name: the
    centre's name takes three lines beside the clock of a 7-inch 800x480,
    none clipped (upright it has the width of its own row)."""
    size = (800, 480)
    site = (ROOT / "deploy" / "demo-site.toml").read_text(encoding="utf-8")
    site = site.replace('commune = "Xã Thắng Lộc"', 'commune = "Phường Nguyễn Trung Trực"').replace(
        'centre = "Trung tâm Phục vụ hành chính công xã Thắng Lộc"',
        'centre = "Trung tâm Phục vụ hành chính công phường Nguyễn Trung Trực"')
    assert "Nguyễn Trung Trực" in site
    config = tmp_path / "ward.toml"
    config.write_text(site, encoding="utf-8")
    found = _check(size, tmp_path, config)
    bad = [f"{screen}: {p}" for screen, ps in found.items() for p in ps]
    assert not bad, f"{size[0]}x{size[1]}:\n" + "\n".join(bad)


def test_the_sizes_are_the_ones_centres_buy():
    assert set(RESOLUTIONS) == {(800, 480), (1024, 768), (1280, 800), (1366, 768), (1280, 1024),
                                (1920, 1080), (1080, 1920), (480, 800)}


# ------------------------------------------------- the check itself, in this process
@pytest.fixture(scope="module")
def window():
    from kivy.base import EventLoop
    EventLoop.ensure_window()
    from kivy.core.window import Window
    return Window


def _placed(window, *labels, size=(300, 80)):
    """Each label alone in a box of ``size`` in the window, laid out and drawn."""
    from kivy.base import EventLoop
    from kivy.uix.boxlayout import BoxLayout
    box = BoxLayout(size_hint=(None, None), size=size, pos=(10, 10))
    for label in labels:
        box.add_widget(label)
    window.add_widget(box)
    for _ in range(3):
        EventLoop.idle()
    return box


def test_the_check_catches_text_that_does_not_fit(window):
    """The walk the screen test relies on finds each kind of fault it names."""
    from kivy.uix.label import Label

    from kiosk.ui import fit, theme
    from kiosk.ui.widgets import FitLabel

    cases = {
        "under the floor": Label(text="Tư pháp", font_size=theme.TEXT_FLOOR_PX - 6),
        "cut mid-word": Label(text="Đăngkýkhaisinhkhaitử", font_size=40, text_size=(120, None)),
        "lines clipped": FitLabel(text="Tư pháp – Hộ tịch, Đất đai – Xây dựng, Văn hóa – Xã hội",
                                  nominal=40, halign="left", valign="middle"),
    }
    cases["lines clipped"].bind(size=lambda w, s: setattr(w, "text_size", s))
    # As every kiosk label is: the texture as tall as the text, placed by the rule.
    cases["taller than its box"] = FitLabel(text="Tư pháp – Hộ tịch, Đất đai – Xây dựng, Văn hóa – Xã hội",
                                            nominal=40, halign="left", valign="top")
    cases["taller than its box"].bind(width=lambda w, v: setattr(w, "text_size", (v, None)))
    for why, label in cases.items():
        box = _placed(window, label, size=(150, 40))
        try:
            found = fit.problems(box, tuple(window.size))
        finally:
            window.remove_widget(box)
        assert found, f"{why}: not reported"
    fine = Label(text="Tư pháp", font_size=theme.BODY_PX)
    box = _placed(window, fine, size=(400, 100))
    try:
        assert fit.problems(box, tuple(window.size)) == []
    finally:
        window.remove_widget(box)


def test_every_date_fits_the_clock_box_at_the_floor(window):
    """The header shows the date only in a box of theme.DATE_BOX_PX or more;
    the screens are drawn on one Friday in November, so every day of a year,
    in both languages, is measured here with the header's font at the floor."""
    import datetime as dt

    from kivy.core.text import Label as CoreLabel

    from kiosk.ui import i18n, theme

    widest = max(((CoreLabel(text=text, font_size=theme.TEXT_FLOOR_PX).get_extents(text)[0], text)
                  for day in (dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365))
                  for text in (i18n.date_text(day, "vi"), i18n.date_text(day, "en"))))
    assert widest[0] <= theme.DATE_BOX_PX, widest


def test_fitted_sizes_are_whole_pixels_from_the_ladder(window):
    """Kivy opens a font for every distinct size it is given and keeps it: a
    fitted size is the nominal in whole pixels or a step of the shared ladder."""
    from kiosk.ui import fit
    from kiosk.ui.widgets import FitLabel

    sizes = []
    for nominal in (58.8, 47.3, 42):
        label = FitLabel(text="Tư pháp – Hộ tịch", nominal=nominal, bold=True,
                         halign="left", valign="middle")
        label.bind(size=lambda w, s: setattr(w, "text_size", s))
        box = _placed(window, label, size=(260, 70))
        try:
            size = label.font_size
        finally:
            window.remove_widget(box)
        assert size < nominal, "the text should have needed shrinking in this box"
        assert size == int(size) and (size in fit.LADDER or size == fit.math.ceil(label.floor)), size
        sizes.append(size)
    # Three nominals, one box: they land on the same step, so one font serves all three.
    assert len(set(sizes)) == 1, sizes


def test_field_names_on_the_home_screen_share_one_size(window, site):
    """One long field name shrinks every tile's name to its size, not just its own."""
    from kivy.base import EventLoop

    from kiosk.ui.root import KioskRoot
    root = KioskRoot(site, send=lambda request: None)
    window.add_widget(root)
    try:
        for _ in range(3):
            EventLoop.idle()
        tiles = list(root.choices.tiles.values())
        names = [t.ids.name_label for t in tiles]
        before = {l.font_size for l in names}
        assert len(before) == 1, before
        tiles[0].name = "Tư pháp – Hộ tịch – Chứng thực – Nuôi con nuôi – Quốc tịch – Lý lịch tư pháp"
        for _ in range(3):
            EventLoop.idle()
        long_size = names[0].own_size()
        assert long_size < min(before), "the long name should need a smaller size"
        sizes = {l.font_size for l in names} | {root.choices.priority_tile.ids.name_label.font_size}
        assert sizes == {long_size}, sizes
    finally:
        window.remove_widget(root)
