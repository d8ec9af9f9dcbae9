"""The kiosk's first run: with no site config, the kiosk sets the centre up.

Steps (kiosk/ui/wizard_texts.STEPS): the commune's and the centre's names
(typed in Telex, kiosk/ui/wizard_telex.py), the fields (kiosk/ui/
wizard_fields.toml, names editable), the counters and what each serves,
the hours, the admin PIN twice, the printer with a test ticket, a test call
in the kiosk's voice, a summary.  Then ``wizard_model.save()`` writes the
files and ``on_saved(cfg)`` hands over to the app (kiosk/ui/app.py), which
shows the starting screen until the broker and the core are up.

Layout is in screens/wizard.kv; this module only decides.  Slow work (the
printer, the voice) runs on a worker thread and comes back through Clock.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from kivy.core.window import Window
from kivy.uix.screenmanager import NoTransition

from kiosk import config as site_config
from kiosk.ui import theme
from kiosk.ui.widgets import KButton, ui
from kiosk.ui.wizard_model import CENTRE_PREFIX, LEVELS, AlreadyConfigured, Draft, find_printers, hhmm, minutes, save
from kiosk.ui.wizard_steps import DeviceSteps, button as _button
from kiosk.ui.wizard_telex import telex
from kiosk.ui.wizard_texts import LANG, STEPS, w
from kiosk.ui.wizard_widgets import (WizardRoot, WzCountersScreen, WzFieldsScreen, WzHoursScreen, WzPinScreen,
                                     WzPrinterScreen, WzStartingScreen, WzSummaryScreen, WzTextScreen,
                                     WzVoiceScreen, load_wizard_kv)

log = logging.getLogger("phucvu.kiosk.wizard")
PIN_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")
HOURS = (("am_open", "morning", 0), ("am_close", "morning", 1), ("pm_open", "afternoon", 0),
         ("pm_close", "afternoon", 1))


class Wizard(DeviceSteps):
    """The wizard's state and its screens.  ``root`` is the widget to show."""

    def __init__(self, config_path: str | Path, *, on_saved: Callable[[site_config.SiteConfig], None],
                 printer: str | None = None, voice_dir: str | Path | None = None,
                 local: dict[str, Any] | None = None, guide_make: Callable | None = None):
        load_wizard_kv()
        LANG[0] = "vi"
        self.config_path = Path(config_path)
        self.on_saved = on_saved
        self.draft = Draft()
        if local is not None:
            self.draft.local = local
        self.printers = find_printers(printer)
        self.draft.printer = self.printers[0]
        self.voice_dir = voice_dir
        self.guide_make = guide_make
        self.guide = None
        self.keys = {"commune": "", "centre": ""}
        self.centre_auto = True
        self.target = "commune"
        self.edit_field: dict | None = None
        self.field_page = 0
        self.editing_names = False
        self.counter_sel = 0
        self.pin_first: str | None = None
        self.pin = ""
        self.printed: Any = None        # the last test print's result
        self.spoken: Path | None = None
        self.step = 0
        self.root = WizardRoot()
        self.root.title = w("title")
        self.root.back_text, self.root.next_text = "", w("next")
        self.root.bind(on_back=lambda *_: self.back(), on_next=lambda *_: self.next(),
                       on_lang=lambda *_: self.toggle_lang())
        sm = self.sm = self.root.ids.sm
        sm.transition = NoTransition()
        self.s = {"name": WzTextScreen(name="name"), "edit": WzTextScreen(name="edit"),
                  "fields": WzFieldsScreen(name="fields"), "counters": WzCountersScreen(name="counters"),
                  "hours": WzHoursScreen(name="hours"), "pin": WzPinScreen(name="pin"),
                  "printer": WzPrinterScreen(name="printer"), "voice": WzVoiceScreen(name="voice"),
                  "summary": WzSummaryScreen(name="summary"), "starting": WzStartingScreen(name="starting")}
        for scr in self.s.values():
            sm.add_widget(scr)
        for name in ("name", "edit"):
            self.s[name].ids.kb.bind(on_key=lambda kb, k: self.key(k))
        self.s["counters"].ids.minus.bind(on_release=lambda *_: self.set_counters(-1))
        self.s["counters"].ids.plus.bind(on_release=lambda *_: self.set_counters(+1))
        self.s["hours"].ids.saturday.bind(on_release=lambda *_: self.toggle_saturday())
        self.s["printer"].ids.test.bind(on_release=lambda *_: self.print_test())
        self.s["voice"].ids.test.bind(on_release=lambda *_: self.voice_test())
        self.pin_keys: dict[str, KButton] = {}
        for k in PIN_KEYS:
            b = _button({"clear": w("pin_clear"), "ok": w("pin_ok")}.get(k, k),
                        nominal=48 if k.isdigit() else theme.BODY_PX)
            b.bind(on_release=lambda _b, key=k: self.pin_key(key))
            self.pin_keys[k] = b
            self.s["pin"].ids.keypad.add_widget(b)
        Window.bind(on_textinput=self._usb_text, on_key_down=self._usb_key)
        self.root.bind(size=lambda *_: self._layout())
        self._layout()
        self.show(0)

    def close(self) -> None:
        Window.unbind(on_textinput=self._usb_text, on_key_down=self._usb_key)
        if self.guide is not None:
            self.guide.close()

    @property
    def current(self) -> str:
        return self.sm.current

    def _layout(self) -> None:
        W, H = Window.size if self.root.get_root_window() is None else self.root.size
        ui.scale = theme.window_scale(W, H)
        ui.portrait = W < H
        ui.narrow = W >= H and W < 1100
        if self.current in ("fields", "counters"):
            self.refresh()

    # -- moving between steps ------------------------------------------------------
    def show(self, i: int) -> None:
        self.step = i
        self.root.message = ""
        self.sm.current = STEPS[i]
        self.refresh()

    def back(self) -> None:
        if self.current == "edit":
            self.sm.current = "fields"
            self.refresh()
        elif self.step > 0:
            self.show(self.step - 1)

    def next(self) -> None:
        why = self.check()
        if why:
            self.root.message = why
            return
        if self.current == "edit":
            self.sm.current = "fields"
            self.refresh()
        elif STEPS[self.step] == "summary":
            self.finish()
        else:
            if STEPS[self.step] == "fields":
                chosen = [f["code"] for f in self.draft.chosen()]
                if sorted({c for cs in self.draft.counters for c in cs}) != sorted(chosen):
                    self.draft.set_counters(len(self.draft.counters) or min(4, len(chosen)))
            self.show(self.step + 1)

    def check(self) -> str:
        """Why the current step cannot be left ("" when it can)."""
        name, d = self.current, self.draft
        if name == "name" and not (d.commune.strip() and d.centre.strip()):
            return w("need_names")
        if name == "edit" and not self.edit_field["name_vi"].strip():
            return w("need_text")
        if name == "fields" and not d.chosen():
            return w("need_field")
        if name == "counters" and d.problems():
            return d.problems()[0]
        if name == "hours":
            am, pm = [tuple(map(minutes, x)) for x in (d.morning, d.afternoon)]
            if not (am[0] < am[1] <= pm[0] < pm[1]):
                return w("bad_hours")
            if not d.days:
                return w("need_days")
        if name == "pin" and not d.pin:
            return w("need_pin")
        return ""

    # -- text ----------------------------------------------------------------------
    def toggle_lang(self) -> None:
        LANG[0] = "en" if LANG[0] == "vi" else "vi"
        self.root.message = ""
        self.refresh()

    def refresh(self) -> None:
        name = self.current
        r, d = self.root, self.draft
        r.title = w("title")
        r.lang_text = "English" if LANG[0] == "vi" else "Ti\u1ebfng Vi\u1ec7t"
        for kb_screen in ("name", "edit"):
            self.s[kb_screen].ids.kb.relabel({"back": w("kb_back"), "shift": w("kb_shift"), " ": w("kb_space")})
        r.step_text = w("step", i=self.step + 1, n=len(STEPS))
        r.back_text = w("back") if (self.step > 0 or name == "edit") else ""
        r.next_text = {"summary": w("save"), "edit": w("done"), "starting": ""}.get(name, w("next"))
        if name == "starting":
            r.back_text = ""
        getattr(self, f"_fill_{name}", lambda: None)()

    def _targets(self, scr, items: list[tuple[str, str, str]]) -> None:
        # A key press only changes texts and colours: the buttons stay (a
        # rebuild per key would make typing lag on a small board).
        box = scr.ids.targets
        if [b.key for b in reversed(box.children)] != [k for k, _, _ in items]:
            box.clear_widgets()
            for key, _, _ in items:
                b = _button("", halign="left")
                b.key = key
                b.bind(on_release=lambda _b, k=key: self.choose_target(k))
                box.add_widget(b)
        for b, (key, label, value) in zip(reversed(box.children), items):
            b.text = f"{label}: {value}"
            b.bg = theme.rgba("tile" if key == self.target else "tile_closed")

    def _fill_name(self) -> None:
        self.s["name"].prompt = w("name_prompt")
        self._targets(self.s["name"], [("commune", w("commune"), self.draft.commune),
                                       ("centre", w("centre"), self.draft.centre)])

    def _fill_edit(self) -> None:
        self.s["edit"].prompt = w("name_prompt")
        f = self.edit_field
        self._targets(self.s["edit"], [("field", f"{w('field_name')} {f['prefix']}", f["name_vi"])])

    def choose_target(self, key: str) -> None:
        self.target = key
        self.refresh()

    def key(self, k: str) -> None:
        """A key of the on-screen keyboard (or a USB keyboard's character)."""
        kb = self.s[self.current].ids.kb if self.current in ("name", "edit") else None
        if kb is None:
            return
        if k == "shift":
            kb.shift = not kb.shift
            return
        raw = self.keys.get(self.target, "") if self.target != "field" else self.edit_keys
        if k == "back":
            raw = raw[:-1]
        else:
            first_of_word = not raw or raw[-1] == " "
            if kb.shift or (self.target == "commune" and first_of_word) or not raw:
                k = k.upper()
            kb.shift = False
            raw += k
        self.set_raw(raw)

    def set_raw(self, raw: str) -> None:
        text = telex(raw)
        if self.target == "field":
            self.edit_keys = raw
            self.edit_field["name_vi"] = text
        else:
            self.keys[self.target] = raw
            setattr(self.draft, self.target, text)
            if self.target == "centre":
                self.centre_auto = not raw
            if self.target == "commune" and self.centre_auto:
                words = text.split(" ", 1)
                lower = (words[0].lower() + " ") in LEVELS and len(words) > 1
                self.draft.centre = CENTRE_PREFIX + (words[0].lower() + " " + words[1] if lower else text)
                if not text:
                    self.draft.centre = ""
        self.refresh()

    def _usb_text(self, window, text: str) -> None:
        if self.current in ("name", "edit"):
            raw = self.keys.get(self.target, "") if self.target != "field" else self.edit_keys
            self.set_raw(raw + text)

    def _usb_key(self, window, key, scancode, codepoint, modifiers) -> bool:
        if self.current in ("name", "edit") and key == 8:      # backspace
            raw = self.keys.get(self.target, "") if self.target != "field" else self.edit_keys
            self.set_raw(raw[:-1])
            return True
        return False

    # -- fields and counters -----------------------------------------------------
    def _rows_fit(self, extra: float = 0) -> int:
        s = ui.scale
        H = self.root.height
        body = H - max(56, 96 * s) - max(72, 120 * s) - max(40, 70 * s) - 24 * s - 10 - extra
        return max(2, int(body // (max(64, 100 * s) + 8 * s)))

    def _fill_fields(self) -> None:
        scr = self.s["fields"]
        scr.prompt = w("fields_editing") if self.editing_names else w("fields_prompt")
        grid = scr.ids.grid
        grid.clear_widgets()
        per_page = self._rows_fit() * grid.cols - 2
        pages = max(1, -(-len(self.draft.fields) // per_page))
        self.field_page %= pages
        for f in self.draft.fields[self.field_page * per_page:(self.field_page + 1) * per_page]:
            b = _button(f"{f['prefix']}  {f['name_vi']}", on=f["on"], halign="left")
            b.bind(on_release=lambda _b, fld=f: self.tap_field(fld))
            grid.add_widget(b)
        edit = _button(w("fields_edit"), on=self.editing_names)
        edit.bind(on_release=lambda *_: self.toggle_editing())
        grid.add_widget(edit)
        if pages > 1:
            more = _button(w("fields_more", i=self.field_page + 1, n=pages))
            more.bind(on_release=lambda *_: self.next_page())
            grid.add_widget(more)

    def next_page(self) -> None:
        self.field_page += 1
        self.refresh()

    def toggle_editing(self) -> None:
        self.editing_names = not self.editing_names
        self.refresh()

    def tap_field(self, f: dict) -> None:
        if self.editing_names:
            self.edit_field, self.edit_keys, self.target = f, f["name_vi"], "field"
            self.sm.current = "edit"
        else:
            f["on"] = not f["on"]
        self.refresh()

    def set_counters(self, delta: int) -> None:
        self.draft.set_counters(len(self.draft.counters) + delta)
        self.counter_sel = min(self.counter_sel, len(self.draft.counters) - 1)
        self.refresh()

    def _fill_counters(self) -> None:
        scr, d = self.s["counters"], self.draft
        scr.prompt = w("counters_prompt")
        scr.count_text = str(len(d.counters))
        scr.serves_text = w("serves", n=self.counter_sel + 1)
        prefix = {f["code"]: f["prefix"] for f in d.chosen()}
        scr.ids.counters.clear_widgets()
        for i, serves in enumerate(d.counters):
            label = w("counter", n=i + 1) + ": " + " ".join(prefix[c] for c in serves if c in prefix)
            b = _button(label, on=(i == self.counter_sel))
            b.bind(on_release=lambda _b, n=i: self.select_counter(n))
            scr.ids.counters.add_widget(b)
        scr.ids.fields.clear_widgets()
        for f in d.chosen():
            b = _button(f"{f['prefix']} {f['name_vi']}", on=f["code"] in d.counters[self.counter_sel])
            b.bind(on_release=lambda _b, code=f["code"]: self.toggle_serves(code))
            scr.ids.fields.add_widget(b)

    def select_counter(self, i: int) -> None:
        self.counter_sel = i
        self.refresh()

    def toggle_serves(self, code: str) -> None:
        serves = self.draft.counters[self.counter_sel]
        if code in serves:
            serves.remove(code)
        else:
            serves.append(code)
        self.refresh()

    # -- hours ---------------------------------------------------------------------
    def _fill_hours(self) -> None:
        scr, d = self.s["hours"], self.draft
        scr.prompt = w("hours_prompt")
        scr.saturday = d.saturday
        scr.saturday_text = w("saturday_on" if d.saturday else "saturday_off")
        if not scr.ids.days.children:       # built once; a touch changes texts and colours
            for day in site_config.WEEKDAYS:
                b = _button("", size_hint_min_x=0)
                b.bind(on_release=lambda _b, dd=day: self.toggle_day(dd))
                scr.ids.days.add_widget(b)
            for key, part, end in HOURS:
                scr.ids.rows.add_widget(KButton(bg=theme.rgba("bg"), color=theme.rgba("ink"), bold=False,
                                                size_hint_x=2.2, size_hint_min_y=0, halign="left"))
                for delta in (-30, None, 30):
                    b = _button("\u2212" if delta == -30 else "+", size_hint_x=1 if delta is None else 0.7)
                    if delta is None:
                        b.bg, b.color = theme.rgba("bg"), theme.rgba("ink")
                    else:
                        b.bind(on_release=lambda _b, p=part, e=end, dl=delta: self.shift_hour(p, e, dl))
                    scr.ids.rows.add_widget(b)
        for day, b in zip(site_config.WEEKDAYS, reversed(scr.ids.days.children)):
            b.text = w(f"day_{day}")
            b.bg = theme.rgba("tile" if day in d.days else "tile_closed")
        cells = list(reversed(scr.ids.rows.children))
        for i, (key, part, end) in enumerate(HOURS):
            cells[4 * i].text = w(key)
            cells[4 * i + 2].text = getattr(d, part)[end]

    def toggle_day(self, day: str) -> None:
        days = self.draft.days
        days.remove(day) if day in days else days.append(day)
        self.refresh()

    def shift_hour(self, part: str, end: int, delta: int) -> None:
        times = list(getattr(self.draft, part))
        # 24:00 only as a closing time, as the config allows.
        times[end] = hhmm(max(0, min(24 * 60 if end else 24 * 60 - 30, minutes(times[end]) + delta)))
        setattr(self.draft, part, tuple(times))
        self.refresh()

    def toggle_saturday(self) -> None:
        self.draft.saturday = not self.draft.saturday
        self.refresh()

    # -- PIN -------------------------------------------------------------------------
    def _fill_pin(self) -> None:
        scr = self.s["pin"]
        if self.draft.pin:
            scr.prompt = w("pin_set")
        else:
            scr.prompt = w("pin_again") if self.pin_first is not None else w("pin_first")
        scr.dots = "•" * len(self.pin)
        self.pin_keys["clear"].text, self.pin_keys["ok"].text = w("pin_clear"), w("pin_ok")
        scr.note = w("pin_note")

    def pin_key(self, k: str) -> None:
        if k == "clear":
            self.pin = ""
        elif k == "ok":
            if not 4 <= len(self.pin) <= 12:
                self.root.message = w("pin_short")
            elif self.pin_first is None:
                self.pin_first, self.draft.pin, self.root.message = self.pin, "", ""
            elif self.pin_first != self.pin:
                log.info("wizard: the admin PIN's second entry differed; asked again")
                self.pin_first, self.root.message = None, w("pin_mismatch")
            else:
                self.draft.pin, self.pin_first, self.root.message = self.pin, None, ""
            self.pin = ""
        elif len(self.pin) < 12:
            self.pin += k
            self.draft.pin = "" if self.pin_first is None else self.draft.pin
        self.refresh()

    # -- the end -------------------------------------------------------------------
    def finish(self) -> None:
        try:
            paths = save(self.draft, self.config_path)
            cfg = site_config.load(paths["config"])
        except (site_config.ConfigError, AlreadyConfigured, OSError, ValueError) as e:
            log.error("wizard: the site config was not written: %s", e)
            self.root.message = w("save_failed", why=str(e).splitlines()[-1])
            return
        log.warning("wizard: site config written to %s (site %s); first admin and PIN hash beside it",
                    paths["config"], cfg.site.id)
        self.sm.current = "starting"
        self.root.message = ""
        self.refresh()
        st = self.s["starting"]
        st.title, st.detail = w("starting"), w("wait_password")
        st.ids.spinner.start()
        self.on_saved(cfg)

    def waiting_for(self, what: str) -> None:
        self.s["starting"].detail = w(what)
