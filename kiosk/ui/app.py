"""The kiosk touch UI: layout in screens/*.kv, behaviour here, one UI thread.

The kiosk never prints and never touches the database: a touch becomes a
``ticket/request/<login>`` on the bus (see ``flow.TicketFlow``), and the core's reply
says which number was issued and whether it reached paper.  Messages arrive
on paho's thread and are queued for the UI thread by a Clock trigger; no
widget is touched from anywhere else.

Entry point (wired into ``phucvu kiosk`` by the CLI):
``main(config_path, *, mqtt_user, password_file, fullscreen, client_id="kiosk-1")``.
"""
from __future__ import annotations

import collections
import logging
import os
import signal
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

# Kivy reads the process arguments and writes ~/.kivy unless told otherwise;
# the kiosk takes its arguments from the phucvu CLI.
os.environ.setdefault("KIVY_NO_ARGS", "1")

from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty,  # noqa: E402
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.screenmanager import NoTransition, Screen  # noqa: E402
from kivy.uix.widget import Widget  # noqa: E402
from kivy.animation import Animation  # noqa: E402
from kivy.graphics import Color, Line, Rectangle, RoundedRectangle  # noqa: E402

from kiosk import config as site_config  # noqa: E402
from kiosk import contract  # noqa: E402
from kiosk.lockout import Lockout  # noqa: E402
from kiosk.ui import flow, i18n, theme  # noqa: E402
from kiosk.ui.i18n import t  # noqa: E402
from kiosk.ui import icons  # noqa: E402,F401  (registers FieldIcon for the kv rules)

log = logging.getLogger("phucvu.kiosk")

SCREENS_DIR = Path(__file__).with_name("screens")
KV_FILES = ("widgets.kv", "home.kv", "priority.kv", "printing.kv", "problem.kv",
            "closed.kv", "busy.kv", "admin.kv")
PIN_ENV = "PHUCVU_KIOSK_PIN_HASH"
PIN_FILE_ENV = "PHUCVU_KIOSK_PIN_HASH_FILE"


class Timings:
    """How long each thing lasts, in seconds (tests shorten nothing: they move the clock)."""

    busy_after_s = 2.5      # no reply by then: the busy screen
    retry_every_s = 3.0     # re-send the same request_id this often while busy
    give_up_s = 120.0       # then ask the citizen to see staff
    debounce_s = 1.0        # a second touch this soon is the same touch
    min_anim_s = 1.0        # the printing animation shows at least this long
    result_s = 10.0         # the printed number stays this long
    problem_s = 30.0        # the number without paper stays longer, to be remembered
    closed_s = 15.0
    idle_s = 30.0           # priority choice, admin pad: back home after no touch
    lock_s = 60.0           # after 5 wrong PINs


# ----------------------------------------------------------------- widgets
class KButton(ButtonBehavior, Label):
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

    def __init__(self, **kw):
        self.register_event_type("on_lang")
        super().__init__(**kw)

    def on_lang(self, *_):
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


