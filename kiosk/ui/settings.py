"""The kiosk's own settings, behind the admin PIN: the screen's rotation and
default language, the printer's state, the lock (a pause screen: only the
PIN reopens it), a new PIN, and closing the kiosk.

Rotation and language are kept in ``kiosk-local.json`` beside the real site
file (docs/kiosk.md): ``{"rotation": 0, "language": "vi"}``, written
atomically and applied at once and at every start.  A new PIN goes to
``kiosk-admin.pin_hash`` beside it (mode 0600), the file the kiosk reads when
PHUCVU_KIOSK_PIN_HASH(_FILE) is not set.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk import durable
from kiosk.ui import flow, theme
from kiosk.ui.admin import PIN_ENV, PIN_FILE_ENV, AdminPad, pin_hash_file
from kiosk.ui.i18n import t
from kiosk.ui.widgets import SCREENS_DIR, AdminScreen, KButton, _Screen

log = logging.getLogger("phucvu.kiosk")
LOCAL_NAME = "kiosk-local.json"
ROTATIONS = (0, 90, 180, 270)
DEFAULTS: dict[str, Any] = {"rotation": 0, "language": "vi"}
BUTTONS = ("rotation", "lang", "lock", "pin", "close", "back")


class SettingsScreen(_Screen):
    title = StringProperty("")
    printer_text = StringProperty("")
    message = StringProperty("")


_kv = False


def local_file(config_path: str | Path) -> Path:
    return Path(os.path.realpath(config_path)).with_name(LOCAL_NAME)


def load_local(config_path: str | Path) -> dict[str, Any]:
    """The kiosk-local settings; a missing or damaged file gives the defaults (logged)."""
    path = local_file(config_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return dict(DEFAULTS)
    except (OSError, ValueError) as e:
        log.error("%s unreadable (%s): default screen settings", path, e)
        return dict(DEFAULTS)
    out = dict(DEFAULTS)
    if data.get("rotation") in ROTATIONS:
        out["rotation"] = data["rotation"]
    if data.get("language") in ("vi", "en"):
        out["language"] = data["language"]
    return out


class Settings:
    """The settings, lock and new-PIN screens added to a KioskRoot."""

    def __init__(self, root: Any, config_path: str | Path, *, on_exit: Callable[[], None]):
        global _kv
        if not _kv:
            Builder.load_file(str(SCREENS_DIR / "settings.kv"))
            _kv = True
        self.root = root
        self.config_path = Path(config_path)
        self.on_exit = on_exit
        self.local = load_local(config_path)
        self.screen = SettingsScreen()
        self.buttons: dict[str, KButton] = {}
        for key in BUTTONS:
            b = KButton(bg=theme.rgba("tile" if key in ("lock", "back") else "button"))
            b.bind(on_release=lambda _b, k=key: self.press(k))
            self.buttons[key] = b
            self.screen.ids.buttons.add_widget(b)
        self.locked = AdminScreen(name="locked")
        self.lock_pad = AdminPad(self.locked, pin_hash=root.admin.pin_hash, on_exit=self.unlock,
                                 lang=lambda: root.lang, lock_s=root.tm.lock_s, clock=root.clock)
        self.newpin = AdminScreen(name="newpin")
        self.newpin.bind(on_cancel=lambda *_: self.open())
        self.new_pad = AdminPad(self.newpin, pin_hash=None, on_exit=lambda: None,
                                lang=lambda: root.lang, lock_s=root.tm.lock_s, clock=root.clock)
        self.new_pad.press = self.new_pin_key       # the same keys, a different rule
        self.first: str | None = None
        for s in (self.screen, self.locked, self.newpin):
            root.ids.sm.add_widget(s)
            root.screens[s.name] = s
        # The pads lie beside their titles in landscape, under them upright (admin.kv).
        root.bind(size=lambda *_: self._orient())
        self._orient()
        self.locked.ids.cancel.opacity = 0
        self.locked.ids.cancel.disabled = True
        # The right admin PIN now opens these settings instead of closing the kiosk.
        root.admin.on_exit = self.open
        self.apply()
        root.lang = self.local["language"]
        root.refresh()

    def _orient(self) -> None:
        self.locked.landscape = self.newpin.landscape = self.root.width >= self.root.height

    # -- the settings screen ---------------------------------------------------
    def open(self) -> None:
        self.root.last_touch = self.root.clock()
        self.screen.message = ""
        self.relabel()
        self.root.show("settings")

    def relabel(self) -> None:
        lang = self.root.lang
        p = self.root.printer
        state = (f"{p.get('state')} ({p.get('detail', '')})".strip() if p else t("set_printer_unknown", lang))
        self.screen.title = t("set_title", lang)
        self.screen.printer_text = t("set_printer", lang, state=state)
        labels = {"rotation": t("set_rotation", lang, deg=self.local["rotation"]),
                  "lang": t("set_lang", lang, name=t(f"set_lang_{self.local['language']}", lang)),
                  "lock": t("set_lock", lang), "pin": t("set_pin", lang), "close": t("set_close", lang),
                  "back": t("set_back", lang)}
        for k, b in self.buttons.items():
            b.text = labels[k]

    def press(self, key: str) -> None:
        self.root.last_touch = self.root.clock()
        if key == "rotation":
            i = ROTATIONS.index(self.local["rotation"])
            self.save(rotation=ROTATIONS[(i + 1) % len(ROTATIONS)])
        elif key == "lang":
            self.save(language="en" if self.local["language"] == "vi" else "vi")
        elif key == "lock":
            self.lock()
        elif key == "pin":
            self.first = None
            self.new_pad.pin = ""
            self.newpin.title, self.newpin.message, self.newpin.dots = t("newpin_first", self.root.lang), "", ""
            self.newpin.cancel_text = t("admin_cancel", self.root.lang)
            self._label_pad(self.new_pad, "admin_save")
            self.root.show("newpin")
        elif key == "close":
            log.warning("admin closed the kiosk from its settings")
            self.on_exit()
        elif key == "back":
            self.root.go_home()
        self.relabel()

    def save(self, **changes: Any) -> None:
        self.local.update(changes)
        durable.replace(local_file(self.config_path),
                        (json.dumps(self.local, ensure_ascii=False) + "\n").encode(), 0o644)
        log.warning("kiosk settings changed: %s", changes)
        self.apply()

    def apply(self) -> None:
        Window.rotation = self.local["rotation"]
        self.root.default_lang = self.local["language"]

    # -- the lock --------------------------------------------------------------------
    def lock(self) -> None:
        log.warning("kiosk paused by the admin: no tickets until the PIN is entered")
        self.lock_pad.pin_hash = self.root.admin.pin_hash
        self.lock_pad.pin = ""
        self._label_pad(self.lock_pad, "admin_exit")
        self.locked.title = t("locked_title", self.root.lang)
        self.locked.message = t("locked_sub", self.root.lang)
        self.locked.dots = ""
        self.root.show("locked")

    def unlock(self) -> None:
        log.warning("kiosk unlocked with the admin PIN")
        self.root.go_home()

    def _label_pad(self, pad: AdminPad, ok: str) -> None:
        lang = self.root.lang
        pad.keys["clear"].text = t("admin_clear", lang)
        pad.keys["ok"].text = t(ok, lang)
        for k in "0123456789":
            pad.keys[k].text = k

    # -- a new PIN ---------------------------------------------------------------------
    def new_pin_key(self, key: str) -> None:
        pad, scr, lang = self.new_pad, self.newpin, self.root.lang
        self.root.last_touch = self.root.clock()
        if key == "clear":
            pad.pin = ""
        elif key == "ok":
            pin, pad.pin = pad.pin, ""
            if not 4 <= len(pin) <= 12:
                scr.message = t("newpin_short", lang)
            elif self.first is None:
                self.first, scr.title, scr.message = pin, t("newpin_again", lang), ""
            elif self.first != pin:
                self.first, scr.title, scr.message = None, t("newpin_first", lang), t("newpin_mismatch", lang)
            else:
                self.set_pin(pin)
                return
        elif len(pad.pin) < 12:
            pad.pin += key
        scr.dots = "•" * len(pad.pin)

    def set_pin(self, pin: str) -> None:
        new_hash = flow.hash_pin(pin)
        durable.replace(pin_hash_file(self.config_path), (new_hash + "\n").encode(), 0o600)
        if os.environ.get(PIN_ENV) or os.environ.get(PIN_FILE_ENV):
            log.warning("new kiosk PIN written to %s, but %s/%s is set and wins at the next start",
                        pin_hash_file(self.config_path), PIN_ENV, PIN_FILE_ENV)
        self.root.admin.pin_hash = new_hash
        self.lock_pad.pin_hash = new_hash
        log.warning("kiosk admin PIN changed")
        self.open()
        self.screen.message = t("newpin_done", self.root.lang)


def attach_settings(root: Any, config_path: str | Path, *, on_exit: Callable[[], None]) -> Settings:
    return Settings(root, config_path, on_exit=on_exit)
