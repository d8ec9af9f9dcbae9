"""The wizard's steps, and its words: kept in the kiosk's one catalogue
(kiosk/ui/i18n.py) under ``wz_<key>``, Vietnamese first; the wizard's
language button switches ``LANG`` for the whole wizard."""
from __future__ import annotations

from kiosk.ui.i18n import t

STEPS = ("name", "fields", "counters", "hours", "pin", "printer", "voice", "summary")


LANG = ["vi"]


def w(key: str, **kw) -> str:
    return t(f"wz_{key}", LANG[0], **kw)
