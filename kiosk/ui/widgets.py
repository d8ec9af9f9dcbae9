"""The Kivy widget and screen classes that the rules in screens/*.kv lay out.

Each class here only declares the properties its kv rule binds to, and the
events its buttons raise; what happens on an event is decided by the root
(root.py) and its collaborators.  ``load_kv()`` loads the rules once, after
these classes exist, so the kv files can name them.
"""
from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.ui import icons  # noqa: F401  (registers FieldIcon for the kv rules)
from kiosk.ui import fit, theme

SCREENS_DIR = Path(__file__).with_name("screens")
KV_FILES = ("widgets.kv", "home.kv", "priority.kv", "printing.kv", "problem.kv",
            "closed.kv", "busy.kv", "admin.kv")


class UI(EventDispatcher):
    """The window's scale (theme.window_scale), set by the root when the window
    changes; kv rules bind to ``ui.scale`` so fixed sizes follow it."""

    scale = NumericProperty(1.0)
    narrow = BooleanProperty(False)     # landscape under 1100 px wide
    portrait = BooleanProperty(False)


ui = UI()


# ----------------------------------------------------------------- widgets
class FitLabel(Label):
    """A label whose font shrinks from ``nominal`` towards ``floor`` until its
    text fits (kiosk/ui/fit.py): in its box (``max_lines`` 0, the layout sizes
    the label) or in ``max_lines`` lines of its width."""

    nominal = NumericProperty(theme.BODY_PX)
    floor = NumericProperty(theme.TEXT_FLOOR_PX)
    max_lines = NumericProperty(0)
    # 0, or a size not to exceed: the size a group of labels shares (set by
    # whoever owns the group, e.g. the field names of the home screen).
    cap = NumericProperty(0)

    def __init__(self, **kw):
        self._fit_trigger = Clock.create_trigger(self._fit, -1)
        super().__init__(**kw)
        self.bind(text=self._fit_trigger, size=self._fit_trigger, nominal=self._fit_trigger,
                  floor=self._fit_trigger, max_lines=self._fit_trigger, bold=self._fit_trigger,
                  text_size=self._fit_trigger, cap=self._fit_trigger)
        self._fit_trigger()

    def own_size(self) -> int:
        """The size this label's text would fit at on its own, ignoring ``cap``."""
        return fit.best_size(self, self.nominal, self.floor, int(self.max_lines))

    def _fit(self, *_):
        nominal = min(self.nominal, self.cap) if self.cap else self.nominal
        size = fit.best_size(self, nominal, self.floor, int(self.max_lines))
        if size != self.font_size:
            self.font_size = size

    def texture_update(self, *largs):
        # Fit before drawing, so that new text is drawn once at its fitted size
        # rather than first at the old size and again when the fit changes it.
        self._fit()
        super().texture_update(*largs)
        self._trigger_texture.cancel()      # the draw the fit asked for is done


class KButton(ButtonBehavior, FitLabel):
    bg = ListProperty(theme.rgba("button"))


class FieldTile(ButtonBehavior, BoxLayout):
    code = StringProperty("")
    icon = StringProperty("document")
    name = StringProperty("")
    info = StringProperty("")
    bg = ListProperty(theme.rgba("tile"))
    tile_state = StringProperty("open")


class Header(BoxLayout):
    commune = StringProperty("")
    centre = StringProperty("")
    clock = StringProperty("")
    date = StringProperty("")
    lang_label = StringProperty("")
    listen_label = StringProperty("")

    def __init__(self, **kw):
        self.register_event_type("on_lang")
        self.register_event_type("on_listen")
        super().__init__(**kw)

    def on_lang(self, *_):
        pass

    def on_listen(self, *_):
        pass


