"""The reference firmware under CPython behind its hardware shim, against the bridge's serial side.

``firmware/app.py`` (the code the board runs) drives a shim Board on one end
of a real pty; on the other end the bridge's own ``CounterBox`` reads it
through its port, decides through its delivery and answers with its ACKs,
one turn at a time on the test's thread.  Only MQTT is left out: what the
bridge publishes is recorded, and the core's confirmations reach it as paho
would hand them over from ``counter/1/reply``.
"""
from __future__ import annotations

import json
import os
import py_compile
import select
import subprocess
import sys
import time
import tty
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from firmware_bridge.bridge import CounterBox
from firmware_bridge.clocks import monotonic_ms
from firmware_bridge.delivery import event_id
from firmware_bridge.hub import Hub
from firmware_bridge.firmware.app import KEYS, Debouncer, Firmware
from firmware_bridge.firmware.shim import Board, Flash
from firmware_bridge.ledger import Ledger
from firmware_bridge.protocol import device as D
from firmware_bridge.protocol import messages as M
from firmware_bridge.protocol.framing import FrameDecoder, frame
from kiosk import config as site_config
from tests.test_bridge_helpers import write_config

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware_bridge" / "firmware"


def pty_pair() -> tuple[int, int]:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)   # the board's UART never blocks
    return master, slave


class Rig:
    """A box (firmware + shim board, its flash in a file) and the bridge's CounterBox on one pty."""

    def __init__(self, tmp_path: Path, **fw_options):
        self.master, self.slave = pty_pair()
        self.flash = Flash(str(tmp_path / "ring.bin"))
        self.fw_options = {"debounce_ms": 5, **fw_options}
        self.power_on(seed=1)
        path = write_config(tmp_path, None, [{"counter": 1, "port": os.ttyname(self.slave)}])
        cfg = site_config.load(path)
        self.ledger = Ledger(cfg.bridge.state_db)
        self.bridge = CounterBox(cfg, cfg.bridge.devices[0], self.ledger, password="")
        # The bridge's loop, turned by the test in step with the box (no thread).
        self.hub = Hub([self.bridge])
        self.published: list[tuple[str, dict]] = []
        # The broker is out of this test: the bridge's publishes are recorded instead.
        self.bridge.bus.publish = lambda eid, topic, body: self.published.append((topic, dict(body)))

    def power_on(self, seed: int) -> None:
        """A (re)boot: a new board clock and boot id, the same flash."""
        self.board = Board(self.flash, fd=self.master, seed=seed)
        self.fw = Firmware(self.board, "box-7", **self.fw_options)

    def run(self, done, what: str, timeout: float = 10.0) -> None:
        """Box and bridge take turns until ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.fw.step()
            self.hub.turn()

    def idle(self, seconds: float) -> None:
        """Box and bridge take turns for a while, nobody pressing, no core answering."""
        until = time.monotonic() + seconds
        self.run(lambda: time.monotonic() > until, "time to pass")

    def core_confirms(self, published: tuple[str, dict]) -> None:
        """The core's confirmation of a published event, handed to the bridge as paho delivers it."""
        topic, body = published
        if topic.endswith("/command"):
            reply = {"command_id": body["command_id"], "ok": True, "action": body["action"], "counter": 1}
        else:
            reply = {"rating_id": body["rating_id"], "ok": True, "counted": True, "reason": None, "level": None}
        msg = mqtt.MQTTMessage(topic=self.bridge.bus.topics.counter_reply(1).encode())
        msg.payload = json.dumps(reply).encode()
        self.bridge.bus.client.on_message(self.bridge.bus.client, None, msg)

    def ring(self) -> list[tuple[int, int]]:
        return [(p.boot, p.seq) for p in self.fw.proto.ring]

    def close(self) -> None:
        self.bridge.close()
        self.ledger.close()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(**fw_options) -> Rig:
        made.append(Rig(tmp_path, **fw_options))
        return made[-1]

    yield make
    for r in made:
        r.close()


