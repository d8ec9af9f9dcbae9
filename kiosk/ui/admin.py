"""The admin PIN: the only way into the kiosk's settings (kiosk/ui/settings.py,
where it can be closed) from its own screen.

Where the PIN's hash comes from (``load_pin_hash``) and the pad on the admin
screen that checks it (``AdminPad``).  Five wrong PINs lock the pad for a
while (kiosk/lockout.py, the rule the staff console's login shares).  There is
no default PIN: without a hash the hidden gesture does nothing.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from kiosk.lockout import Lockout
from kiosk.ui import flow, theme
from kiosk.ui.i18n import t
from kiosk.ui.widgets import AdminScreen, KButton

log = logging.getLogger("phucvu.kiosk")

PIN_ENV = "PHUCVU_KIOSK_PIN_HASH"
PIN_FILE_ENV = "PHUCVU_KIOSK_PIN_HASH_FILE"
PIN_HASH_NAME = "kiosk-admin.pin_hash"
ATTEMPTS = 5            # wrong PINs before the pad locks
MAX_DIGITS = 12
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")


def pin_hash_file(config_path: str | Path) -> Path:
    """``kiosk-admin.pin_hash`` beside the real site file (the wizard writes it)."""
    return Path(os.path.realpath(config_path)).with_name(PIN_HASH_NAME)


def load_pin_hash(env: dict[str, str] | None = None, *, beside: str | Path | None = None) -> str | None:
    """The admin PIN hash from PHUCVU_KIOSK_PIN_HASH, the file PHUCVU_KIOSK_PIN_HASH_FILE,
    or else ``kiosk-admin.pin_hash`` beside the site file ``beside``."""
    env = os.environ if env is None else env
    text = env.get(PIN_ENV, "").strip()
    if not text and env.get(PIN_FILE_ENV):
        try:
            text = Path(env[PIN_FILE_ENV]).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SystemExit(f"kiosk: cannot read {PIN_FILE_ENV}={env[PIN_FILE_ENV]}: {e.strerror}")
    if not text and beside is not None and pin_hash_file(beside).exists():
        try:
            text = pin_hash_file(beside).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SystemExit(f"kiosk: cannot read {pin_hash_file(beside)}: {e.strerror}")
    if not text:
        return None
    try:
        flow.parse_pin_hash(text)
    except ValueError as e:
        raise SystemExit(f"kiosk: {PIN_ENV}: {e}")
    return text


class AdminPad:
    """The keys of the admin screen, the PIN typed so far and the lockout.

    ``lang`` says which language the pad speaks at the moment of a press;
    ``on_exit`` is called once the right PIN is confirmed.
    """

    def __init__(self, screen: AdminScreen, *, pin_hash: str | None, on_exit: Callable[[], None],
                 lang: Callable[[], str], lock_s: float, clock: Callable[[], float]):
        self.screen = screen
        self.pin_hash = pin_hash
        self.on_exit = on_exit
        self.lang = lang
        self.pin = ""
        self.lock = Lockout(ATTEMPTS, lock_s, clock=clock)
        self.keys: dict[str, KButton] = {}
        for k in KEYS:
            b = KButton(nominal=56 if k.isdigit() else theme.BODY_PX + 4,
                        bg=theme.rgba("tile") if k == "ok" else theme.rgba("button"))
            b.bind(on_release=lambda btn, key=k: self.press(key))
            self.keys[k] = b
            screen.ids.keypad.add_widget(b)

    def open(self) -> bool:
        """Start a fresh PIN; False when admin exit is disabled (no hash)."""
        if not self.pin_hash:
            log.warning("admin gesture seen but admin exit is disabled: set %s to a PIN hash", PIN_ENV)
            return False
        self.pin = ""
        self.screen.message = ""
        return True

    def relabel(self) -> None:
        lang = self.lang()
        self.screen.title = t("admin_title", lang)
        self.screen.cancel_text = t("admin_cancel", lang)
        self.screen.dots = "•" * len(self.pin)
        self.keys["clear"].text = t("admin_clear", lang)
        self.keys["ok"].text = t("admin_exit", lang)
        for k in "0123456789":
            self.keys[k].text = k

    def press(self, key: str) -> None:
        left = self.lock.locked("admin PIN")
        if left > 0:
            self.screen.message = t("admin_locked", self.lang(), s=int(left) + 1)
            return
        if key == "clear":
            self.pin = ""
        elif key == "ok":
            if self.pin_hash and flow.check_pin(self.pin, self.pin_hash):
                log.warning("admin PIN accepted")
                self.on_exit()
                return
            self.pin = ""
            log.warning("wrong admin PIN")
            locked = self.lock.fail("admin PIN")
            self.screen.message = (t("admin_locked", self.lang(), s=int(locked)) if locked
                                   else t("admin_wrong", self.lang()))
        elif len(self.pin) < MAX_DIGITS:
            self.pin += key
        self.screen.dots = "•" * len(self.pin)
