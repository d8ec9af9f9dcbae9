"""The wizard's later steps: the printer and its test ticket, the test call
in the kiosk's voice, and the summary (a mixin of ``wizard.Wizard``, which
owns the state these read: ``draft``, ``printers``, ``s``, ``config_path``)."""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory

from kiosk import config as site_config
from kiosk.ui import theme
from kiosk.ui.widgets import KButton
from kiosk.ui.wizard_model import real_path
from kiosk.ui.wizard_texts import w

log = logging.getLogger("phucvu.kiosk.wizard")


def button(text: str, on: bool | None = None, **kw) -> KButton:
    """A wizard button; ``on`` True/False makes it a toggle's two colours."""
    bg = theme.rgba("button") if on is None else theme.rgba("tile" if on else "tile_closed")
    return KButton(text=text, bg=bg, nominal=kw.pop("nominal", theme.BODY_PX), size_hint_min_y=0, **kw)


def printer_label(conn: str) -> str:
    """A connection as a person reads it: "Máy in USB lp0", "Cổng nối tiếp Xprinter XP 80C"."""
    if conn == "none":
        return w("printer_none")
    kind, _, where = conn.partition(":")
    name = Path(where).name
    if kind == "file" and where.startswith("/dev/usb/"):
        return w("printer_usb", name=name)
    if kind == "serial" and where.startswith("/dev/serial/by-id/"):
        # usb-Xprinter_XP-80C-if00 -> Xprinter XP 80C (words, so it wraps)
        name = re.sub(r"^usb-|-if\d+(-port\d+)?$", "", name)
        return w("printer_serial", name=re.sub(r"[-_]+", " ", name).strip())
    return conn


class DeviceSteps:
    # -- printer and voice ---------------------------------------------------------
    def _fill_printer(self) -> None:
        scr = self.s["printer"]
        scr.prompt = w("printer_prompt")
        scr.test_text = w("printer_test")
        scr.ids.choices.clear_widgets()
        for conn in self.printers:
            b = button(printer_label(conn), on=(conn == self.draft.printer))
            b.bind(on_release=lambda _b, c=conn: self.choose_printer(c))
            scr.ids.choices.add_widget(b)

    def choose_printer(self, conn: str) -> None:
        self.draft.printer = conn
        self.s["printer"].result = ""
        self.refresh()

    def print_test(self) -> None:
        """A test ticket through kiosk/printing, straight to the printer (no core runs yet)."""
        from kiosk.printing.tools import PrintTestError, print_test
        scr = self.s["printer"]
        if self.draft.printer == "none":
            scr.result = w("printer_absent")
            return
        scr.result = w("printer_testing")
        cfg = self.draft.validate()
        base = real_path(self.config_path).parent

        def work() -> None:
            try:
                res = print_test(cfg, connection=self.draft.printer, base_dir=base, say=log.info)
                text = (w("printer_printed", state=res.state, detail=res.detail, bytes=res.bytes_sent)
                        if res.printed else w("printer_failed", state=res.state, detail=res.detail))
            except (PrintTestError, OSError) as e:
                res, text = None, w("printer_failed", state="error", detail=str(e))
            except Exception as e:      # whatever the driver raises, the person sees it
                log.exception("wizard: test print failed")
                res, text = None, w("printer_failed", state="error", detail=str(e) or type(e).__name__)
            Clock.schedule_once(lambda dt: self._printed(res, text))
        threading.Thread(target=work, name="wizard-print-test", daemon=True).start()

    def _printed(self, res: Any, text: str) -> None:
        self.printed = res
        self.s["printer"].result = text

    def _sentence(self) -> str:
        prefix = self.draft.chosen()[0]["prefix"] if self.draft.chosen() else "A"
        return w("voice_sentence", label=f"{prefix}001")

    def _fill_voice(self) -> None:
        scr = self.s["voice"]
        scr.prompt, scr.sentence, scr.test_text = w("voice_prompt"), self._sentence(), w("voice_test")

    def voice_test(self) -> None:
        from kiosk.ui.voice import Guide
        if self.guide is None:
            cfg = self.draft.validate()
            self.guide = Guide(cfg, make=self.guide_make or self._make_voice)
        self.s["voice"].result = w("voice_speaking")
        spoken, failed = len(self.guide.spoken), len(self.guide.failed)
        self.guide.say(self._sentence())

        # The guide records each sentence as spoken (with its wav) or failed (with why).
        def poll(dt) -> bool:
            if len(self.guide.failed) > failed:
                self.s["voice"].result = w("voice_failed", why=self.guide.failed[-1][1])
            elif len(self.guide.spoken) > spoken:
                self.spoken = Path(self.guide.spoken[-1][2])
                self.s["voice"].result = w("voice_done", name=self.spoken.name)
            else:
                return True
            return False
        Clock.schedule_interval(poll, 0.1)

    def _make_voice(self, cfg):
        from display import announcer
        if self.voice_dir is not None:
            return announcer.from_config(cfg, output_dir=self.voice_dir)
        return announcer.from_config(cfg, fallback_dir=real_path(self.config_path).parent / "voice-test")

    # -- the summary -------------------------------------------------------------------
    def _fill_summary(self) -> None:
        d = self.draft
        self.s["summary"].prompt = w("summary_prompt")
        prefix = {f["code"]: f["prefix"] for f in d.chosen()}
        days = " ".join(w(f"day_{x}") for x in site_config.WEEKDAYS if x in d.days)
        hours = (f"{days}: {d.morning[0]}–{d.morning[1]}, {d.afternoon[0]}–{d.afternoon[1]}"
                 + (f" · {w('day_sat')} {d.morning[0]}–{d.morning[1]}" if d.saturday and "sat" not in d.days else ""))
        lines = [w("sum_name", commune=d.commune, centre=d.centre),
                 w("sum_fields", list=", ".join(f"{f['prefix']} {f['name_vi']}" for f in d.chosen())),
                 w("sum_counters", n=len(d.counters), list="; ".join(
                     f"{i}: {' '.join(prefix[c] for c in cs if c in prefix)}" for i, cs in enumerate(d.counters, 1))),
                 w("sum_hours", hours=hours),
                 w("sum_printer", printer=printer_label(d.printer),
                   site_id=d.config()["site"]["id"])]
        grid = self.s["summary"].ids.lines
        grid.clear_widgets()
        for line in lines:
            grid.add_widget(Factory.WzText(text=line))

