"""The counter box's board: a Raspberry Pi Pico (RP2040) under MicroPython.

Wiring (change the pin numbers here, nowhere else):
  keys next/recall/no_show/finish/pause -> GP2..GP6 to ground (internal pull-ups)
  rating buttons 1..5                   -> GP7..GP11 to ground
  rating LEDs 1..5                      -> GP12..GP16 through 330 ohm
  TM1637 4-digit display                -> CLK GP17, DIO GP18
  buzzer (passive, PWM)                 -> GP19
The host link is the Pico's own USB CDC port (sys.stdin/sys.stdout), so the
box needs one cable; its USB serial number is the chip's unique id, which is
what /dev/serial/by-id/ names and the udev rule matches.
"""
import os
import select
import sys
import time

import machine

KEY_PINS = (2, 3, 4, 5, 6)
RATE_PINS = (7, 8, 9, 10, 11)
LED_PINS = (12, 13, 14, 15, 16)
TM_CLK, TM_DIO = 17, 18
BUZZER = 19
RING_FILE = "ring.bin"

# 7-segment patterns (bit 0 = segment a); the number display only needs
# digits, the ticket prefix letters and a dash.
SEGMENTS = {
    "0": 0x3F, "1": 0x06, "2": 0x5B, "3": 0x4F, "4": 0x66, "5": 0x6D, "6": 0x7D, "7": 0x07,
    "8": 0x7F, "9": 0x6F, "A": 0x77, "B": 0x7C, "C": 0x39, "D": 0x5E, "E": 0x79, "F": 0x71,
    "G": 0x3D, "H": 0x76, "L": 0x38, "P": 0x73, "U": 0x3E, "-": 0x40, " ": 0x00,
}


class Flash:
    def load(self):
        try:
            with open(RING_FILE, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def save(self, data):
        # littlefs renames atomically: a power cut leaves the old ring or the new one
        with open(RING_FILE + ".tmp", "wb") as f:
            f.write(data)
        os.rename(RING_FILE + ".tmp", RING_FILE)


class TM1637:
    """Bit-banged TM1637 driver (two wires, not I2C)."""

    def __init__(self, clk, dio):
        self.clk = machine.Pin(clk, machine.Pin.OUT, value=1)
        self.dio = machine.Pin(dio, machine.Pin.OUT, value=1)

    def _start(self):
        self.dio(0)
        self.clk(0)

    def _stop(self):
        self.dio(0)
        self.clk(1)
        self.dio(1)

    def _byte(self, b):
        for _ in range(8):
            self.clk(0)
            self.dio(b & 1)
            b >>= 1
            self.clk(1)
        self.clk(0)
        self.clk(1)  # the chip's ACK bit, not checked: nothing to do if it fails
        self.clk(0)

    def show(self, text):
        segs = [SEGMENTS.get(c, 0x40) for c in (text + "    ")[:4]]
        self._start(); self._byte(0x40); self._stop()          # auto-increment mode
        self._start(); self._byte(0xC0)
        for s in segs:
            self._byte(s)
        self._stop()
        self._start(); self._byte(0x88 | 4); self._stop()      # display on, mid brightness


class Board:
    def __init__(self, n_levels=3):
        self.flash = Flash()
        names = ("recall", "no_show", "finish", "pause")
        self.keys = [(n, machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP))
                     for n, p in zip(("next",) + names, KEY_PINS)]
        self.keys += [("rate%d" % (i + 1), machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP))
                      for i, p in enumerate(RATE_PINS[:n_levels])]
        self.leds = [machine.Pin(p, machine.Pin.OUT, value=0) for p in LED_PINS[:n_levels]]
        self.tm = TM1637(TM_CLK, TM_DIO)
        self.pwm = machine.PWM(machine.Pin(BUZZER))
        self.pwm.duty_u16(0)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._beep_until = 0

    def ticks_ms(self):
        return time.ticks_ms()

    def random32(self):
        b = os.urandom(4)
        return (b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24) or 1

    def serial_read(self):
        data = b""
        while self._poll.poll(0) and len(data) < 256:
            data += self._in.read(1)
        return data

    def serial_write(self, data):
        self._out.write(data)

    def poll_inputs(self):
        now = time.ticks_ms()
        # pins read 0 when pressed (pull-up, key to ground)
        if time.ticks_diff(now, self._beep_until) >= 0:
            self.pwm.duty_u16(0)
        return [(name, 1 - pin.value(), now) for name, pin in self.keys]

    def show(self, text):
        self.tm.show(text)

    def set_leds(self, mask):
        for i, led in enumerate(self.leds):
            led.value((mask >> i) & 1)

    def beep(self, pattern):
        self.pwm.freq(2000 if pattern == 1 else 400)
        self.pwm.duty_u16(20000)
        self._beep_until = time.ticks_add(time.ticks_ms(), 80 if pattern == 1 else 400)

    def log(self, text):
        pass  # stdout is the protocol link; a log line there would corrupt frames
