"""Render every kiosk screen at every supported resolution into docs/images/.

    python -m kiosk.ui.screenshots [--config deploy/demo-site.toml] [--out docs/images]

No bus is needed: each screen is filled with the payloads the core would
send (docs/mqtt.md), through the same ``handle()`` path the bus uses.  With no
DISPLAY, SDL renders offscreen with Mesa (real frames).  Files are named
``kiosk-<screen>-<width>x<height>.png``.
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
# and kiosks, full HD, and a full-HD panel standing upright.
RESOLUTIONS = ((800, 480), (1024, 768), (1280, 800), (1366, 768), (1280, 1024), (1920, 1080),
               (1080, 1920))
SCREENS = ("home", "home-en", "priority", "home-priority", "printing", "printed", "problem",
           "closed", "busy", "admin")

# A fixed moment (Friday 27 Nov 2026, 09:41 in Hanoi) so pictures do not change run to run.
WALL = 1795747260.0

SUMMARY = {
    "day": "2026-11-27", "day_closed": False, "updated_at": WALL,
    "fields": [
        {"field": "tu-phap", "waiting": 5, "estimated_wait_min": 12.5, "quota_left": 183, "open": True},
        {"field": "chung-thuc", "waiting": 2, "estimated_wait_min": 4.0, "quota_left": 250, "open": True},
        {"field": "dat-dai", "waiting": 0, "estimated_wait_min": 0, "quota_left": 0, "open": True},
        {"field": "van-hoa-xa-hoi", "waiting": 7, "estimated_wait_min": 31.0, "quota_left": 100, "open": True},
        {"field": "kinh-te", "waiting": 1, "estimated_wait_min": 7.5, "quota_left": 90, "open": False},
    ],
}
TICKET = {"ticket_id": "20261127-A013", "label": "A013", "field": "tu-phap",
          "field_name_vi": "Tư pháp – Hộ tịch", "field_name_en": "Justice and civil status",
          "priority": None, "priority_name_vi": None, "issued_at": WALL, "ahead": 4,
          "estimated_wait_min": 20.0, "counters": [1, 2]}


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


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=here / "deploy" / "demo-site.toml")
    ap.add_argument("--out", type=Path, default=here / "docs" / "images")
    ap.add_argument("--size", help="one resolution WIDTHxHEIGHT (used by the parent process)")
    ap.add_argument("--check", action="store_true",
                    help="with --size: render without saving and print the text problems as JSON")
    args = ap.parse_args(argv)
    if args.size:
        w, h = (int(x) for x in args.size.split("x"))
        found = render(args.config, None if args.check else args.out, (w, h))
        if args.check:
            print("FIT " + json.dumps(found, ensure_ascii=False))
            return 0
        bad = {k: v for k, v in found.items() if v}
        for screen, lines in bad.items():
            for line in lines:
                print(f"kiosk-{screen}-{w}x{h}: {line}", file=sys.stderr)
        return 0
    for w, h in RESOLUTIONS:
        done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--config", str(args.config),
                               "--out", str(args.out), "--size", f"{w}x{h}"])
        if done.returncode != 0:
            print(f"screenshots: rendering {w}x{h} failed (exit {done.returncode})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