# ----------------------------------------------------------------- the root
class KioskRoot(BoxLayout):
    """All kiosk behaviour.  ``send(request)`` publishes; ``deliver()`` is thread-safe."""

    lang = StringProperty("vi")

    def __init__(self, cfg: site_config.SiteConfig, *, send: Callable[[dict], None],
                 client_id: str = "kiosk-1", pin_hash: str | None = None,
                 on_exit: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 timings: type[Timings] | Timings = Timings, **kw):
        load_kv()
        super().__init__(**kw)
        self.cfg = cfg
        self.send = send
        self.clock = clock
        self.wall = wall
        self.tm = timings
        self.pin_hash = pin_hash
        self.on_exit = on_exit or (lambda: None)
        self.flow = flow.TicketFlow(client_id, busy_after_s=timings.busy_after_s,
                                    retry_every_s=timings.retry_every_s,
                                    give_up_s=timings.give_up_s, debounce_s=timings.debounce_s)
        self.corner = flow.CornerTaps()
        self.summary: dict[str, Any] | None = None
        self.printer: dict[str, Any] | None = None
        self.link_up = False
        self.priority: str | None = None
        self.leave_at: float | None = None       # result screens: when to go home
        self.last_touch = clock()
        self.outcome: flow.Outcome | None = None  # waiting for the animation to finish
        self.sent_at = 0.0
        self.pin = ""
        self.pin_lock = Lockout(5, self.tm.lock_s, clock=clock)
        self.late_replies: list[dict] = []
        self._inbox: collections.deque = collections.deque()
        self._inbox_trigger = Clock.create_trigger(self._drain_inbox, 0)
        self._ui_thread = threading.get_ident()

        sm = self.ids.sm
        sm.transition = NoTransition()
        self.screens = {
            "home": HomeScreen(), "priority": PriorityScreen(), "printing": PrintingScreen(),
            "problem": ProblemScreen(), "closed": ClosedScreen(), "busy": BusyScreen(),
            "admin": AdminScreen(),
        }
        for s in self.screens.values():
            sm.add_widget(s)
        self.screens["home"].bind(on_back=lambda *_: self.go_home(keep_lang=True))
        self.screens["priority"].bind(on_back=lambda *_: self.go_home(keep_lang=True))
        self.screens["problem"].bind(on_home=lambda *_: self.go_home())
        self.screens["closed"].bind(on_home=lambda *_: self.go_home())
        self.screens["admin"].bind(on_cancel=lambda *_: self.go_home())
        self.ids.header.bind(on_lang=lambda *_: self.toggle_lang())

        self.tiles: dict[str, FieldTile] = {}
        for f in cfg.fields:
            tile = FieldTile(code=f.code, icon=f.code)
            tile.bind(on_release=self._on_tile)
            self.tiles[f.code] = tile
        self.priority_tile = FieldTile(code="", icon="priority", bg=theme.rgba("priority"))
        self.priority_tile.bind(on_release=lambda *_: self.show_priority())
        self.class_buttons: dict[str, KButton] = {}
        for pc in cfg.priority.classes:
            b = KButton(bg=theme.rgba("priority"), font_size=theme.TILE_NAME_PX - 4)
            b.bind(on_release=lambda btn, code=pc.code: self.choose_priority(code))
            self.class_buttons[pc.code] = b
            self.screens["priority"].ids.classes.add_widget(b)
        keys = self.screens["admin"].ids.keypad
        self.pin_keys: dict[str, KButton] = {}
        for k in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok"]:
            b = KButton(font_size=56 if k.isdigit() else theme.BODY_PX + 4,
                        bg=theme.rgba("tile") if k == "ok" else theme.rgba("button"))
            b.bind(on_release=lambda btn, key=k: self.pin_key(key))
            self.pin_keys[k] = b
            keys.add_widget(b)

        self.bind(size=lambda *_: self._layout())
        self._layout()
        self.refresh()
        sm.current = "home"
        self._ticker = Clock.schedule_interval(lambda dt: self.tick(), 0.25)

    # -- thread hop ------------------------------------------------------------
    def deliver(self, kind: str, payload: dict[str, Any]) -> None:
        """Called from any thread; the message is handled on the UI thread."""
        self._inbox.append((kind, payload))
        self._inbox_trigger()

    def set_link(self, up: bool) -> None:
        self.deliver("link", {"up": up})

    def _drain_inbox(self, *_):
        while self._inbox:
            kind, payload = self._inbox.popleft()
            self.handle(kind, payload)

    def handle(self, kind: str, payload: dict[str, Any]) -> None:
        assert threading.get_ident() == self._ui_thread, "widgets touched off the UI thread"
        if kind == "summary":
            self.summary = payload
            self.refresh_tiles()
        elif kind == "printer":
            self.printer = payload
        elif kind == "link":
            self.link_up = bool(payload.get("up"))
        elif kind == "reply":
            self.on_reply(payload)

    # -- screens -----------------------------------------------------------------
    @property
    def current(self) -> str:
        return self.ids.sm.current

    def show(self, name: str) -> None:
        self.ids.sm.current = name
        busy_spinner = self.screens["busy"].ids.spinner
        if name == "busy":
            busy_spinner.start()
        else:
            busy_spinner.stop()
        if name != "printing" or self.screens["printing"].phase != "printing":
            self.screens["printing"].ids.anim.stop()

    def go_home(self, keep_lang: bool = False) -> None:
        self.priority = None
        self.leave_at = None
        self.outcome = None
        self.pin = ""
        if not keep_lang:
            self.lang = "vi"
        self.refresh()
        self.show("home")

    def show_priority(self) -> None:
        self.last_touch = self.clock()
        self.show("priority")

    def choose_priority(self, code: str) -> None:
        self.priority = code
        self.last_touch = self.clock()
        self.refresh()
        self.show("home")

    def toggle_lang(self) -> None:
        self.lang = i18n.other(self.lang)
        self.refresh()

    # -- touches -------------------------------------------------------------------
    def on_touch_down(self, touch):
        now = self.clock()
        self.last_touch = now
        in_corner = touch.x < theme.HEADER_PX and touch.y > self.top - theme.HEADER_PX
        if self.corner.touch(in_corner, now):
            self.open_admin()
            return True
        return super().on_touch_down(touch)

    def _on_tile(self, tile: FieldTile) -> None:
        self.request_ticket(tile.code)

    def request_ticket(self, field_code: str) -> None:
        now = self.clock()
        request = self.flow.tap(field_code, self.priority, self.lang, now)
        if request is None:
            log.info("touch on %s ignored: a request is already outstanding or it came too soon",
                     field_code)
            return
        self.sent_at = now
        self.send(request)
        p = self.screens["printing"]
        p.phase = "printing"
        self.refresh()
        self.show("printing")
        p.ids.anim.start()

    def on_reply(self, payload: dict[str, Any]) -> None:
        outcome = self.flow.reply(payload)
        if outcome is None:
            # A reply after give-up, or a duplicate of one already shown: the
            # ticket is in the core's database, so it is only logged here.
            ticket = payload.get("ticket") or {}
            log.warning("reply for request %s not awaited (ticket %s); not shown",
                        payload.get("request_id"), ticket.get("label"))
            self.late_replies = [*self.late_replies[-49:], payload]
            return
        if outcome.kind == "pending":
            log.info("ticket %s issued, still printing", outcome.ticket.get("label"))
            if self.current == "busy":
                self.screens["printing"].phase = "printing"
                self.show("printing")
                self.screens["printing"].ids.anim.start()
            return
        if outcome.reason == "bad_reply":
            log.error("core reply for %s is malformed: %s", payload.get("request_id"), outcome.message)
        elif outcome.kind in ("closed", "refused"):
            log.info("request %s refused by the core: %s (%s)", payload.get("request_id"),
                     outcome.reason, outcome.message)
        elif outcome.kind == "problem":
            log.warning("ticket %s issued but not printed (%s): shown on screen",
                        outcome.ticket.get("label"), outcome.reason)
        self.outcome = outcome
        self._maybe_show_outcome()

    def _maybe_show_outcome(self) -> None:
        o = self.outcome
        if o is None:
            return
        now = self.clock()
        # Only a printed ticket waits for the animation: bad news is shown at once.
        if o.kind == "printed" and self.current == "printing" and now - self.sent_at < self.tm.min_anim_s:
            return
        self.outcome = None
        self.show_outcome(o, now)

    def show_outcome(self, o: flow.Outcome, now: float) -> None:
        self._last_outcome = o
        self.refresh()
        if o.kind == "printed":
            self.screens["printing"].phase = "done"
            self.leave_at = now + self.tm.result_s
            self.show("printing")
        elif o.kind == "problem":
            self.leave_at = now + self.tm.problem_s
            self.show("problem")
        else:
            self.leave_at = now + self.tm.closed_s
            self.show("closed")

    # -- time ------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock()
        self._update_clock()
        for action, arg in self.flow.tick(now):
            if action == "busy":
                self.refresh()
                self.show("busy")
            elif action == "resend":
                log.info("core has not answered request %s; re-sending it (attempt %d)",
                         arg["request_id"], self.flow.pending.attempts if self.flow.pending else 0)
                self.send(arg)
            elif action == "give_up":
                pending = arg
                if pending.ticket is not None:
                    # Issued but never confirmed on paper: the number is known,
                    # so show it as a printer problem rather than lose it.
                    log.error("ticket %s: no print result in %.0f s; shown as not printed",
                              pending.ticket.get("label"), self.tm.give_up_s)
                    self._last_outcome = flow.Outcome("problem", ticket=pending.ticket, reason="unknown")
                    self.refresh()
                    self.leave_at = now + self.tm.problem_s
                    self.show("problem")
                    continue
                log.error("core did not answer request %s in %.0f s; citizen sent to staff",
                          pending.request_id, self.tm.give_up_s)
                self._last_outcome = flow.Outcome("refused", reason="gave_up")
                self.refresh()
                self.leave_at = now + self.tm.closed_s
                self.show("closed")
        self._maybe_show_outcome()
        if self.leave_at is not None and now >= self.leave_at:
            self.go_home()
        elif self.current in ("priority", "admin") or (self.current == "home" and self.priority):
            if now - self.last_touch >= self.tm.idle_s:
                self.go_home()

    def _update_clock(self) -> None:
        local = self.cfg.local_time(self.wall())
        h = self.ids.header
        h.clock = local.strftime("%H:%M")
        h.date = i18n.date_text(local.date(), self.lang)

    # -- text -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Set every visible text for the current language and state."""
        lang = self.lang
        h = self.ids.header
        h.commune = self.cfg.site.commune
        h.centre = self.cfg.site.centre
        h.lang_label = t("lang_other", lang)
        self._update_clock()

        home = self.screens["home"]
        home.priority_mode = self.priority is not None
        home.back_text = t("back", lang)
        if self.priority:
            pc = self.cfg.priority_class(self.priority)
            home.title = t("priority_banner", lang, name=pc.name_vi if lang == "vi" else pc.name_en)
        else:
            home.title = t("home_title", lang)
        self.refresh_tiles()

        pr = self.screens["priority"]
        pr.title = t("priority_title", lang)
        pr.back_text = t("back", lang)
        for pc in self.cfg.priority.classes:
            self.class_buttons[pc.code].text = pc.name_vi if lang == "vi" else pc.name_en

        o: flow.Outcome | None = getattr(self, "_last_outcome", None)
        ticket = o.ticket if o else {}
        p = self.screens["printing"]
        p.printing_text = t("printing", lang)
        p.your_number_text = t("your_number", lang)
        p.take_text = t("take_ticket", lang)
        p.number = str(ticket.get("label") or "")
        p.details = self._details(ticket, lang)

        pb = self.screens["problem"]
        pb.title = t("problem_title", lang)
        reason = o.reason if o and o.kind == "problem" else "unknown"
        pb.reason = t(f"reason_{reason}" if f"reason_{reason}" in i18n.STRINGS else "reason_unknown", lang)
        pb.your_number_text = t("your_number", lang)
        pb.number = str(ticket.get("label") or "")
        pb.todo = t("problem_do", lang)
        pb.staff = t("problem_staff", lang)
        pb.home_text = t("home", lang)

        c = self.screens["closed"]
        c.home_text = t("home", lang)
        if o and o.kind == "closed":
            c.title = t("closed_title", lang)
            c.reason = t({"closed": "closed_hours", "quota": "closed_quota",
                          "day_closed": "closed_day"}[o.reason], lang)
            c.next_text = self._next_open(o.next_open, lang)
        elif o and o.reason == "gave_up":
            c.title = t("refused_title", lang)
            c.reason = t("gave_up", lang)
            c.next_text = ""
        else:
            c.title = t("refused_title", lang)
            c.reason = t("ask_staff", lang)
            c.next_text = ""

        b = self.screens["busy"]
        b.title = t("busy_title", lang)
        b.sub = t("busy_sub", lang)

        a = self.screens["admin"]
        a.title = t("admin_title", lang)
        a.cancel_text = t("admin_cancel", lang)
        a.dots = "•" * len(self.pin)
        self.pin_keys["clear"].text = t("admin_clear", lang)
        self.pin_keys["ok"].text = t("admin_exit", lang)
        for k in "0123456789":
            self.pin_keys[k].text = k

    def refresh_tiles(self) -> None:
        lang = self.lang
        fields = [{"code": f.code, "name_vi": f.name_vi, "name_en": f.name_en} for f in self.cfg.fields]
        for tile_data in flow.field_tiles(fields, self.summary):
            tile = self.tiles[tile_data["code"]]
            tile.name = tile_data["name_vi"] if lang == "vi" else tile_data["name_en"]
            state = tile_data["state"]
            tile.tile_state = state
            if state != "open":
                tile.bg = theme.rgba("tile_closed")
                tile.info = t({"closed": "tile_closed", "quota": "tile_quota",
                               "day_closed": "tile_day_closed"}[state], lang)
            else:
                tile.bg = theme.rgba("tile")
                if tile_data["waiting"] is None:
                    tile.info = t("waiting_unknown", lang)
                elif tile_data["waiting"] and tile_data["estimate"] is not None:
                    tile.info = t("waiting_estimate", lang, n=tile_data["waiting"],
                                  m=i18n.minutes_text(tile_data["estimate"]))
                else:
                    tile.info = t("waiting", lang, n=tile_data["waiting"])
        # In priority mode the class is already chosen: the tile stays in the
        # grid (so the field tiles keep their places) but cannot be touched.
        self.priority_tile.disabled = self.priority is not None
        self.priority_tile.opacity = 0 if self.priority is not None else 1
        self.priority_tile.name = t("priority_button", lang)
        self.priority_tile.info = t("priority_hint", lang)

    def _details(self, ticket: dict[str, Any], lang: str) -> str:
        if not ticket:
            return ""
        lines = []
        name = ticket.get("field_name_vi") if lang == "vi" else ticket.get("field_name_en")
        if name:
            lines.append(str(name))
        ahead = ticket.get("ahead")
        if isinstance(ahead, int):
            lines.append(t("ahead", lang, n=ahead) if ahead > 0 else t("ahead_none", lang))
        if isinstance(ahead, int) and ahead > 0 and ticket.get("estimated_wait_min") is not None:
            lines.append(t("estimate_long", lang, m=i18n.minutes_text(ticket["estimated_wait_min"])))
        counters = ticket.get("counters") or []
        if counters:
            lines.append(t("counters", lang, list=i18n.join_counters(list(counters), lang)))
        return unicodedata.normalize("NFC", "\n".join(lines))

    def _next_open(self, next_open: float | None, lang: str) -> str:
        if next_open is None:
            return t("ask_staff", lang)
        local = self.cfg.local_time(next_open)
        return t("next_open", lang, time=local.strftime("%H:%M"), date=i18n.date_text(local.date(), lang))

    # -- layout --------------------------------------------------------------------------
    def _layout(self) -> None:
        landscape = self.width >= self.height
        grid = self.screens["home"].ids.tiles
        grid.clear_widgets()
        # Three columns need a wide screen; 1280×800 gets two, portrait one.
        grid.cols = 1 if not landscape else (3 if self.width >= 1600 else 2)
        for tile in [*self.tiles.values(), self.priority_tile]:
            grid.add_widget(tile)
        self.screens["priority"].ids.classes.cols = 2 if landscape else 1
        self.screens["admin"].landscape = landscape

    # -- admin -----------------------------------------------------------------------------
    def open_admin(self) -> None:
        if not self.pin_hash:
            log.warning("admin gesture seen but admin exit is disabled: set %s to a PIN hash", PIN_ENV)
            return
        self.pin = ""
        self.screens["admin"].message = ""
        self.refresh()
        self.show("admin")

    def pin_key(self, key: str) -> None:
        a = self.screens["admin"]
        left = self.pin_lock.locked("admin PIN")
        if left > 0:
            a.message = t("admin_locked", self.lang, s=int(left) + 1)
            return
        if key == "clear":
            self.pin = ""
        elif key == "ok":
            if self.pin_hash and flow.check_pin(self.pin, self.pin_hash):
                log.warning("admin PIN accepted: the kiosk closes")
                self.on_exit()
                return
            self.pin = ""
            log.warning("wrong admin PIN")
            locked = self.pin_lock.fail("admin PIN")
            a.message = (t("admin_locked", self.lang, s=int(locked)) if locked
                         else t("admin_wrong", self.lang))
        elif len(self.pin) < 12:
            self.pin += key
        a.dots = "•" * len(self.pin)


