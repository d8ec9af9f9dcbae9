"""Find a TrueType font that really covers Vietnamese.

A font without the stacked marks (ộ, ẫ, ự) draws empty boxes on paper, so
the check looks at the glyphs instead of trusting the font's name.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

# Debian's fonts-dejavu-core and fonts-noto-core; the project's ./run installs both.
KNOWN = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
]
MONO = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
]
_PROBE = "ộẫựĐđơư"


class FontError(ValueError):
    pass


@dataclass(frozen=True)
class FontPair:
    regular: str
    bold: str


def covers_vietnamese(path: str) -> bool:
    try:
        font = ImageFont.truetype(path, 24)
    except OSError:
        return False
    # A missing glyph renders as the font's .notdef box, identical for every
    # missing code point; compare with a code point no font has.
    def shape(ch: str) -> bytes:
        mask = font.getmask(ch)
        return bytes(mask.size) + bytes(mask)

    tofu = shape("\U0010fffd")
    return all(shape(ch) != tofu for ch in _PROBE)


def _fc_match(pattern: str) -> str | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@lru_cache(maxsize=8)
def find(override: str = "") -> FontPair:
    """The regular and bold font to draw Vietnamese with.

    ``override`` is ``[printer] font``: one file used for both weights (bold
    is then drawn with a one-dot stroke by the renderer).
    """
    if override:
        if not Path(override).is_file():
            raise FontError(f"[printer] font: no such font file {override!r}")
        if not covers_vietnamese(override):
            raise FontError(f"[printer] font: {override!r} lacks Vietnamese letters (tested {_PROBE})")
        return FontPair(override, override)
    for regular, bold in KNOWN:
        if Path(regular).is_file() and covers_vietnamese(regular):
            return FontPair(regular, bold if Path(bold).is_file() else regular)
    found = _fc_match("sans-serif:lang=vi")
    if found and covers_vietnamese(found):
        bold = _fc_match("sans-serif:lang=vi:weight=bold") or found
        return FontPair(found, bold)
    raise FontError(
        "no installed font covers Vietnamese; install fonts-dejavu-core or fonts-noto-core, "
        "or set [printer] font to a .ttf file"
    )


def mono() -> str:
    for p in MONO:
        if Path(p).is_file():
            return p
    return find().bold