class PrinterAnim(Widget):
    """A ticket sliding out of a printer slot, looping while the core works."""

    progress = NumericProperty(0.0)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, progress=self._draw)
        self._anim: Animation | None = None

    def start(self):
        self.stop()
        self.progress = 0
        self._anim = Animation(progress=1.0, duration=0.9) + Animation(progress=1.0, duration=0.2)
        self._anim.repeat = True
        self._anim.start(self)

    def stop(self):
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None

    def _draw(self, *_):
        self.canvas.clear()
        if self.height <= 0:
            return
        w = min(420, self.width * 0.6)
        x = self.center_x - w / 2
        top = self.top
        with self.canvas:
            Color(*theme.rgba("header"))
            RoundedRectangle(pos=(x, top - 110), size=(w, 110), radius=[16])
            Color(*theme.rgba("ink"))
            Rectangle(pos=(x + 40, top - 80), size=(w - 80, 14))
            paper_h = 20 + self.progress * (self.height - 140)
            Color(1, 1, 1, 1)
            Rectangle(pos=(x + 60, top - 80 - paper_h), size=(w - 120, paper_h))
            Color(*theme.rgba("muted"))
            Line(rectangle=(x + 60, top - 80 - paper_h, w - 120, paper_h), width=2)
            for i in range(int(paper_h // 36)):
                y = top - 80 - 30 - i * 36
                Line(points=[x + 90, y, x + w - 90 - (i % 2) * 60, y], width=4)


class BusySpinner(Widget):
    """A slowly turning arc: the kiosk is alive and working on it."""

    angle = NumericProperty(0.0)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, angle=self._draw)
        self._anim: Animation | None = None

    def start(self):
        if self._anim is None:
            self._anim = Animation(angle=360, duration=1.6)
            self._anim.bind(on_complete=lambda *_: setattr(self, "angle", 0))
            self._anim.repeat = True
            self._anim.start(self)

    def stop(self):
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None

    def _draw(self, *_):
        self.canvas.clear()
        r = min(self.width, self.height) / 2 - 12
        if r <= 0:
            return
        with self.canvas:
            Color(*theme.rgba("key"))
            Line(circle=(self.center_x, self.center_y, r), width=10)
            Color(*theme.rgba("busy"))
            Line(circle=(self.center_x, self.center_y, r, self.angle, self.angle + 100), width=10, cap="round")


# ----------------------------------------------------------------- screens
class _Screen(Screen):
    def __init__(self, **kw):
        for ev in getattr(self, "EVENTS", ()):
            self.register_event_type(ev)
        super().__init__(**kw)


class HomeScreen(_Screen):
    EVENTS = ("on_back",)
    title = StringProperty("")
    back_text = StringProperty("")
    priority_mode = BooleanProperty(False)

    def on_back(self, *_):
        pass


class PriorityScreen(_Screen):
    EVENTS = ("on_back",)
    title = StringProperty("")
    back_text = StringProperty("")

    def on_back(self, *_):
        pass


class PrintingScreen(_Screen):
    phase = StringProperty("printing")      # printing | done
    printing_text = StringProperty("")
    your_number_text = StringProperty("")
    number = StringProperty("")
    take_text = StringProperty("")
    details = StringProperty("")


class ProblemScreen(_Screen):
    EVENTS = ("on_home",)
    title = StringProperty("")
    reason = StringProperty("")
    your_number_text = StringProperty("")
    number = StringProperty("")
    todo = StringProperty("")
    staff = StringProperty("")
    home_text = StringProperty("")

    def on_home(self, *_):
        pass


class ClosedScreen(_Screen):
    EVENTS = ("on_home",)
    title = StringProperty("")
    reason = StringProperty("")
    next_text = StringProperty("")
    home_text = StringProperty("")

    def on_home(self, *_):
        pass


class BusyScreen(_Screen):
    title = StringProperty("")
    sub = StringProperty("")


class AdminScreen(_Screen):
    EVENTS = ("on_cancel",)
    title = StringProperty("")
    dots = StringProperty("")
    message = StringProperty("")
    cancel_text = StringProperty("")
    landscape = BooleanProperty(True)

    def on_cancel(self, *_):
        pass


_kv_loaded = False


def load_kv() -> None:
    global _kv_loaded
    if not _kv_loaded:
        for name in KV_FILES:
            Builder.load_file(str(SCREENS_DIR / name))
        _kv_loaded = True