# ----------------------------------------------------------------- window rules
def guard_window(window) -> Callable[[], None]:
    """No way out to the desktop: Escape and the close button do nothing.

    Returns a function that lifts the guard (used by tests sharing a window)."""
    def on_key(win, key, *args):
        if key == 27:           # Escape (and Android back)
            log.info("Escape ignored: the kiosk is closed only by the admin PIN")
            return True
        return False

    def on_close(*args, **kw):
        log.info("window close ignored: the kiosk is closed only by the admin PIN")
        return True

    window.bind(on_keyboard=on_key, on_request_close=on_close)
    return lambda: window.unbind(on_keyboard=on_key, on_request_close=on_close)


def load_pin_hash(env: dict[str, str] | None = None) -> str | None:
    """The admin PIN hash from PHUCVU_KIOSK_PIN_HASH or the file PHUCVU_KIOSK_PIN_HASH_FILE."""
    env = os.environ if env is None else env
    text = env.get(PIN_ENV, "").strip()
    if not text and env.get(PIN_FILE_ENV):
        try:
            text = Path(env[PIN_FILE_ENV]).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SystemExit(f"kiosk: cannot read {PIN_FILE_ENV}={env[PIN_FILE_ENV]}: {e.strerror}")
    if not text:
        return None
    try:
        flow.parse_pin_hash(text)
    except ValueError as e:
        raise SystemExit(f"kiosk: {PIN_ENV}: {e}")
    return text


