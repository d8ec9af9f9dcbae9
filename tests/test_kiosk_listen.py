"""The "Nghe hướng dẫn" (listen) button, pressed for real on the rendered
kiosk, speaking through the wall display's own voice (espeak-ng) into wav
files (announcer.output_dir), off the UI thread."""
from __future__ import annotations

import logging
import threading
import time
import wave
from pathlib import Path

import pytest

W, H = 1280, 800
TICKET = {"ticket_id": "20261127-A013", "label": "A013", "field": "tu-phap",
          "field_name_vi": "Tư pháp – Hộ tịch", "field_name_en": "Justice and civil status",
          "priority": None, "issued_at": 0, "ahead": 4, "estimated_wait_min": 20.0, "counters": [1, 2]}


@pytest.fixture(scope="module")
def window():
    from kivy.config import Config
    Config.set("graphics", "width", str(W))
    Config.set("graphics", "height", str(H))
    from kivy.base import EventLoop
    EventLoop.ensure_window()
    from kivy.core.window import Window
    return Window


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _with_voice(site, **announcer):
    return site.model_copy(update={"announcer": site.announcer.model_copy(update=announcer)})


@pytest.fixture
def kiosk(window, site, tmp_path):
    made = []

    def make(cfg):
        from kiosk.ui.root import KioskRoot
        sent: list[dict] = []
        clock = Clock()
        root = KioskRoot(cfg, send=sent.append, clock=clock, pin_hash=None)
        root.sent, root.test_clock = sent, clock
        window.add_widget(root)
        made.append(root)
        pump(lambda: root.width == window.width)
        return root

    yield make
    for root in made:
        root.guide.close()
        window.remove_widget(root)


def pump(until, timeout: float = 30.0):
    from kivy.base import EventLoop
    deadline = time.monotonic() + timeout
    while not until():
        EventLoop.idle()
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.005)
    EventLoop.idle()


def press(button):
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch
    EventLoop.idle()
    t = UnitTestTouch(*button.to_window(*button.center))
    t.touch_down()
    t.touch_up()


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_listen_on_home_speaks_the_prompt_into_a_wav(kiosk, site, tmp_path, caplog):
    out = tmp_path / "voice"
    root = kiosk(_with_voice(site, output_dir=str(out), chime=False))
    root.handle("summary", {"fields": [{"field": "tu-phap", "waiting": 5, "estimated_wait_min": 12.0,
                                        "open": True}]})
    listen = root.ids.header.ids.listen
    assert listen.text == "Nghe hướng dẫn"
    with caplog.at_level(logging.INFO, logger="phucvu.kiosk"):
        press(listen)
        assert root.guide.wait_idle(60)
    text, thread, path = root.guide.spoken[-1]
    # 12 minutes is said to the nearest five above ten (kiosk/waitwords.py).
    assert text.startswith("Mời chọn lĩnh vực cần giải quyết. Tư pháp – Hộ tịch: 5 người chờ · khoảng 10 phút.")
    assert "\u00a0" not in text
    # Spoken on the voice's own thread, never on the UI thread.
    assert thread == "kiosk-voice" != threading.current_thread().name
    assert path.parent == out and path.name == "kiosk-listen-00001.wav"
    assert wav_seconds(path) > 2.0
    assert f"kiosk voice: {text}" in caplog.text


def test_listen_after_a_ticket_says_its_number_people_ahead_and_wait(kiosk, site, tmp_path):
    from display import speech
    out = tmp_path / "voice"
    root = kiosk(_with_voice(site, output_dir=str(out), chime=False))
    root.request_ticket("tu-phap")
    root.test_clock.now += 5
    root.handle("reply", {"request_id": root.sent[-1]["request_id"], "ok": True, "ticket": TICKET,
                          "print": {"status": "printed"}})
    pump(lambda: root.screens["printing"].phase == "done")
    press(root.ids.header.ids.listen)
    assert root.guide.wait_idle(60)
    text = root.guide.spoken[-1][0]
    number = speech.label_words("A013", site.announcer.number_style)
    assert text.startswith(f"Số thứ tự của bạn: {number}. Tư pháp – Hộ tịch. Trước bạn còn 4 người. "
                           "Thời gian chờ khoảng 20 phút. Quầy phục vụ: 1 hoặc 2."), text
    assert wav_seconds(root.guide.spoken[-1][2]) > 4.0


def test_listen_on_the_printer_problem_screen_says_the_number(kiosk, site, tmp_path):
    root = kiosk(_with_voice(site, output_dir=str(tmp_path / "v"), chime=False))
    root.request_ticket("tu-phap")
    root.handle("reply", {"request_id": root.sent[-1]["request_id"], "ok": True, "ticket": TICKET,
                          "print": {"status": "not_printed", "reason": "paper_out"}})
    pump(lambda: root.current == "problem")
    press(root.ids.header.ids.listen)
    assert root.guide.wait_idle(60)
    text = root.guide.spoken[-1][0]
    assert "Máy in hết giấy" in text and "Số thứ tự của bạn:" in text


def test_without_a_voice_the_kiosk_logs_and_carries_on(kiosk, site, tmp_path, caplog):
    # A player that does not exist: the wav is made, playing it fails.
    root = kiosk(_with_voice(site, player=str(tmp_path / "no-such-player"), output_dir=""))
    with caplog.at_level(logging.INFO, logger="phucvu.kiosk"):
        press(root.ids.header.ids.listen)
        assert root.guide.wait_idle(60)
    assert not root.guide.spoken and root.guide.failed
    assert "kiosk voice: could not speak" in caplog.text
    # The kiosk still works: a touch on a tile still requests a ticket.
    root.request_ticket("tu-phap")
    assert root.current == "printing" and root.sent


def test_a_voice_that_cannot_be_built_is_reported_once_then_each_press_logged(site, caplog):
    from kiosk.ui.voice import Guide
    built = []

    def make(cfg):
        built.append(cfg)
        raise RuntimeError("espeak-ng is not installed")

    g = Guide(site, make=make)
    with caplog.at_level(logging.INFO, logger="phucvu.kiosk"):
        g.say("Mời chọn lĩnh vực")
        assert g.wait_idle(10)
        g.say("Mời chọn lĩnh vực")
        assert g.wait_idle(10)
    g.close()
    assert len(built) == 1 and len(g.failed) == 2
    assert "could not speak (espeak-ng is not installed)" in caplog.text
    assert "not spoken, espeak-ng is not installed" in caplog.text
