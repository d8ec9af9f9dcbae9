"""The reference firmware under CPython behind the hardware shim, over a real pty."""
from __future__ import annotations

import os
import py_compile
import select
import tty
from pathlib import Path

import pytest

from firmware_bridge.protocol import messages as M
from firmware_bridge.protocol.framing import FrameDecoder, frame
from firmware_bridge.firmware.app import Debouncer, Firmware
from firmware_bridge.firmware.shim import Board, Flash

ROOT = Path(__file__).resolve().parent.parent


class Host:
    """The host end of a pty, reading and writing real frames."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.dec = FrameDecoder()

    def read(self) -> list:
        out = []
        while select.select([self.slave], [], [], 0.01)[0]:
            out += [M.parse(b) for b in self.dec.feed(os.read(self.slave, 4096))]
        return out

    def send(self, msg) -> None:
        os.write(self.slave, M.encode(msg))

    def close(self):
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def host():
    h = Host()
    yield h
    h.close()


def make(host, flash=None, **kw):
    board = Board(flash or Flash(), fd=host.master, seed=1)
    fw = Firmware(board, "box-7", debounce_ms=kw.pop("debounce_ms", 5), **kw)
    return board, fw


def test_boot_says_hello_and_a_key_press_becomes_one_event(host):
    board, fw = make(host)
    board.press("finish", hold_ms=10)
    fw.step()
    msgs = host.read()
    assert [m.type for m in msgs] == [M.HELLO, M.HEARTBEAT, M.EVENT]
    assert msgs[0].device_id == "box-7" and msgs[0].fw
    assert msgs[1].time_ms is not None and msgs[1].time_ms <= msgs[2].time_ms
    ev = msgs[2]
    assert (ev.source, ev.code, ev.seq, ev.boot) == (M.SRC_KEY, M.KEY_FINISH, 1, fw.boot)
    host.send(M.Ack(ev.boot, ev.seq))
    fw.step()
    assert fw.proto.ring == []


def test_contact_bounce_counts_once():
    deb = Debouncer(20)
    samples = [(1, 0), (0, 1), (1, 2), (0, 4), (1, 5), (1, 10), (0, 60), (1, 62), (0, 64), (0, 100)]
    presses = sum(deb.sample(level, t) for level, t in samples)
    assert presses == 1


def test_bouncy_key_on_the_board_sends_one_event(host):
    board, fw = make(host, debounce_ms=20)
    board.bounce("next", [(1, 0), (0, 1), (1, 2), (0, 3), (1, 4), (0, 40)])
    fw.step()
    assert [m.type for m in host.read()].count(M.EVENT) == 1


def test_rating_buttons_and_led_window_follow_state(host):
    board, fw = make(host, n_levels=4)
    host.send(M.State(1, "B023", M.STATUS_OPEN, 0b1111, 60000))
    fw.step()
    assert (board.shown, board.leds) == ("B023", 0b1111)
    board.press("rate4", hold_ms=10)
    fw.step()
    ev = [m for m in host.read() if m.type == M.EVENT][0]
    assert (ev.source, ev.code) == (M.SRC_RATING, 4)
    host.send(M.State(2, "    ", M.STATUS_PAUSED, 0, 0))
    fw.step()
    assert (board.shown, board.leds) == ("    ", 0)


def test_beep_from_the_host_sounds_the_buzzer(host):
    board, fw = make(host)
    host.send(M.Beep(M.BEEP_ERROR))
    fw.step()
    assert board.beeps == [M.BEEP_ERROR]


def test_reboot_replays_presses_from_flash(host, tmp_path):
    flash = Flash(str(tmp_path / "ring.bin"))
    board, fw = make(host, flash=flash)
    board.press("next", hold_ms=10)
    fw.step()
    old_boot = fw.boot
    host.read()
    board2 = Board(Flash(str(tmp_path / "ring.bin")), fd=host.master, seed=2)
    fw2 = Firmware(board2, "box-7")
    fw2.step()
    msgs = host.read()
    assert msgs[0].type == M.HELLO and msgs[0].boot != old_boot and msgs[0].pending == 1
    assert [(m.boot, m.seq) for m in msgs[1:] if m.type == M.EVENT] == [(old_boot, 1)]


def test_garbage_from_the_host_is_answered_with_error_not_a_crash(host):
    board, fw = make(host)
    host.read()
    os.write(host.slave, b"\x07\x55\x01\x00" + bytes(range(1, 65)) + b"\x00" + frame(b"\x55\x01"))
    fw.step()
    assert fw.proto.decoder.errors == 2   # two damaged frames counted, not obeyed
    host.send(M.State(1, "A001", M.STATUS_OPEN, 0, 0))
    fw.step()
    assert board.shown == "A001"
    assert any(m.type == M.ERROR for m in host.read())


def test_micropython_files_compile():
    # No MicroPython here: at least every file the board runs is valid syntax.
    for name in ("main.py", "app.py", "hw_rp2040.py"):
        py_compile.compile(str(ROOT / "firmware_bridge" / "firmware" / name), doraise=True)