def main(config_path: str | Path, *, mqtt_user: str | None, password_file: str | Path | None,
         fullscreen: bool, client_id: str = "kiosk-1",
         screenshot_dir: str | Path | None = None) -> None:
    """Run the kiosk until the admin PIN closes it.

    ``screenshot_dir`` (a machine with no screen: the demo on a server)
    saves ``kiosk-live.png`` every few seconds and ``kiosk-<screen>.png``
    each time the screen changes, so a person can see what a citizen sees.
    """
    from kiosk.ui.bus import KioskBus

    try:
        cfg = site_config.load(config_path)
    except site_config.ConfigError as e:
        raise SystemExit(str(e))
    pin_hash = load_pin_hash()
    if pin_hash is None:
        log.warning("no admin PIN hash (%s): the kiosk can only be closed from outside", PIN_ENV)
    try:
        password = contract.read_password(password_file) if password_file else None
    except contract.PayloadError as e:
        raise SystemExit(f"kiosk: {e}") from None

    # systemd stops the kiosk with SIGTERM.  Installed before SDL starts so
    # SDL keeps it, instead of turning the signal into a window-close request
    # that the kiosk (rightly) ignores.
    stop_requested = threading.Event()

    def on_signal(signum, frame):
        log.info("signal %d: the kiosk closes", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Config.set("kivy", "exit_on_escape", "0")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "show_cursor", "0")
    else:
        Config.set("graphics", "width", "1280")
        Config.set("graphics", "height", "800")
    from kivy.app import App
    from kivy.core.window import Window

    class KioskApp(App):
        title = "phucvu kiosk"

        def build(self):
            guard_window(Window)
            self.bus = KioskBus(cfg, client_id=client_id, username=mqtt_user, password=password,
                                on_message=lambda kind, p: self.root_widget.deliver(kind, p),
                                on_link=lambda up: self.root_widget.set_link(up))
            self.root_widget = KioskRoot(cfg, send=self.bus.request, client_id=client_id,
                                         pin_hash=pin_hash, on_exit=self.stop)
            self.bus.start()
            Clock.schedule_interval(self._check_stop, 0.2)
            if screenshot_dir is not None:
                self.shots = Path(screenshot_dir)
                self.shots.mkdir(parents=True, exist_ok=True)
                Clock.schedule_interval(lambda dt: self._shot("live"), 3.0)
                # After the screen's own transition has settled.
                self.root_widget.ids.sm.bind(current=lambda sm, name: Clock.schedule_once(
                    lambda dt: self._shot(name), 0.8))
            return self.root_widget

        def _shot(self, name: str) -> None:
            made = Window.screenshot(name=str(self.shots / f"kiosk-{name}.png"))
            if made:
                os.replace(made, self.shots / f"kiosk-{name}.png")
            else:
                log.warning("screenshot kiosk-%s not saved", name)

        def _check_stop(self, dt):
            # (Returning False would unschedule the check, so return nothing.)
            if stop_requested.is_set():
                self.stop()

        def on_stop(self):
            self.bus.stop()

    app = KioskApp()
    _feed_systemd(app)
    app.run()


def _feed_systemd(app: Any) -> None:
    """Type=notify and WatchdogSec= under systemd (kiosk/sdnotify.py); a no-op elsewhere.

    The pings run on Kivy's clock, on the UI thread: a frozen kiosk stops
    them and systemd restarts it.
    """
    from kiosk.sdnotify import Notifier
    notify = Notifier()
    if not notify.enabled:
        return

    def ping(_dt: float) -> None:
        notify.watchdog()

    app.bind(on_start=lambda *_: notify.ready("kiosk showing"), on_stop=lambda *_: notify.stopping())
    Clock.schedule_interval(ping, notify.wake_every(5.0))
