"""The wizard's Kivy classes: what screens/wizard.kv lays out, and the
on-screen Telex keyboard.  Behaviour is in wizard.py."""
from __future__ import annotations

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from kiosk.ui import theme
from kiosk.ui.widgets import KButton, load_kv

KV = "wizard.kv"
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


class WizardRoot(BoxLayout):
    title = StringProperty("")
    lang_text = StringProperty("")
    step_text = StringProperty("")
    back_text = StringProperty("")
    next_text = StringProperty("")
    message = StringProperty("")

    def __init__(self, **kw):
        self.register_event_type("on_back")
        self.register_event_type("on_next")
        self.register_event_type("on_lang")
        super().__init__(**kw)

    def on_back(self, *_):
        pass

    def on_lang(self, *_):
        pass

    def on_next(self, *_):
        pass


class TelexKeyboard(BoxLayout):
    """Letters, shift, space, a dash and backspace; ``on_key(key)`` with
    key a letter, " ", "–", "shift" or "back"."""

    shift = BooleanProperty(False)

    def __init__(self, **kw):
        self.register_event_type("on_key")
        super().__init__(orientation="vertical", spacing=4, **kw)
        self.keys: dict[str, KButton] = {}
        for row in ROWS:
            line = BoxLayout(spacing=4)
            for k in row:
                line.add_widget(self._key(k, k))
            if row == ROWS[-1]:
                line.add_widget(self._key("back", "", 2))
            self.add_widget(line)
        line = BoxLayout(spacing=4)
        line.add_widget(self._key("shift", "", 2))
        line.add_widget(self._key(" ", "", 5))
        line.add_widget(self._key("–", "–", 1))
        self.add_widget(line)
        self.bind(shift=lambda *_: self._relabel())

    def _key(self, key: str, label: str, weight: float = 1) -> KButton:
        b = KButton(text=label, size_hint_x=weight, nominal=theme.BODY_PX, floor=theme.TEXT_FLOOR_PX,
                    bg=theme.rgba("button"), size_hint_min_x=0, size_hint_min_y=0)
        b.bind(on_release=lambda *_: self.dispatch("on_key", key))
        self.keys[key] = b
        return b

    def relabel(self, words: dict[str, str]) -> None:
        """The named keys' labels (back, shift, space) in the wizard's language."""
        for k, text in words.items():
            self.keys[k].text = text

    def _relabel(self) -> None:
        for k, b in self.keys.items():
            if len(k) == 1 and k.isalpha():
                b.text = k.upper() if self.shift else k
        self.keys["shift"].bg = theme.rgba("tile") if self.shift else theme.rgba("button")

    def on_key(self, *_):
        pass


class _WzScreen(Screen):
    prompt = StringProperty("")


class WzTextScreen(_WzScreen):
    pass


class WzFieldsScreen(_WzScreen):
    pass


class WzCountersScreen(_WzScreen):
    count_text = StringProperty("")
    serves_text = StringProperty("")


class WzHoursScreen(_WzScreen):
    saturday = BooleanProperty(False)
    saturday_text = StringProperty("")


class WzPinScreen(_WzScreen):
    dots = StringProperty("")
    note = StringProperty("")


class WzPrinterScreen(_WzScreen):
    test_text = StringProperty("")
    result = StringProperty("")


class WzVoiceScreen(_WzScreen):
    sentence = StringProperty("")
    test_text = StringProperty("")
    result = StringProperty("")


class WzSummaryScreen(_WzScreen):
    pass


class WzStartingScreen(Screen):
    title = StringProperty("")
    detail = StringProperty("")


_loaded = False


def load_wizard_kv() -> None:
    global _loaded
    load_kv()
    if not _loaded:
        from kiosk.ui.widgets import SCREENS_DIR
        Builder.load_file(str(SCREENS_DIR / KV))
        _loaded = True