# ------------------------------------------------------------ box and bridge
def test_keys_and_rating_buttons_become_events_acked_only_after_the_core(rig):
    r = rig()
    for key in KEYS:
        r.board.press(key, hold_ms=10)
    for level in (1, 2, 3):
        r.board.press(f"rate{level}", hold_ms=10)
    r.run(lambda: r.published, "the first press published")
    boot = r.fw.boot
    assert r.bridge.port.hello.device_id == "box-7" and r.bridge.port.hello.boot == boot
    assert r.ring() == [(boot, seq) for seq in range(1, 9)]
    for n in range(1, 9):
        r.idle(0.15)
        assert len(r.published) == n          # one at a time: each waits for the one before
        assert r.ring()[0] == (boot, n)       # the box still holds it: nobody confirmed it yet
        r.core_confirms(r.published[-1])
        r.run(lambda: (boot, n) not in r.ring() and (n == 8 or len(r.published) > n),
              f"the ACK of press {n} reaching the box")
    commands = [b for t, b in r.published if t == r.bridge.bus.topics.counter_command(1)]
    ratings = [b for t, b in r.published if t == r.bridge.bus.topics.counter_rating(1)]
    assert [c["action"] for c in commands] == list(KEYS)
    assert [c["command_id"] for c in commands] == [event_id("box-7", boot, seq) for seq in range(1, 6)]
    assert [(b["level"], b["rating_id"]) for b in ratings] == [
        (level, event_id("box-7", boot, 5 + level)) for level in (1, 2, 3)]
    assert all(b["device"] == "box-7" and b["boot"] == boot for _, b in r.published)
    assert r.ring() == [] and D.load_ring(r.flash.load()) == []
    assert r.ledger.count() == 8 and r.bridge.stats["acked"] == 8


def test_a_reboot_replays_what_was_not_acked_under_its_old_name(rig):
    r = rig()
    r.board.press("finish", hold_ms=10)
    r.board.press("rate2", hold_ms=10)
    r.run(lambda: r.published, "finish published")
    first = r.fw.boot
    r.core_confirms(r.published[0])
    r.run(lambda: r.ring() == [(first, 2)] and len(r.published) == 2, "finish acked, the rating published")
    r.idle(0.15)
    assert r.ring() == [(first, 2)]                     # the rating waits for the core
    r.power_on(seed=2)                                  # power cut: the rating is only in flash now
    second = r.fw.boot
    assert second != first and r.ring() == [(first, 2)]
    r.run(lambda: r.bridge.port.hello is not None and r.bridge.port.hello.boot == second, "the new boot's HELLO")
    r.core_confirms(r.published[1])
    r.run(lambda: r.ring() == [], "the replayed rating acked")
    assert len(r.published) == 2                        # replayed, not published again
    # A press after the reboot is the new boot's first.
    r.board.press("next", hold_ms=10)
    r.run(lambda: len(r.published) == 3, "the new press published")
    assert r.published[2][1]["command_id"] == event_id("box-7", second, 1)


def test_an_ack_lost_on_the_wire_is_sent_again_from_the_ledger_after_a_reboot(rig):
    r = rig()
    r.board.press("recall", hold_ms=10)
    r.run(lambda: r.published, "the press published")
    boot = r.fw.boot
    r.core_confirms(r.published[0])
    r.hub.turn()                                        # the ACK goes out...
    while select.select([r.master], [], [], 0.05)[0]:
        os.read(r.master, 4096)                         # ...and never reaches the box
    assert r.ring() == [(boot, 1)] and r.ledger.seen("box-7", boot, 1)
    r.power_on(seed=3)
    r.run(lambda: r.ring() == [], "the replay acked from the ledger")
    assert r.bridge.stats["acked_from_ledger"] == 1 and len(r.published) == 1


