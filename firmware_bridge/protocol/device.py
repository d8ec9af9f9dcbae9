"""The box's half of the protocol, without hardware: sequence numbers, the ring
of unacknowledged events (kept in flash across a power cut), retransmit,
replay after HELLO or IDENTIFY, and the host watchdog behind the display.
"""
try:
    import struct
except ImportError:  # very old MicroPython ports only ship ustruct
    import ustruct as struct  # type: ignore

from .framing import FrameDecoder, ProtocolError
from .messages import (ACK, BEEP, BEEP_ERROR, ERR_UNKNOWN_TYPE, ERROR, IDENTIFY, STATE, Error, Event,
                       Heartbeat, Hello, encode, parse)


class Pending:
    """One event in the ring: the press, and when it last went out (for the retransmit timer)."""
    __slots__ = ("boot", "seq", "source", "code", "time_ms", "sent_ms")

    def __init__(self, boot, seq, source, code, time_ms, sent_ms=-1):
        self.boot = boot
        self.seq = seq
        self.source = source
        self.code = code
        self.time_ms = time_ms
        self.sent_ms = sent_ms

    def event(self):
        return Event(self.boot, self.seq, self.source, self.code, self.time_ms)


class DeviceProtocol:
    """The box's half of the protocol, without hardware.

    ``press`` records an event, ``feed`` takes bytes from the host, ``tick``
    runs timers; all three append frames to ``outbox`` for the caller to
    write.  ``store`` (``load() -> bytes``, ``save(bytes)``) keeps the ring of
    unacknowledged events across a power cut, so a press made just before the
    cable is pulled is still delivered after the next boot, under its old
    (boot, seq) name.
    """

    def __init__(self, device_id, boot, store=None, fw="", n_levels=3, ring_size=32,
                 retransmit_ms=500, heartbeat_ms=1000, host_timeout_ms=3000, now_ms=0):
        self.device_id = device_id
        self.boot = boot
        self.fw = fw
        self.n_levels = n_levels
        self.ring_size = ring_size
        self.retransmit_ms = retransmit_ms
        self.heartbeat_ms = heartbeat_ms
        self.host_timeout_ms = host_timeout_ms
        self.store = store
        self.next_seq = 1
        self.ring = []
        self.outbox = []
        self.state = None          # last STATE from the host
        self.state_at = now_ms
        self.host_seen_ms = None   # None until the host said anything
        self.last_hb_ms = now_ms
        self.beeps = []
        self.errors = 0
        self.decoder = FrameDecoder()
        if store is not None:
            self.ring = load_ring(store.load())
        self._send(Hello(device_id, boot, 0, fw, n_levels, len(self.ring)))
        self._replay(now_ms)

    # -- what the box shows
    def host_alive(self, now_ms):
        return self.host_seen_ms is not None and elapsed(now_ms, self.host_seen_ms) < self.host_timeout_ms

    def display(self, now_ms):
        """(text, leds bitmask) to show now: dashes when the host is gone."""
        if not self.host_alive(now_ms) or self.state is None:
            return "----", 0
        leds = self.state.leds
        if leds and elapsed(now_ms, self.state_at) >= self.state.leds_ms:
            leds = 0  # the rating window ends on the box even if the host stops talking
        return self.state.text, leds

    # -- inputs
    def press(self, source, code, now_ms):
        """Record a press; False when the ring is full (the box beeps, nothing is sent)."""
        if len(self.ring) >= self.ring_size:
            self.beeps.append(BEEP_ERROR)
            return False
        p = Pending(self.boot, self.next_seq, source, code, now_ms & 0xFFFFFFFF)
        self.next_seq += 1
        self.ring.append(p)
        self._persist()
        p.sent_ms = now_ms
        self._send(p.event())
        return True

    def feed(self, data, now_ms):
        for body in self.decoder.feed(data):
            try:
                msg = parse(body)
            except ProtocolError as e:
                self.errors += 1
                self._send(Error(ERR_UNKNOWN_TYPE, str(e)))
                continue
            self.host_seen_ms = now_ms
            self._handle(msg, now_ms)

    def _handle(self, msg, now_ms):
        t = msg.type
        if t == ACK:
            for i, p in enumerate(self.ring):
                if p.boot == msg.boot and p.seq == msg.seq:
                    del self.ring[i]
                    self._persist()
                    break
        elif t == STATE:
            self.state = msg
            self.state_at = now_ms
        elif t == IDENTIFY:
            self._send(Hello(self.device_id, self.boot, self.next_seq - 1, self.fw,
                             self.n_levels, len(self.ring)))
            self._replay(now_ms)
        elif t == BEEP:
            self.beeps.append(msg.pattern)
        # HEARTBEAT only refreshes host_seen_ms; ERROR from the host is counted.
        elif t == ERROR:
            self.errors += 1

    def tick(self, now_ms):
        for p in self.ring:
            if elapsed(now_ms, p.sent_ms) >= self.retransmit_ms:
                p.sent_ms = now_ms
                self._send(p.event())
        if elapsed(now_ms, self.last_hb_ms) >= self.heartbeat_ms:
            self.last_hb_ms = now_ms
            self._send(Heartbeat(self.boot, self.next_seq, len(self.ring), now_ms))

    def take_output(self):
        out = b"".join(self.outbox)
        self.outbox = []
        return out

    def _replay(self, now_ms):
        # The clock first: the host learns "now" on this box before the
        # replayed events, so it can tell how old each one is.
        self._send(Heartbeat(self.boot, self.next_seq, len(self.ring), now_ms))
        for p in self.ring:
            p.sent_ms = now_ms
            self._send(p.event())

    def _send(self, msg):
        self.outbox.append(encode(msg))

    def _persist(self):
        if self.store is not None:
            self.store.save(dump_ring(self.ring))


def elapsed(now, then):
    """Milliseconds from ``then`` to ``now`` on the box's clock."""
    # ticks_ms wraps on MicroPython; differences stay right within half the range.
    return (now - then) & 0x3FFFFFFF if now < then else now - then


_RING_FMT = "<IIBBI"
_RING_REC = 14


def dump_ring(ring):
    return b"".join(struct.pack(_RING_FMT, p.boot, p.seq, p.source, p.code, p.time_ms) for p in ring)


def load_ring(raw):
    ring = []
    if not raw:
        return ring
    for i in range(0, len(raw) - len(raw) % _RING_REC, _RING_REC):
        boot, seq, source, code, t = struct.unpack(_RING_FMT, raw[i:i + _RING_REC])
        ring.append(Pending(boot, seq, source, code, t))
    return ring
