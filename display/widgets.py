"""The Kivy widget classes that the rules in kv/display.kv lay out.

Each class only declares the properties its kv rule binds to (FitLabel also
fits its font); what they show is decided by the app (wall.py).

Import this module only through ``display.app.build_app``: Kivy reads the
clock and window settings when kivy.clock and kivy.core.window are first
imported, so ``configure_window`` must run before the imports below.  The
check under them turns a wrong order into an error instead of a display
with a sleeping clock and the wrong window size.
"""
from __future__ import annotations

import math
from typing import Any

from kivy.config import Config

if Config.get("kivy", "kivy_clock") != "interrupt":
    raise ImportError("display.widgets imported before display.app.configure_window ran")

from kivy.core.text import Label as CoreLabel  # noqa: E402
from kivy.properties import BooleanProperty, NumericProperty, StringProperty  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.widget import Widget  # noqa: E402


# The wall's font sizes, each 15 % over the one below it, from the floor up.
RUNG = 1.15


def rung(size: float, floor: float) -> float:
    """The largest size on the ladder from ``floor`` that is not over ``size``
    (``floor`` itself for anything under it): few sizes, few open fonts."""
    if size <= floor * RUNG:
        return floor
    return floor * RUNG ** int(math.log(size / floor, RUNG) + 1e-9)


def _sharp(_label: Any, texture: Any) -> None:
    if texture is not None:
        texture.min_filter = texture.mag_filter = "nearest"


class SharpLabel(Label):
    """A label whose texture is sampled nearest, not linear.

    Every label is drawn at whole pixels and at its texture's own size, so
    both filters give the same pixels; on a software renderer the linear
    one costs four reads and a blend per pixel: a 1920x1080 frame of the
    wall took 13.7 ms against 9.8 ms (p50, docs/performance.md).
    """

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.fbind("texture", _sharp)
        _sharp(self, self.texture)


class FitLabel(SharpLabel):
    """One line at ``max_font``, shrunk to fit its width, never under ``min_font``.

    Shrinking instead of Kivy's ``shorten``: a field name cut to
    "Văn hóa – X…" tells the citizen nothing.  The layout gives the
    longest names room at the floor; the fit test checks that.
    """
    max_font = NumericProperty(20)
    min_font = NumericProperty(10)

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        refit = self._refit
        for prop in ("text", "width", "max_font", "min_font", "font_name", "bold", "padding"):
            self.fbind(prop, refit)
        refit()

    def _refit(self, *_: Any) -> None:
        # Sizes on a ladder, and measured at as few sizes as can be: Kivy's
        # SDL2 text provider keeps every (font, size, bold) it ever measured
        # or drew open as a FreeType face with its glyph cache (a few hundred
        # KB at wall sizes), up to 64 of them.  Each label fitted to its own
        # fractional size on every layout pass kept ~60 faces open (+9 MB
        # RSS over the display before fitting, docs/performance.md); on the
        # ladder every label shares a dozen sizes.
        floor = self.min_font
        size = rung(self.max_font, floor)
        avail = self.width - 2 * self.padding_x
        if self.text and avail > 0 and size > floor:
            # Width scales with the size: one measure at the floor (a size
            # drawn anyway) gives the rung; hinting rounds, so check it.
            size = min(size, rung(floor * avail / max(1, self._width_at(floor)), floor))
            while size > floor and self._width_at(size) > avail:
                size = rung(size / RUNG, floor)
        self.font_size = size

    def _width_at(self, size: float) -> int:
        return text_width(self.text, size, self.bold, self.font_name)


def text_width(text: str, size: float, bold: bool = False, font_name: str = "Roboto") -> int:
    """How wide Kivy draws ``text`` at ``size`` (one line)."""
    return CoreLabel(text=text, font_size=size, font_name=font_name, bold=bold).get_extents(text)[0]


class CounterRow(BoxLayout):
    name = StringProperty("")
    current = StringProperty("")
    field_name = StringProperty("")
    official = StringProperty("")
    status_text = StringProperty("")
    highlight = BooleanProperty(False)
    blink_on = BooleanProperty(False)
    index = NumericProperty(0)
    row_h = NumericProperty(100)

class CallRow(BoxLayout):
    label = StringProperty("")
    counter_name = StringProperty("")
    recall = BooleanProperty(False)
    index = NumericProperty(0)
    row_h = NumericProperty(50)

class FieldRow(BoxLayout):
    name = StringProperty("")
    count_text = StringProperty("")
    next_text = StringProperty("")
    wait_text = StringProperty("")
    index = NumericProperty(0)
    row_h = NumericProperty(50)
    lines = NumericProperty(2)          # 3: the wait on a line of its own
    wait_share = NumericProperty(0.34)  # the wait's part of the second line

class DisplayRoot(Widget):
    u = NumericProperty(10.8)
    # Taller than wide: kv/display.kv stacks the parts (set on resize).
    portrait = BooleanProperty(False)
    # Portrait: the counters' part of the height the counters and the
    # waiting fields share (pages.portrait_share).
    counters_share = NumericProperty(0.655)
    commune = StringProperty("")
    commune_upper = StringProperty("")
    centre = StringProperty("")
    clock_text = StringProperty("")
    date_text = StringProperty("")
    stale = BooleanProperty(False)
    notice = StringProperty("")
    ticker_offset = NumericProperty(0)
    highlight_label = StringProperty("")
    highlight_counter = StringProperty("")
    last_label = StringProperty("")
    last_counter = StringProperty("")
    has_calls = BooleanProperty(False)
    blink_on = BooleanProperty(True)
    day_closed = BooleanProperty(False)
    counter_row_h = NumericProperty(100)
    counters_h = NumericProperty(0)
    counters_page = StringProperty("")
    waiting_page = StringProperty("")
    calls_h = NumericProperty(0)
    waiting_h = NumericProperty(0)
    calls_visible = BooleanProperty(True)
    board_visible = BooleanProperty(False)
    board_served = StringProperty("—")
    board_satisfied = StringProperty("—")
    board_on_time = StringProperty("—")
    board_on_time_what = StringProperty("")


def ensure_rows(box: Any, cls: type, n: int) -> list[Any]:
    # Rows are kept and updated in place; only a change in count adds or
    # removes widgets, so a call costs a few property sets, not a rebuild.
    rows = list(reversed(box.children))
    while len(rows) < n:
        w = cls()
        box.add_widget(w, index=0)
        rows.append(w)
    while len(rows) > n:
        box.remove_widget(rows.pop())
    return rows


def keep_rows(box: Any, cls: type, keys: list[Any]) -> list[Any]:
    """Rows for ``keys``, top to bottom, each the widget that showed the same
    key before when there is one (the recent calls).

    A new call moves every recent call down a row: written into fixed rows,
    each row's texts changed and a call re-rendered 13-14 label textures
    (docs/performance.md); moved as widgets, a row keeps its textures, and
    only the new call's row and the colours of the top two are drawn again.
    """
    old = list(reversed(box.children))
    pool: dict[Any, list[Any]] = {}
    for w in old:
        pool.setdefault(getattr(w, "row_key", None), []).append(w)
    found = [pool[k].pop(0) if pool.get(k) else None for k in keys]
    spare = [w for ws in pool.values() for w in ws]
    rows = [w if w is not None else (spare.pop(0) if spare else cls()) for w in found]
    for w, k in zip(rows, keys):
        w.row_key = k
    if rows != old:
        box.clear_widgets()
        for w in rows:
            box.add_widget(w, index=0)
    return rows
