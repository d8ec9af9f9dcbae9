"""The wall display's Kivy app: what ``display.state`` says, drawn by kv/display.kv.

Threads: paho's network thread only appends to an inbox and pulls a Clock
trigger; every widget change happens on Kivy's thread in ``_drain``.  The
announcer is fed straight from the network thread (its ``submit`` only
queues), so a busy screen never delays a voice and the reverse.

Imported only through ``display.app.build_app``, after ``configure_window``
(display.widgets checks the order).
"""
from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

# display.widgets first: it refuses to load before configure_window ran,
# and so keeps kivy.app (which imports the clock) from loading too early.
from display.widgets import CallRow, CounterRow, DisplayRoot, FieldRow, ensure_rows, keep_rows, text_width  # isort: skip
from display import pages
from display import state as st
from display.audio import AnnouncerError
from kiosk.config import ConfigError, Live, checked

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty

log = logging.getLogger("phucvu.display")

KV = Path(__file__).with_name("kv") / "display.kv"
BLINK_S = 0.5
BG = (0.04, 0.09, 0.18, 1)      # the same as BG in display.kv
NAME_SHARE = 0.215              # the counters' name column, as in display.kv's <CounterRow>
TICKER_SPEED = 0.12     # screen short sides per second: readable, not jumpy
# Every ticker step redraws the whole screen; 20 steps a second reads as
# smooth from across a hall and leaves a software renderer time to breathe.
TICKER_FPS = 20
# [display] public_board = "rotate": the calls and the board take turns.
ROTATE_S = 15


