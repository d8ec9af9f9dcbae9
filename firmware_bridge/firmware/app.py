"""The counter box's firmware logic, the same on the board and under CPython.

``Firmware.step()`` is one turn of the main loop: read the serial port,
sample keys and rating buttons, run the protocol timers, write frames, and
drive the number display, LEDs and buzzer.  All hardware goes through a
``board`` object: ``hw_rp2040.Board`` on the box, ``shim.Board`` in tests
and the simulator.  Nothing here blocks, so one loop serves everything.
"""
try:
    from firmware_bridge.protocol import device, messages
except ImportError:  # on the board the protocol package sits next to this file
    from protocol import device, messages  # type: ignore

FW_VERSION = "1.0.0"

# Inputs by name, in the order a board lists its pins.
KEYS = ("next", "recall", "no_show", "finish", "pause")


class Debouncer:
    """Lock-out debounce: the first edge counts at once, edges within
    ``debounce_ms`` after it are contact bounce.  Reacting on the first edge
    keeps the press-to-call latency at one loop turn instead of a settle time."""

    def __init__(self, debounce_ms):
        self.debounce_ms = debounce_ms
        self.level = 0
        self.edge_ms = None

    def sample(self, level, t_ms):
        """True when this sample is an accepted press (released -> pressed)."""
        if level == self.level:
            return False
        if self.edge_ms is not None and device.elapsed(t_ms, self.edge_ms) < self.debounce_ms:
            return False
        self.level = level
        self.edge_ms = t_ms
        return level == 1


class Firmware:
    def __init__(self, board, device_id, n_levels=3, debounce_ms=20, ring_size=32,
                 retransmit_ms=500, heartbeat_ms=1000, host_timeout_ms=3000):
        self.board = board
        now = board.ticks_ms()
        self.proto = device.DeviceProtocol(
            device_id, board.random32(), store=board.flash, fw=FW_VERSION, n_levels=n_levels,
            ring_size=ring_size, retransmit_ms=retransmit_ms, heartbeat_ms=heartbeat_ms,
            host_timeout_ms=host_timeout_ms, now_ms=now)
        self.inputs = {}
        for i, name in enumerate(KEYS):
            self.inputs[name] = (messages.SRC_KEY, i + 1, Debouncer(debounce_ms))
        for level in range(1, n_levels + 1):
            self.inputs["rate%d" % level] = (messages.SRC_RATING, level, Debouncer(debounce_ms))
        self._shown = None
        # Told of every accepted press as (boot, seq, source, code); the
        # simulator uses it to know what the host must deliver.
        self.on_press = None
        self._flush()

    @property
    def boot(self):
        return self.proto.boot

    def step(self):
        board = self.board
        now = board.ticks_ms()
        data = board.serial_read()
        if data:
            self.proto.feed(data, now)
        for name, level, t in board.poll_inputs():
            entry = self.inputs.get(name)
            if entry is None:
                continue
            source, code, deb = entry
            if not deb.sample(level, t):
                continue
            if self.proto.press(source, code, now):
                if self.on_press is not None:
                    self.on_press(self.proto.boot, self.proto.next_seq - 1, source, code)
            else:
                board.log("ring full, press of %s refused" % name)
        self.proto.tick(now)
        self._flush()
        shown = self.proto.display(now)
        if shown != self._shown:
            self._shown = shown
            board.show(shown[0])
            board.set_leds(shown[1])
        while self.proto.beeps:
            board.beep(self.proto.beeps.pop(0))

    def _flush(self):
        out = self.proto.take_output()
        if out:
            self.board.serial_write(out)
