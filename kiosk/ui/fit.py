"""Text that fits its box, and the check that it does.

A kiosk label has a nominal font size and a floor (``theme.TEXT_FLOOR_PX``).
``best_size()`` picks the largest size between the two at which the text,
wrapped only at spaces, fits the label's box: no word wider than the box
(Kivy would cut it mid-word) and no more lines than the box holds.  Below
the floor the text is not shrunk any further: then the layout is wrong and
``problems()`` (used by tests/test_kiosk_fit.py and ``phucvu screenshots``)
says so.  Measuring uses Kivy's own text provider, so what is measured is
what is drawn.

Sizes are whole pixels from one ladder shared by every label (``LADDER``):
Kivy's SDL2 text provider opens a font file, with its own glyph cache, for
every distinct ``font_size`` it is asked for (the key is ``str(font_size)``,
so 41.6 and 41.7 are two fonts) and never closes it.  Fractional sizes made
the kiosk hold 64 fonts and 25 MB more; the ladder keeps it to a few.
Measuring lays the text out without drawing it (no texture is made), and
sizes are first tried at one reference size (``REF_PX``, the floor, which is
drawn anyway): text laid out at size s into width w wraps as it does at REF
into w·REF/s, so the estimate opens no font of its own; only the size it
picks is then checked at that size (the size drawn).

Every kiosk label's ``text_size`` height is None: its texture is as big as
its text, not its box, and the FitLabel rule in screens/widgets.kv places it
by ``valign``; the box it must fit is then the label's own.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

from kivy.core.text import Label as CoreLabel
from kivy.uix.label import Label

from kiosk.ui import theme

_cache: dict[tuple, tuple[float, float, int]] = {}
REF_PX = theme.TEXT_FLOOR_PX
# The estimate at REF_PX is off by hinting (a few %): let it be optimistic,
# the check at the chosen size decides.
_SLACK = 1.06
_CACHE_MAX = 4000


def _ladder() -> tuple[int, ...]:
    sizes, v = [], 8
    while v <= 2000:
        sizes.append(v)
        v = max(v + 1, round(v * 1.06))    # steps of about 6 %, as fine as the eye needs
    return tuple(sizes)


LADDER = _ladder()


def _remember(key: tuple, value: tuple) -> tuple:
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = value
    return value


def _layout(text: str, font_size: float, bold: bool, font_name: str, **options: Any) -> tuple[float, int]:
    """(height, lines) of ``text`` as Kivy lays it out, without rendering a texture."""
    core = CoreLabel(text=text, font_size=font_size, bold=bold, font_name=font_name, **options)
    core.resolve_font_name()
    w, h = core.render()
    # Kivy's refresh() shows an empty or 1 px text as its 1x1 texture.
    return (h if w > 1 and h > 1 else 1), len(core._cached_lines or [])


def measure(text: str, font_size: float, bold: bool, width: float, font_name: str = "Roboto"
            ) -> tuple[float, float, int]:
    """(widest word, height, lines) of ``text`` wrapped at spaces into ``width``."""
    key = (text, round(font_size, 1), bold, round(width), font_name)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    probe = CoreLabel(font_size=font_size, bold=bold, font_name=font_name)
    widest = 0.0
    for line in text.split("\n"):
        for word in line.split(" "):
            if word:
                widest = max(widest, probe.get_extents(word)[0])
    h, lines = _layout(text, font_size, bold, font_name, text_size=(max(1, width), None))
    return _remember(key, (widest, h, lines or text.count("\n") + 1))


def inner(label: Label) -> tuple[float, float]:
    """The box the text is laid into: ``text_size`` where set, else the label."""
    tw, th = label.text_size
    px, py = label.padding[0], label.padding[1]
    w = tw if tw is not None else label.width
    h = th if th is not None else label.height
    return w - 2 * px, h - 2 * py


def fits(label: Label, font_size: float, max_lines: int) -> bool:
    w, h = inner(label)
    if w <= 0:
        return False
    widest, need_h, lines = measure(label.text, font_size, label.bold, w, label.font_name)
    if widest > w + 0.5:
        return False
    if max_lines:
        return lines <= max_lines
    if need_h > h:
        return False
    # Kivy drops lines of a box before its height is full; ask it how many it
    # keeps in the label's box (also where the texture is only as tall as its
    # text: the sizes, and so the look, stay those of the whole-box textures).
    return boxed_lines(label.text, font_size, label.bold, w, h, label.font_name, label.halign) >= lines


def boxed_lines(text: str, font_size: float, bold: bool, width: float, height: float,
                font_name: str = "Roboto", halign: str = "left") -> int:
    """How many lines Kivy draws of ``text`` in a ``width`` × ``height`` box."""
    key = ("boxed", text, round(font_size, 1), bold, round(width), round(height), font_name, halign)
    hit = _cache.get(key)
    if hit is None:
        _, lines = _layout(text, font_size, bold, font_name, halign=halign, valign="middle",
                           text_size=(max(1, width), max(1, height)))
        hit = _remember(key, (0, 0, lines))
    return hit[2]


def candidates(nominal: float, floor: float) -> list[int]:
    """The sizes tried, largest first: the nominal (whole pixels), then the
    ladder's steps above the floor; the floor itself is what is left."""
    top, bottom = int(nominal), math.ceil(floor)
    return [top] + [s for s in reversed(LADDER) if bottom < s < top] if top > bottom else []