class DisplayApp(App):
    font_name = StringProperty("Roboto")
    # The smallest text on the wall: 1/30 of the screen's short side (its
    # height on a landscape TV, its width on one hung in portrait: the same
    # letters for the same TV; on a squarer screen, of the widest 16:9
    # picture in it: pages.short_side, docs/display.md).
    floor = NumericProperty(24)

    def __init__(self, cfg: Any, *, connect: Callable[["DisplayApp"], Any] | None = None,
                 announcer: Any = None, screenshot_dir: str | Path | None = None, **kw: Any):
        super().__init__(**kw)
        self.title = f"phucvu – {cfg.site.commune}"
        self.cfg = cfg
        if cfg.display.font:
            self.font_name = cfg.display.font
        self.state = st.DisplayState.from_config(cfg, started=time.monotonic())
        # What this display runs of the core's config/site (a saved change
        # of the centre is applied without a restart), merged and validated
        # in a child process (no pydantic here), on a thread of its own so
        # the screen never waits for it.
        self.live = Live(cfg, merge_with=checked.merge)
        self._configs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._check_configs, daemon=True, name="display-config").start()
        # The clock of the paged columns (display/pages.py); tests move it.
        self.page_started = self.state.started
        self._connect = connect
        self.link: Any = None
        self.announcer = announcer
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self._inbox: collections.deque = collections.deque()
        self._trigger = Clock.create_trigger(self._drain, 0)
        self._blink = 0
        # Called with the call_ids shown, on the frame after the update.
        self.shown_listeners: list[Callable[[list[str], float], None]] = []
        # At most one live screenshot a second, always after the last change.
        self._shot_trigger = Clock.create_trigger(self._save_live, 1.0)
        self._names_key: tuple = ()
        self._lines_key: tuple = ()
        self._lines: tuple[int, float] = (2, 0.34)
        self._names: dict[int, str] = {}

    # -- building -----------------------------------------------------
    def build(self):
        from kivy.core.window import Window

        # The floor from the window's own height before any label is made:
        # fitting first at the 24 px default opened one more font for nothing.
        self.floor = pages.short_side(*Window.size) / 30
        Builder.load_file(str(KV))
        root = DisplayRoot(portrait=Window.height > Window.width)
        # Row heights follow the boxes they sit in, which settle only
        # after layout: refresh once more whenever a box is resized.
        relayout = Clock.create_trigger(lambda _dt: self.refresh(), 0)

        def resized(*_: Any) -> None:
            # The orientation is decided here, on resize only: the kv places
            # the parts from root.portrait, no frame computes it again.
            self.floor = pages.short_side(*root.size) / 30
            root.portrait = root.height > root.width
            relayout()

        root.bind(size=resized)
        root.ids.counters_area.bind(height=lambda *_: relayout())
        root.ids.waiting_area.bind(height=lambda *_: relayout())
        root.ids.calls_area.bind(height=lambda *_: relayout())
        return root

    def on_start(self):
        from kivy.core.window import Window
        from kivy.graphics.opengl import glFinish

        # Without this a software renderer (llvmpipe) queues frames
        # behind the loop and a new number waits behind hundreds of ms
        # of old frames; finishing each frame keeps "drawn" == "shown".
        Window.bind(on_flip=lambda *_: glFinish())
        # The background is the window's clear colour, not one more
        # full-screen rectangle for a software renderer to fill.
        Window.clearcolor = BG
        Clock.schedule_interval(self._tick, BLINK_S)
        Clock.schedule_interval(self._scroll, 1 / TICKER_FPS)
        self.refresh()
        if self._connect is not None:
            self.link = self._connect(self)

    def on_stop(self):
        if self.link is not None:
            self.link.stop()
        if self.announcer is not None:
            self.announcer.close()

    # -- input, from any thread ----------------------------------------
    def feed(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "call" and self.announcer is not None:
            self.announcer.submit(payload)
        if kind == "voice":
            # The admin's voice test: heard, never shown.
            if self.announcer is not None:
                self.announcer.submit_text(payload)
            return
        if kind == "config":
            self._configs.put(payload)
            return
        self._inbox.append((kind, payload, time.monotonic()))
        self._trigger()

    # -- Kivy thread ---------------------------------------------------
    def _drain(self, *_: Any) -> None:
        shown: list[str] = []
        while self._inbox:
            kind, payload, at = self._inbox.popleft()
            try:
                if kind == "snapshot":
                    shown += self.state.apply_snapshot(payload, at)
                elif kind == "call":
                    if self.state.apply_call(payload, at):
                        shown.append(str(payload.get("call_id")))
                elif kind == "notice":
                    self.state.apply_notice(payload)
                elif kind == "presence":
                    self.state.apply_presence(payload, at)
                elif kind == "checked_config":
                    self.apply_config(payload)
            except st.BadMessage as e:
                log.warning("%s message ignored: %s", kind, e)
        self.refresh()
        if shown and self.shown_listeners:
            self._after_next_frame(shown)
        self._maybe_screenshot()

    def _check_configs(self) -> None:
        # One at a time, in the order they came: Live keeps the last hash.
        while True:
            payload = self._configs.get()
            try:
                new = self.live.offer(payload)
            except ConfigError as e:
                log.error("config/site version %s not applied, the display keeps the running config: %s",
                          payload.get("version"), str(e).replace("\n", "; "))
                continue
            except Exception:
                log.exception("config/site version %s not applied", payload.get("version"))
                continue
            if new is not None:
                self._inbox.append(("checked_config", new, time.monotonic()))
                self._trigger()

    def apply_config(self, new: Any) -> None:
        """A checked config/site: names, counters, fields, [display] and [announcer] now."""
        if self.announcer is not None and new.announcer != self.cfg.announcer:
            try:
                self.announcer.retune(new)
            except AnnouncerError as e:
                log.error("config/site version %s: the voice keeps its old settings: %s",
                          self.live.version, e)
        self.title = f"phucvu – {new.site.commune}"
        if new.display.font != self.cfg.display.font:
            if new.display.font and not Path(new.display.font).is_file():
                log.error("config/site: display.font %s is not a file here; the old font stays",
                          new.display.font)
            else:
                self.font_name = new.display.font or "Roboto"
        self.cfg = new
        self.state.apply_config(new)
        log.info("config/site version %s applied", self.live.version)

    def _after_next_frame(self, call_ids: list[str]) -> None:
        from kivy.core.window import Window
        from kivy.graphics.opengl import glFinish

        def flipped(*_: Any) -> None:
            Window.unbind(on_flip=flipped)
            # This frame holds the new number; once the renderer has
            # finished it, the swap that follows only presents it.
            glFinish()
            self._notify(call_ids)

        Window.bind(on_flip=flipped)

    def _notify(self, call_ids: list[str]) -> None:
        now = time.monotonic()
        for fn in self.shown_listeners:
            fn(call_ids, now)

    def _tick(self, *_: Any) -> None:
        self._blink += 1
        self.refresh()

    def _scroll(self, dt_: float) -> None:
        root = self.root
        if root is None:
            return
        label = root.ids.ticker
        box = root.ids.ticker_box
        if label.texture_size[0] <= box.width:
            # Short notices stand still, centred: nothing to scroll.
            root.ticker_offset = round((box.width - label.texture_size[0]) / 2)
            return
        offset = root.ticker_offset - round(TICKER_SPEED * root.u * 100 * dt_)
        root.ticker_offset = box.width if offset < -label.texture_size[0] else offset

    def refresh(self) -> None:
        root = self.root
        if root is None:
            return
        wall = dt.datetime.now(self.cfg.tz)
        v = self.state.view(time.monotonic(), wall)
        blink_on = self._blink % 2 == 0
        root.commune = v.commune
        root.commune_upper = v.commune.upper()
        root.centre = v.centre
        root.clock_text = v.clock_text
        root.date_text = v.date_text
        root.stale = v.stale
        root.notice = v.notice
        # The recent calls' width as the layout gives it in any turn of the
        # board's rotation (a hidden box is 0 wide in portrait): the names
        # must not change from one turn to the next.
        side = root.ids.calls_box.parent
        both = root.portrait and self.cfg.display.public_board == "panel"
        calls_w = (side.width - root.u * 1.2) * 0.55 if both else side.width
        names = self._wall_names(v.counters, self.floor, root.ids.counters.width, root.u * 17, calls_w)
        root.highlight_label = v.highlight_label
        root.highlight_counter = names.get(v.highlight_counter_no, v.highlight_counter)
        root.has_calls = bool(v.last_calls)
        root.last_label = v.last_calls[0].label if v.last_calls else ""
        root.last_counter = names.get(v.last_calls[0].counter, v.last_calls[0].counter_name) if v.last_calls else ""
        root.blink_on = blink_on
        root.day_closed = v.day_closed

        floor = self.floor
        # A row holds one line at the floor at least (texture ~1.2 x font).
        min_row = floor * 1.45
        spacing = root.u * 0.3
        # More rows than fit at the readable size: pages in turn, each
        # with its "1/5" mark, rather than rows too small to read.
        elapsed = time.monotonic() - self.page_started
        waits = [st.short_wait(r) for r in v.waiting]
        nexts = [("Tiếp: " + " ".join(r.next)) if r.next else "" for r in v.waiting]
        lines, share = self._field_lines(nexts, waits, floor, root.ids.waiting.width, root.u)
        if root.portrait:
            # The two parts' heights add up to what they share, whatever
            # the share was.
            shared = root.ids.counters_area.parent.height + root.ids.waiting_area.parent.height
            root.counters_share = pages.portrait_share(len(v.counters), len(v.waiting), shared, min_row, spacing,
                                                       field_lines=lines)
        cp = pages.page(len(v.counters), root.ids.counters_area.height, min_row, spacing, elapsed)
        shown_counters = v.counters[cp.start:cp.stop]
        rows = ensure_rows(root.ids.counters, CounterRow, len(shown_counters))
        # Few counters: big rows from the top; many: they share the height.
        row_h = max(min_row, min(root.u * 17, (root.ids.counters_area.height - spacing * max(0, cp.per_page - 1))
                                 / max(1, cp.per_page)))
        root.counter_row_h = row_h
        root.counters_h = row_h * len(rows) + spacing * max(0, len(rows) - 1)
        root.counters_page = cp.mark
        for i, (w, c) in enumerate(zip(rows, shown_counters)):
            w.index, w.row_h = i, row_h
            w.name = names.get(c.number, c.name)
            w.current, w.field_name = c.current, c.field_name
            w.official, w.status_text = c.official, c.status_text
            w.highlight, w.blink_on = c.highlight, blink_on

        # Per field: two lines (name and count; next numbers and wait), or
        # three (the wait under the numbers) when a long wait needs the room.
        fp = pages.page(len(v.waiting), root.ids.waiting_area.height, min_row * lines, spacing, elapsed)
        wrows = ensure_rows(root.ids.waiting, FieldRow, fp.stop - fp.start)
        field_h = max(min_row * lines, min(root.u * 8 * lines,
                                           (root.ids.waiting_area.height - spacing * max(0, fp.per_page - 1))
                                           / max(1, fp.per_page)))
        root.waiting_h = field_h * len(wrows) + spacing * max(0, len(wrows) - 1)
        root.waiting_page = fp.mark
        for i, (w, k) in enumerate(zip(wrows, range(fp.start, fp.stop))):
            r = v.waiting[k]
            w.index, w.row_h, w.lines, w.wait_share = i, field_h, lines, share
            w.name = r.name
            w.count_text = f"{r.waiting} người"
            w.next_text, w.wait_text = nexts[k], waits[k]

        # The board: always, never, or in turn with the recent calls.
        mode = self.cfg.display.public_board
        board = v.board if mode != "off" else None
        # The calls first: a display that just started shows them.
        turn = int((time.monotonic() - self.state.started) // ROTATE_S) % 2 == 1
        root.board_visible = board is not None and (mode == "panel" or turn)
        root.calls_visible = not (root.board_visible and mode == "rotate")
        if board is not None:
            root.board_served = board.served
            root.board_satisfied = board.satisfied
            root.board_on_time = board.on_time
            root.board_on_time_what = f"Chờ ≤ {board.wait_target_min} phút"

        # As many recent calls as the space holds, newest first.
        call_h = min_row * 1.05
        fit = max(1, int(root.ids.calls_area.height // call_h)) if root.calls_visible else 0
        shown = v.last_calls[: min(fit, len(v.last_calls))]
        crows = keep_rows(root.ids.calls, CallRow, [(c.label, c.counter, c.recall) for c in shown])
        root.calls_h = call_h * len(shown)
        for i, (w, c) in enumerate(zip(crows, shown)):
            w.index, w.row_h = i, call_h
            w.label, w.counter_name, w.recall = c.label, names.get(c.counter, c.counter_name), c.recall

    def _field_lines(self, nexts: list[str], waits: list[str], floor: float, width: float,
                     u: float) -> tuple[int, float]:
        """The waiting fields' lines (2 or 3) and the wait's share of the
        second line, for all rows alike so that they keep one height.

        Beside the next numbers while the widest of each fit together at the
        floor, in parts as wide as they need (both then shrink alike); on a
        line of its own otherwise: a wide range ("45 phút – 1 giờ 40 phút",
        kiosk.waitwords) never fits beside three numbers on a landscape
        wall's middle column.  Measured once per set of texts and size."""
        key = (tuple(nexts), tuple(waits), floor, round(width))
        if key != self._lines_key:
            # <FieldRow>: padding 0.12 and spacing 0.24 of a line, at most u * 8 high.
            avail = width - (2 * 0.12 + 0.24) * 8 * u - 2
            wide_next = max((text_width(t, floor, False, self.font_name) for t in nexts if t), default=0)
            wide_wait = max((text_width(t, floor, False, self.font_name) for t in waits if t), default=0)
            if not wide_wait:
                self._lines = (2, 0.34)
            elif wide_next + wide_wait <= avail:
                self._lines = (2, wide_wait / (wide_next + wide_wait))
            else:
                self._lines = (3, 0.34)
            self._lines_key = key
        return self._lines

    def _wall_names(self, counters: list, floor: float, width: float, row_h: float,
                    calls_width: float = 0.0) -> dict[int, str]:
        """Counter number -> the name the wall shows for it.

        A centre names its counters as it likes (the admin pages make long
        names easy), but the counters' name column holds "Quầy 12" at the
        readable size and the field's name beside it needs the rest of the
        row.  A name wider than the column at the floor is shown as
        "Quầy <number>" in the rows, the call panel and the recent calls,
        rather than cut or run into the number beside it.  The recent calls
        bound it too: there the name is followed by " · gọi lại", and in
        portrait the counters' column is wider than the calls' beside the
        board.  Measured once per set of names and size."""
        key = (tuple((c.number, c.name) for c in counters), floor, round(width), round(row_h),
               round(calls_width))
        if key != self._names_key:
            pad, gap = row_h * 0.1, row_h * 0.08        # the row's padding and spacing (display.kv)
            column = NAME_SHARE * max(1.0, width - 2 * pad - 2 * gap) - 2
            if calls_width > 0:
                # <CallRow>: 0.64 of the row after its spacing, rows min_row * 1.05 high.
                call_h = floor * 1.45 * 1.05
                calls_col = 0.64 * (calls_width - call_h * 0.15) - 2
                column = min(column, calls_col - text_width(" · gọi lại", floor, False, self.font_name))
            self._names_key = key
            self._names = {c.number: c.name if text_width(c.name, floor, True, self.font_name) <= column
                           else f"Quầy {c.number}" for c in counters}
        return self._names

    def _maybe_screenshot(self) -> None:
        if self.screenshot_dir is not None:
            self._shot_trigger()

    def _save_live(self, *_: Any) -> None:
        try:
            save_screenshot(self.screenshot_dir / "display-live.png")
        except (OSError, RuntimeError) as e:
            log.warning("live screenshot not saved: %s", e)

    def texts(self) -> list[str]:
        """Every label's text on screen (tests read the widget tree)."""
        from kivy.uix.label import Label
        return [w.text for w in self.root.walk() if isinstance(w, Label) and w.text]


def save_screenshot(path: str | Path) -> Path:
    """Save the current frame as exactly ``path``.

    Read as RGBA and written with Pillow: Kivy's own ``Window.screenshot``
    reads packed RGB rows, which GL pads to 4 bytes, and so shears the
    picture of any window whose width is not a multiple of 4 (1366x768).
    """
    from kivy.core.window import Window
    from kivy.graphics.opengl import GL_RGBA, GL_UNSIGNED_BYTE, glReadPixels
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = Window.size
    data = glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE)
    if not data or len(data) < width * height * 4:
        raise RuntimeError(f"Kivy could not read the frame for {path.name}")
    image = Image.frombytes("RGBA", (width, height), bytes(data[: width * height * 4]))
    # GL rows start at the bottom; a PNG's at the top.  No alpha: a TV has none.
    tmp = path.with_name(path.name + ".part")
    image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("RGB").save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