def test_heartbeats_carry_the_box_clock_so_a_press_read_late_is_placed_when_made(rig):
    r = rig(heartbeat_ms=50)
    r.run(lambda: r.bridge.port.hello is not None, "HELLO")
    r.idle(0.3)                                         # a few heartbeats
    # The bridge looks away for half a second; the box alone sees the press.
    pressed = monotonic_ms()
    r.board.press("rate1", hold_ms=10)
    away = time.monotonic() + 0.5
    while time.monotonic() < away:
        r.fw.step()
        time.sleep(0.005)
    r.run(lambda: r.published, "the press read late")
    body = r.published[0][1]
    # Read about 500 ms after it was made; placed when it was made, by the box's clock.
    assert body["relay_tx_ms"] - pressed >= 500
    assert pressed - 5 <= body["relay_rx_ms"] < pressed + 150, body["relay_rx_ms"] - pressed


# ------------------------------------------------------------ the box alone
class Host:
    """The host end of a pty, reading and writing real frames."""

    def __init__(self):
        self.master, self.slave = pty_pair()
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


def test_heartbeats_say_the_time_on_the_box(host):
    board, fw = make(host, heartbeat_ms=20)
    host.read()                                   # HELLO and the boot's first HEARTBEAT
    deadline = time.monotonic() + 0.3
    beats = []
    while time.monotonic() < deadline:
        before = board.ticks_ms()
        fw.step()
        after = board.ticks_ms()
        sent = [m.time_ms for m in host.read() if m.type == M.HEARTBEAT]
        assert all(before <= t <= after for t in sent), (before, sent, after)   # the box's clock as it sent it
        beats += sent
        time.sleep(0.005)
    assert len(beats) >= 5
    assert all(later - earlier >= 20 for earlier, later in zip(beats, beats[1:]))


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


# ------------------------------------------------------------ as laid out on the board
BOARD_RUN = """
import os, sys, tty
sys.modules["firmware_bridge"] = None        # not on the board: app.py must find protocol/ itself
sys.path[:0] = [sys.argv[1], sys.argv[2]]    # the board's root: app.py, shim.py, protocol/
import app, shim
assert app.device.__name__ == "protocol.device", app.device.__name__
master, slave = os.openpty()
tty.setraw(slave)
os.set_blocking(master, False)
board = shim.Board(fd=master, seed=5)
fw = app.Firmware(board, "box-9", debounce_ms=5)
board.press("no_show", hold_ms=10)
# The key counts once it is up again, 10 ms later on the board's clock: a
# busy machine may step before that, so step until three frames (HELLO,
# HEARTBEAT, EVENT) are out, or 5 s.
import time
os.set_blocking(slave, False)
deadline = time.monotonic() + 5
out = b""
while out.count(0) < 3 and time.monotonic() < deadline:
    fw.step()
    time.sleep(0.005)
    try:
        out += os.read(slave, 4096)
    except BlockingIOError:
        pass
sys.stdout.write(out.hex())
"""


def test_the_firmware_runs_with_the_protocol_laid_out_as_on_the_board():
    # On the board app.py imports the top-level package protocol/, not firmware_bridge.protocol.
    out = subprocess.run([sys.executable, "-I", "-c", BOARD_RUN, str(FIRMWARE), str(ROOT / "firmware_bridge")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    msgs = [M.parse(b) for b in FrameDecoder().feed(bytes.fromhex(out.stdout))]
    assert [m.type for m in msgs] == [M.HELLO, M.HEARTBEAT, M.EVENT]
    assert msgs[0].device_id == "box-9"
    assert (msgs[2].source, msgs[2].code, msgs[2].seq) == (M.SRC_KEY, M.KEY_NO_SHOW, 1)


def test_the_files_only_the_board_runs_compile():
    # main.py and hw_rp2040.py need machine (no MicroPython here): at least valid syntax.
    for name in ("main.py", "hw_rp2040.py"):
        py_compile.compile(str(FIRMWARE / name), doraise=True)