def likely_fits(label: Label, font_size: float, max_lines: int) -> bool:
    """``fits`` estimated from the text laid out at ``REF_PX`` (no font opened at ``font_size``)."""
    w, h = inner(label)
    if w <= 0:
        return False
    k = font_size / REF_PX
    # The slack on the wrapping width too: a word that just fits must not wrap.
    widest, need_h, lines = measure(label.text, REF_PX, label.bold, w * _SLACK / k, label.font_name)
    if widest * k > w * _SLACK:
        return False
    if max_lines:
        return lines <= max_lines
    return need_h * k <= h * _SLACK


def best_size(label: Label, nominal: float, floor: float, max_lines: int) -> int:
    """The largest font size in [floor, nominal] at which the text fits (floor if none),
    in whole pixels (see the module's note on fonts)."""
    if not label.text.strip() or label.width <= 1:
        return max(int(nominal), 1)
    for size in candidates(nominal, floor):
        if likely_fits(label, size, max_lines) and fits(label, size, max_lines):
            return size
    return math.ceil(floor)


# ----------------------------------------------------------------- the check
def _visible_labels(widget: Any, ancestors: tuple = ()) -> Iterator[tuple[Label, tuple]]:
    if getattr(widget, "opacity", 1) == 0:
        return
    if isinstance(widget, Label):
        if widget.text.strip():
            yield widget, ancestors
        return
    for child in widget.children:
        yield from _visible_labels(child, ancestors + (widget,))


def _rect(w: Any) -> tuple[float, float, float, float]:
    x0, y0 = w.to_window(w.x, w.y)
    return x0, y0, x0 + w.width, y0 + w.height


def _name(label: Label) -> str:
    return f"{type(label).__name__} {label.text[:40]!r}"


def problems(root: Any, window_size: tuple[int, int]) -> list[str]:
    """Every visible label that spills, is clipped, is cut mid-word or is under the floor."""
    out = []
    W, H = window_size
    for label, ancestors in _visible_labels(root):
        name = _name(label)
        if label.font_size < theme.TEXT_FLOOR_PX - 0.01:
            out.append(f"{name}: font {label.font_size:.0f} px under the floor {theme.TEXT_FLOOR_PX}")
        w, h = inner(label)
        widest, need_h, lines = measure(label.text, label.font_size, label.bold, max(1, w), label.font_name)
        if widest > w + 1:
            out.append(f"{name}: a word {widest:.0f} px wide in {w:.0f} px (cut mid-word)")
        if label.shorten and label.texture_size[0] and label._label.get_extents(label.text)[0] > w + 1:
            out.append(f"{name}: shortened with '…'")
        if need_h > h + 1:
            out.append(f"{name}: {need_h:.0f} px of text in a {h:.0f} px box (lines clipped)")
        drawn = getattr(label._label, "_cached_lines", None)
        if drawn is not None and len(drawn) < lines:
            out.append(f"{name}: {len(drawn)} of its {lines} lines drawn (lines clipped)")
        tw, th = label.texture_size
        if tw > label.width + 1 or th > label.height + 1:
            out.append(f"{name}: text {tw:.0f}x{th:.0f} spills out of {label.width:.0f}x{label.height:.0f}")
        x0, y0, x1, y1 = _rect(label)
        if x0 < -1 or y0 < -1 or x1 > W + 1 or y1 > H + 1:
            out.append(f"{name}: outside the window at ({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f})")
            continue
        for a in ancestors:
            if a.width <= 0 or a.height <= 0 or not hasattr(a, "to_window"):
                continue
            ax0, ay0, ax1, ay1 = _rect(a)
            if x0 < ax0 - 1 or y0 < ay0 - 1 or x1 > ax1 + 1 or y1 > ay1 + 1:
                out.append(f"{name}: spills out of its {type(a).__name__} "
                           f"({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f}) vs ({ax0:.0f},{ay0:.0f})-({ax1:.0f},{ay1:.0f})")
                break
    return out
