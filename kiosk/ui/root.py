"""The kiosk's root widget: which screen shows, and what a touch, a reply from
the core or the passing of time changes.

Layout is in screens/*.kv (their classes in widgets.py), the words in texts.py,
the rules of a ticket request in flow.py, the admin PIN pad in admin.py.  The
kiosk never prints and never touches the database: a touch becomes a
``ticket/request/<login>`` through ``send``, and the core's reply says which
number was issued and whether it reached paper.  Messages arrive on paho's
thread through ``deliver()`` and are handled on the UI thread by a Clock
trigger; no widget is touched from anywhere else.

A saved change of the centre (the retained ``config/site``) rebuilds the
tiles, names and classes at once on an idle home screen; a citizen in the
middle of taking a ticket keeps the screen they are reading, and the change
is applied when the kiosk returns home.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

from kivy.clock import Clock
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition

from kiosk import config as site_config
from kiosk.ui import flow, i18n, texts, theme
from kiosk.ui.admin import AdminPad
from kiosk.ui.choices import Choices
from kiosk.ui.voice import Guide
from kiosk.ui.widgets import (AdminScreen, BusyScreen, ClosedScreen, HomeScreen, PrintingScreen,
                              PriorityScreen, ProblemScreen, load_kv, ui)

log = logging.getLogger("phucvu.kiosk")


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


def _fill(widget: Any, props: dict[str, Any]) -> None:
    for name, value in props.items():
        setattr(widget, name, value)


class KioskRoot(BoxLayout):
    """Which screen shows, and why.  ``send(request)`` publishes; ``deliver()`` is thread-safe.

    ``clock`` (monotonic seconds) is the one seam for time: timeouts, debounce,
    idle return and the PIN lockout all read it, so tests move it instead of
    sleeping.  ``wall`` only feeds the header's clock.
    """

    lang = StringProperty("vi")
    default_lang = "vi"     # the kiosk's own setting (kiosk/ui/settings.py)

    def __init__(self, cfg: site_config.SiteConfig, *, send: Callable[[dict], None],
                 client_id: str = "kiosk-1", pin_hash: str | None = None,
                 on_exit: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 timings: type[Timings] | Timings = Timings, guide: Guide | None = None, **kw):
        load_kv()
        super().__init__(**kw)
        self.cfg = cfg
        self.live = site_config.Live(cfg)
        self.config_waiting: site_config.SiteConfig | None = None   # until the citizen is done
        self.send = send
        self.clock = clock
        self.wall = wall
        self.tm = timings
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
        self.last_outcome: flow.Outcome | None = None  # the one the result screens show
        self.sent_at = 0.0
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
        self.ids.header.bind(on_listen=lambda *_: self.listen())
        self.guide = guide if guide is not None else Guide(cfg)
        self.admin = AdminPad(self.screens["admin"], pin_hash=pin_hash, on_exit=on_exit or (lambda: None),
                              lang=lambda: self.lang, lock_s=timings.lock_s, clock=clock)
        self.choices = Choices(cfg, self.screens["home"], self.screens["priority"],
                               on_field=self.request_ticket, on_priority=self.show_priority,
                               on_class=self.choose_priority)

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
            self.choices.relabel(payload, self.lang, self.priority)
        elif kind == "printer":
            self.printer = payload
        elif kind == "link":
            self.link_up = bool(payload.get("up"))
        elif kind == "reply":
            self.on_reply(payload)
        elif kind == "config":
            self.take_config(payload)

    # -- a saved change of the centre -------------------------------------------
    def take_config(self, payload: dict[str, Any]) -> None:
        try:
            new = self.live.offer(payload)
        except site_config.ConfigError as e:
            log.error("config/site version %s not applied, the kiosk keeps the running config: %s",
                      payload.get("version"), str(e).replace("\n", "; "))
            return
        if new is None:
            return
        if self.citizen_busy():
            log.info("config/site version %s: applied when the citizen's ticket is done (screen %s)",
                     self.live.version, self.current)
            self.config_waiting = new
            return
        self.apply_config(new)

    def citizen_busy(self) -> bool:
        """Someone is taking a ticket: a priority class chosen, a request out, or
        any screen but home (the tiles must not move under a finger)."""
        return self.current != "home" or self.priority is not None or self.flow.pending is not None

    def apply_config(self, new: site_config.SiteConfig) -> None:
        old, self.cfg, self.config_waiting = self.cfg, new, None
        self.guide.retune(new)
        self.choices.build(new)
        self._layout()
        self.refresh()
        log.info("config/site version %s applied (%s)", self.live.version,
                 ", ".join(site_config.live.changed_sections(old, new)) or "no visible change")

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
        self.admin.pin = ""
        if not keep_lang:
            self.lang = self.default_lang
        if self.config_waiting is not None and self.flow.pending is None:
            self.show("home")
            self.apply_config(self.config_waiting)
            return
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

    def listen(self) -> None:
        """The listen button: the current screen read aloud, off the UI thread."""
        self.last_touch = self.clock()
        shown = texts.screens(self.cfg, "vi", self.priority, self.last_outcome)
        self.guide.say(texts.spoken(self.cfg, self.current, shown, self.last_outcome, self.summary,
                                    self.screens["printing"].phase))

    def open_admin(self) -> None:
        if self.current == "locked":
            return      # paused by the admin: only the lock screen's own PIN pad reopens
        if self.admin.open():
            self.refresh()
            self.show("admin")

    def _layout(self) -> None:
        landscape = self.width >= self.height
        ui.scale = theme.window_scale(self.width, self.height)
        ui.portrait = not landscape
        ui.narrow = landscape and self.width < 1100
        self.choices.layout(landscape, self.width, self.height)
        self.screens["admin"].landscape = landscape

    # -- touches and replies -----------------------------------------------------
    def on_touch_down(self, touch):
        now = self.clock()
        self.last_touch = now
        in_corner = touch.x < theme.HEADER_PX and touch.y > self.top - theme.HEADER_PX
        if self.corner.touch(in_corner, now):
            self.open_admin()
            return True
        return super().on_touch_down(touch)

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
        self.last_outcome = o
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
                self.show_outcome(self._given_up(arg), now)
        self._maybe_show_outcome()
        if self.leave_at is not None and now >= self.leave_at:
            self.go_home()
        elif self.current in ("priority", "admin", "settings", "newpin") or (self.current == "home" and self.priority):
            if now - self.last_touch >= self.tm.idle_s:
                self.go_home()

    def _given_up(self, pending: flow.Pending) -> flow.Outcome:
        if pending.ticket is not None:
            # Issued but never confirmed on paper: the number is known,
            # so show it as a printer problem rather than lose it.
            log.error("ticket %s: no print result in %.0f s; shown as not printed",
                      pending.ticket.get("label"), self.tm.give_up_s)
            return flow.Outcome("problem", ticket=pending.ticket, reason="unknown")
        log.error("core did not answer request %s in %.0f s; citizen sent to staff",
                  pending.request_id, self.tm.give_up_s)
        return flow.Outcome("refused", reason="gave_up")

    def _update_clock(self) -> None:
        _fill(self.ids.header, texts.clock(self.cfg, self.wall(), self.lang))

    # -- text -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Set every visible text for the current language and state."""
        _fill(self.ids.header, texts.header(self.cfg, self.lang))
        self._update_clock()
        for name, props in texts.screens(self.cfg, self.lang, self.priority, self.last_outcome).items():
            _fill(self.screens[name], props)
        self.choices.relabel(self.summary, self.lang, self.priority)
        self.admin.relabel()
