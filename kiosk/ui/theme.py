"""Colours and sizes of the kiosk, with the arithmetic that keeps them legible.

Sizes are in physical pixels of the kiosk screen.  A 15.6-inch 1920×1080
panel has about 141 px per inch, so 15 mm is about 83 px; the project's
floor for a touch target is the stricter 142 px (about 25 mm there), which
also leaves room for a shaky finger on a smaller 1280×800 panel.
Colours are checked against WCAG 2.x: every pair of text on background in
``TEXT_PAIRS`` must reach 4.5:1 (AA, normal text); tests compute them.
"""
from __future__ import annotations

PALETTE: dict[str, str] = {
    "bg": "#F4F6F8",          # screen background: off-white, less glare than pure white
    "ink": "#14202B",         # main text on bg
    "muted": "#3D4A57",       # secondary text on bg
    "header": "#0B3D6B",      # header bar
    "on_dark": "#FFFFFF",     # text on header, tiles, buttons
    "tile": "#0B5394",        # an open field
    "tile_closed": "#5B6670", # a closed field: grey, still readable
    "priority": "#A33A00",    # the priority tile and banner: warm, distinct from fields
    "accent": "#0B5394",      # the big number
    "danger": "#A4161A",      # printer problem title
    "button": "#2B3A48",      # secondary buttons (back, language)
    "busy": "#7A4E00",        # busy screen title on bg
    "key": "#DDE3EA",         # PIN keys
    "listen": "#1D6B3A",      # the listen button: green, apart from the grey language button
}

# (foreground, background) pairs that really occur on screen.
TEXT_PAIRS: list[tuple[str, str]] = [
    ("ink", "bg"), ("muted", "bg"), ("accent", "bg"), ("danger", "bg"), ("busy", "bg"),
    ("on_dark", "header"), ("on_dark", "tile"), ("on_dark", "tile_closed"),
    ("on_dark", "priority"), ("on_dark", "button"), ("ink", "key"),
    ("on_dark", "listen"),
]

# The floor under which no kiosk text is shrunk to fit (kiosk/ui/fit.py): 24 px is
# 4.1 mm on the densest panel a centre buys (a 10-inch 1280×800, about 149 px per
# inch), near 12-point print; 4.3 mm on a 15.6-inch 1920×1080, 4.6 mm on a 7-inch 800×480.
TEXT_FLOOR_PX = 24

TOUCH_MIN_PX = 142
# A touch target never gets smaller than this on the smaller panels: 90 px is
# 15 mm at 149 px per inch (a 10-inch 1280×800, the densest), more elsewhere.
TOUCH_FLOOR_PX = 90
BODY_PX = 30           # body text; the floor is 28
BODY_MIN_PX = 28
TILE_NAME_PX = 42
TITLE_PX = 48
HEADER_PX = 142
# The header's clock box: wide enough for the longest date at the text floor
# ("Wednesday 30 September 2026", 335 px; tests/test_kiosk_fit.py measures
# every day of a year in both languages).  A narrower box shows the time only.
DATE_BOX_PX = 340
NUMBER_PX = 300        # the ticket number on the result screens (scaled down to fit)


def window_scale(width: float, height: float) -> float:
    """How much the fixed sizes above shrink on this window: 1.0 on 1920×1080 and
    on an upright 1080×1920, less on smaller panels (text then fits itself)."""
    ref_w, ref_h = (1920, 1080) if width >= height else (1080, 1920)
    return max(0.4, min(1.0, width / ref_w, height / ref_h))


def px(nominal: float, scale: float) -> float:
    """A text or box size on this window."""
    return round(nominal * scale)


def touch(nominal: float, scale: float) -> float:
    """A button's size on this window: scaled, never under the touch floor."""
    return max(TOUCH_FLOOR_PX, round(nominal * scale))


def rgb(name: str) -> tuple[float, float, float]:
    h = PALETTE[name].lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def rgba(name: str, alpha: float = 1.0) -> list[float]:
    return [*rgb(name), alpha]


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(name: str) -> float:
    r, g, b = (_linear(c) for c in rgb(name))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio, 1.0 to 21.0."""
    a, b = luminance(fg), luminance(bg)
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)
