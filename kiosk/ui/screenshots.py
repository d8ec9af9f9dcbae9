"""Render every kiosk screen at every supported resolution into docs/images/.

    python -m kiosk.ui.screenshots [--config deploy/demo-site.toml] [--out docs/images]

No bus is needed: each screen is filled with the payloads the core would
send (docs/mqtt.md), through the same ``handle()`` path the bus uses.  With no
DISPLAY, SDL renders offscreen with Mesa (real frames).  Files are named
``kiosk-<screen>-<width>x<height>.png``.  ``--wizard --size WxH`` renders the
first-run wizard's steps and the settings screens instead
(``kiosk-wizard-<step>-…``, ``kiosk-settings-…``); without ``--size`` both are
made, the wizard at ``WIZARD_RESOLUTIONS``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# The panels centres buy: 7" and 10" tablets, old 4:3 and 5:4 monitors, 15.6" laptops
# and kiosks, full HD, and a full-HD panel and the 7" one standing upright.
RESOLUTIONS = ((800, 480), (1024, 768), (1280, 800), (1366, 768), (1280, 1024), (1920, 1080),
               (1080, 1920), (480, 800))
# The wizard and settings pictures in docs/images (every size is checked by tests/test_wizard.py).
WIZARD_RESOLUTIONS = ((1280, 800), (800, 480))
SCREENS = ("home", "home-en", "priority", "home-priority", "printing", "printed", "printed-paused",
           "problem", "closed", "busy", "admin")

# A fixed moment (Friday 27 Nov 2026, 09:41 in Hanoi) so pictures do not change run to run.
WALL = 1795747260.0

# The waits show the three ways a wait is said (kiosk/waitwords.py): a wide
# range alone (Tư pháp), a narrow one as "≈ 4 phút" (Chứng thực) and None,
# every counter of the field paused (Văn hóa: "chờ quầy mở lại").
SUMMARY = {
    "day": "2026-11-27", "day_closed": False, "updated_at": WALL,
    "fields": [
        {"field": "tu-phap", "waiting": 5, "estimated_wait_min": 20.0, "wait_low_min": 14.2,
         "wait_high_min": 33.9, "quota_left": 183, "open": True},
        {"field": "chung-thuc", "waiting": 2, "estimated_wait_min": 4.0, "wait_low_min": 2.5,
         "wait_high_min": 6.1, "quota_left": 250, "open": True},
        {"field": "dat-dai", "waiting": 0, "estimated_wait_min": 0, "wait_low_min": 0, "wait_high_min": 0,
         "quota_left": 0, "open": True},
        {"field": "van-hoa-xa-hoi", "waiting": 7, "estimated_wait_min": None, "wait_low_min": None,
         "wait_high_min": None, "quota_left": 100, "open": True},
        {"field": "kinh-te", "waiting": 1, "estimated_wait_min": 7.5, "wait_low_min": 5.0,
         "wait_high_min": 10.5, "quota_left": 90, "open": False},
    ],
}
# Told at issue: about 20 minutes, 15 to 35 (wide, so said).
TICKET = {"ticket_id": "20261127-A013", "label": "A013", "field": "tu-phap",
          "field_name_vi": "Tư pháp – Hộ tịch", "field_name_en": "Justice and civil status",
          "priority": None, "priority_name_vi": None, "issued_at": WALL, "ahead": 4,
          "estimated_wait_min": 20.0, "wait_low_min": 14.2, "wait_high_min": 33.9, "counters": [1, 2]}
# A ticket of a field whose counters are all paused: no minutes are promised.
TICKET_PAUSED = {**TICKET, "ticket_id": "20261127-D008", "label": "D008", "field": "van-hoa-xa-hoi",
                 "field_name_vi": "Văn hóa – Xã hội", "field_name_en": "Culture and social affairs", "ahead": 7,
                 "estimated_wait_min": None, "wait_low_min": None, "wait_high_min": None, "counters": [4]}


def _prepare_kivy() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # Python logging and plain stderr, so a traceback is not swallowed by Kivy's logger.
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _grab(w: int, h: int, target: Path) -> None:
    """The frame as a PNG.  Read as RGBA: Window.screenshot() reads RGB rows,
    which are not whole 4-byte words at 1366 px wide, and its PNG comes out
    sheared with the colours rotated."""
    from kivy.graphics.opengl import GL_RGBA, GL_UNSIGNED_BYTE, glReadPixels
    from PIL import Image

    data = glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE)
    img = Image.frombytes("RGBA", (w, h), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    img.convert("RGB").save(target)


def render(config_path: Path, out: Path | None, size: tuple[int, int]) -> dict[str, list[str]]:
    """Every screen at one resolution; one process per resolution, because
    SDL's offscreen surface does not grow when the window is resized.

    Writes the PNGs into ``out`` (None: none) and returns, per screen, what
    ``fit.problems()`` found wrong with its text."""
    _prepare_kivy()
    from kivy.base import EventLoop
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    from kivy.core.window import Window

    from kiosk import config as site_config
    from kiosk.ui.root import KioskRoot

    from kiosk.ui import fit

    cfg = site_config.load(config_path)
    EventLoop.ensure_window()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    sent: list[dict] = []
    clock = _Clock()
    root = KioskRoot(cfg, send=sent.append, clock=clock, wall=lambda: WALL, pin_hash=None)
    Window.add_widget(root)

    def step(n: int = 40) -> None:
        # Fitting a label's font and the layouts that follow it take a few
        # frames to settle after a screen changes (a turn of orientation more).
        for _ in range(n):
            EventLoop.idle()

    def reply(payload: dict) -> None:
        payload = {"request_id": sent[-1]["request_id"], **payload}
        root.handle("reply", payload)

    def fresh() -> None:
        root.flow.pending = None
        root.flow.last_accepted = None
        root.go_home()
        root.handle("summary", SUMMARY)

    def stage(name: str) -> None:
        fresh()
        if name == "home-en":
            root.toggle_lang()
        elif name == "priority":
            root.show_priority()
        elif name == "home-priority":
            root.choose_priority(cfg.priority.classes[0].code)
        elif name == "printing":
            root.request_ticket("tu-phap")
            root.screens["printing"].ids.anim.stop()
            root.screens["printing"].ids.anim.progress = 0.6
        elif name == "printed":
            root.request_ticket("tu-phap")
            clock.now += 5
            reply({"ok": True, "ticket": TICKET, "print": {"status": "printed"}})
        elif name == "printed-paused":
            root.request_ticket("van-hoa-xa-hoi")
            clock.now += 5
            reply({"ok": True, "ticket": TICKET_PAUSED, "print": {"status": "printed"}})
        elif name == "problem":
            root.request_ticket("tu-phap")
            reply({"ok": True, "ticket": TICKET, "print": {"status": "not_printed", "reason": "paper_out"}})
        elif name == "closed":
            root.request_ticket("dat-dai")
            reply({"ok": False, "error": {"code": "closed", "message": "outside opening hours",
                                          "next_open": WALL + 24 * 3600 - (2 * 3600 + 41 * 60)}})
        elif name == "busy":
            root.request_ticket("tu-phap")
            clock.now += 3
            root.tick()
            root.screens["busy"].ids.spinner.stop()
            root.screens["busy"].ids.spinner.angle = 40
        elif name == "admin":
            root.admin.pin_hash = "pbkdf2_sha256$1$00$00"
            root.open_admin()
            root.admin.pin = "12"
            root.screens["admin"].dots = "••"
            root.admin.pin_hash = None

    found: dict[str, list[str]] = {}
    w, h = size
    if tuple(Window.size) != (w, h):
        raise SystemExit(f"screenshots: window is {tuple(Window.size)}, wanted {w}x{h}")
    step(3)
    for name in SCREENS:
        stage(name)
        step()
        found[name] = fit.problems(root, (w, h))
        if out is not None:
            _grab(w, h, out / f"kiosk-{name}-{w}x{h}.png")
    Window.remove_widget(root)
    return found


WIZARD_STEPS = ("name", "fields", "edit", "counters", "hours", "pin", "printer", "voice", "summary",
                "starting")
SETTINGS_SCREENS = ("settings", "settings-locked", "settings-newpin")
WIZARD_EXTRA = ("wizard-summary-en",)


def render_wizard(out: Path | None, size: tuple[int, int]) -> dict[str, list[str]]:
    """Every first-run wizard step (kiosk/ui/wizard.py) and the kiosk's settings
    screens (kiosk/ui/settings.py) at one resolution, as ``render()`` does."""
    _prepare_kivy()
    from kivy.base import EventLoop
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    from kivy.core.window import Window

    from kiosk.ui import fit
    from kiosk.ui.wizard import Wizard

    EventLoop.ensure_window()
    w, h = size
    if tuple(Window.size) != (w, h):
        raise SystemExit(f"screenshots: window is {tuple(Window.size)}, wanted {w}x{h}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="phucvu-wizard-shots-"))
    wz = Wizard(tmp / "site.toml", on_saved=lambda cfg: None,
                printer="serial:/dev/serial/by-id/usb-Xprinter_XP-80C-if00")
    Window.add_widget(wz.root)
    found: dict[str, list[str]] = {}

    def step(n: int = 40) -> None:
        for _ in range(n):
            EventLoop.idle()

    def shot(name: str) -> None:
        step()
        found[name] = fit.problems(Window.children[0], (w, h))
        if out is not None:
            _grab(w, h, out / f"kiosk-{name}-{w}x{h}.png")

    step(3)
    for k in "xax thawngs loocj":
        wz.key(k)
    for name in WIZARD_STEPS:
        if name == "edit":
            wz.editing_names = True
            wz.tap_field(wz.draft.fields[1])
        elif name == "counters":
            wz.editing_names = False
            wz.sm.current = "fields"
            wz.next()
        elif name == "pin":
            wz.next()
            for k in ("2", "4", "6", "8", "ok", "2", "4"):
                wz.pin_key(k)
        elif name == "printer":
            for k in ("6", "8", "ok"):
                wz.pin_key(k)
            wz.next()
            wz.s["printer"].result = "Đã in: máy in trả lời «ok» (online, paper present, cover closed), 5890 byte"
        elif name == "voice":
            wz.next()
            wz.s["voice"].result = "Đã đọc (tệp kiosk-listen-00001.wav)"
        elif name == "starting":
            wz.sm.current = "starting"
            wz.refresh()
            wz.s["starting"].title, wz.s["starting"].detail = "Đang khởi động…", "Đang chờ máy chủ trung tâm trả lời"
        elif name != "name":
            wz.next()
        assert wz.current == name, (name, wz.current, wz.root.message)
        if name == "starting":
            wz.s["starting"].ids.spinner.angle = 40
        shot(f"wizard-{name}")
    # The English words are checked too, on the step with the longest lines.
    wz.toggle_lang()
    wz.sm.current = "summary"
    wz.refresh()
    shot("wizard-summary-en")
    wz.close()
    Window.remove_widget(wz.root)

    from kiosk import config as site_config
    from kiosk.ui.root import KioskRoot
    from kiosk.ui.settings import attach_settings
    here = Path(__file__).resolve().parents[2]
    cfg = site_config.load(here / "deploy" / "demo-site.toml")
    root = KioskRoot(cfg, send=lambda r: None, clock=_Clock(), wall=lambda: WALL, pin_hash=None)
    settings = attach_settings(root, tmp / "site.toml", on_exit=lambda: None)
    Window.add_widget(root)
    root.handle("summary", SUMMARY)
    root.handle("printer", {"state": "ok", "detail": "online, paper present, cover closed"})
    settings.open()
    shot("settings")
    settings.lock()
    root.screens["locked"].dots = "••"
    shot("settings-locked")
    settings.open()
    settings.press("pin")
    shot("settings-newpin")
    Window.remove_widget(root)
    return found


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=here / "deploy" / "demo-site.toml")
    ap.add_argument("--out", type=Path, help="where the PNGs go (default docs/images; "
                    "with --check, nothing is saved unless --out is given)")
    ap.add_argument("--size", help="one resolution WIDTHxHEIGHT (used by the parent process)")
    ap.add_argument("--only", action="append", metavar="WxH",
                    help="render only these resolutions (repeatable; default: all)")
    ap.add_argument("--check", action="store_true",
                    help="with --size: print the text problems as JSON")
    ap.add_argument("--wizard", action="store_true",
                    help="with --size: the first-run wizard and the settings screens instead")
    args = ap.parse_args(argv)
    out = args.out if args.out is not None or args.check else here / "docs" / "images"
    if args.size:
        w, h = (int(x) for x in args.size.split("x"))
        if args.wizard:
            found = render_wizard(out, (w, h))
        else:
            found = render(args.config, out, (w, h))
        if args.check:
            print("FIT " + json.dumps(found, ensure_ascii=False))
            return 0
        bad = {k: v for k, v in found.items() if v}
        for screen, lines in bad.items():
            for line in lines:
                print(f"kiosk-{screen}-{w}x{h}: {line}", file=sys.stderr)
        return 0
    only = set(args.only or ())
    for w, h in RESOLUTIONS:
        if only and f"{w}x{h}" not in only:
            continue
        done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--config", str(args.config),
                               "--out", str(out), "--size", f"{w}x{h}"])
        if done.returncode != 0:
            print(f"screenshots: rendering {w}x{h} failed (exit {done.returncode})", file=sys.stderr)
            return 1
    for w, h in WIZARD_RESOLUTIONS:
        if only and f"{w}x{h}" not in only:
            continue
        done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--wizard", "--out", str(out),
                               "--size", f"{w}x{h}"])
        if done.returncode != 0:
            print(f"screenshots: rendering the wizard at {w}x{h} failed (exit {done.returncode})",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
