"""The serial protocol between a counter box and the bridge (docs/serial-protocol.md).

Pure: bytes in, bytes and messages out, time passed in by the caller.  The
same file runs on the box under MicroPython (copied next to ``main.py``) and
on the host under CPython, so it uses only what both have: ``struct``,
classes, bytes and lists (no dataclasses, enum or typing at run time).

Three parts:
- framing: COBS-encoded body, 0x00 delimiter, CRC-16/CCITT-FALSE trailer;
- messages: fixed little-endian layouts, one class per message type;
- ``DeviceProtocol``: the box's side (sequence numbers, the ring of
  unacknowledged events, retransmit, replay after HELLO, host watchdog).
"""
try:
    import struct
except ImportError:  # very old MicroPython ports only ship ustruct
    import ustruct as struct  # type: ignore

PROTOCOL_VERSION = 1
MAX_BODY = 64           # type + payload + CRC; keeps a frame inside one 64-byte USB packet
MAX_FRAME = MAX_BODY + 2  # COBS adds at most one byte per 254, plus the delimiter

# message types
HELLO = 0x01
EVENT = 0x02
ACK = 0x03
STATE = 0x04
HEARTBEAT = 0x05
IDENTIFY = 0x06
ERROR = 0x07
BEEP = 0x08

# EVENT sources
SRC_KEY = 1
SRC_RATING = 2

# key codes on the keypad (Gọi tiếp / Gọi lại / Vắng mặt / Hoàn thành / Tạm nghỉ)
KEY_NEXT = 1
KEY_RECALL = 2
KEY_NO_SHOW = 3
KEY_FINISH = 4
KEY_PAUSE = 5
KEY_NAMES = {KEY_NEXT: "next", KEY_RECALL: "recall", KEY_NO_SHOW: "no_show",
             KEY_FINISH: "finish", KEY_PAUSE: "pause"}
KEY_CODES = {v: k for k, v in KEY_NAMES.items()}

# counter status in STATE
STATUS_OPEN = 0
STATUS_PAUSED = 1
STATUS_CLOSED = 2
STATUS_UNKNOWN = 3   # the host has no state for this counter (core not heard yet)
STATUS_NAMES = {STATUS_OPEN: "open", STATUS_PAUSED: "paused", STATUS_CLOSED: "closed",
                STATUS_UNKNOWN: "unknown"}

# ERROR codes
ERR_BAD_FRAME = 1
ERR_UNKNOWN_TYPE = 2
ERR_RING_FULL = 3
ERR_BAD_STATE = 4

BEEP_OK = 1
BEEP_ERROR = 2


class ProtocolError(ValueError):
    """A frame or message that does not follow the protocol; the text says why."""


# ------------------------------------------------------------------ CRC + COBS
def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); check value of b"123456789" is 0x29B1."""
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def cobs_encode(data):
    out = bytearray()
    code_pos = 0
    out.append(0)
    code = 1
    for b in data:
        if b == 0:
            out[code_pos] = code
            code_pos = len(out)
            out.append(0)
            code = 1
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_pos] = code
                code_pos = len(out)
                out.append(0)
                code = 1
    out[code_pos] = code
    return bytes(out)


def cobs_decode(data):
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ProtocolError("zero byte inside a COBS block")
        i += 1
        end = i + code - 1
        if end > n:
            raise ProtocolError("COBS block runs past the end of the frame")
        out.extend(data[i:end])
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


def frame(body):
    """One wire frame for a message body (type + payload)."""
    if len(body) + 2 > MAX_BODY:
        raise ProtocolError("message body of %d bytes is over the limit" % len(body))
    crc = crc16(body)
    return cobs_encode(bytes(body) + bytes(((crc >> 8) & 0xFF, crc & 0xFF))) + b"\x00"


def unframe(raw):
    """Body (type + payload) of one frame without its delimiter; ProtocolError if damaged."""
    if not raw:
        raise ProtocolError("empty frame")
    data = cobs_decode(raw)
    if len(data) < 3:
        raise ProtocolError("frame of %d bytes is too short" % len(data))
    body = data[:-2]
    got = (data[-2] << 8) | data[-1]
    if crc16(body) != got:
        raise ProtocolError("CRC mismatch")
    return body


class FrameDecoder:
    """Cuts a byte stream into message bodies.

    Every 0x00 ends a frame, so after garbage or a cable pulled mid-frame the
    decoder is back in step at the next delimiter: the damaged frame fails
    its CRC and is counted, never delivered.
    """

    def __init__(self):
        self._buf = bytearray()
        self._overflow = False
        self.frames = 0
        self.errors = 0
        self.last_error = ""

    def reset(self):
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data):
        """Bodies of the complete, valid frames in ``data`` (a list, maybe empty)."""
        bodies = []
        for b in data:
            if b != 0:
                if len(self._buf) >= MAX_FRAME:
                    self._overflow = True
                else:
                    self._buf.append(b)
                continue
            raw = bytes(self._buf)
            overflow = self._overflow
            self.reset()
            if not raw and not overflow:
                continue  # back-to-back delimiters: a sender flushing a line
            if overflow:
                self._error("frame longer than %d bytes dropped" % MAX_FRAME)
                continue
            try:
                bodies.append(unframe(raw))
                self.frames += 1
            except ProtocolError as e:
                self._error(str(e))
        return bodies

    def _error(self, text):
        self.errors += 1
        self.last_error = text


# ------------------------------------------------------------------ messages
def _text(b):
    return bytes(b).decode("ascii")


def _pack_str(s, limit):
    raw = s.encode("ascii") if isinstance(s, str) else bytes(s)
    if len(raw) > limit:
        raise ProtocolError("text %r is longer than %d bytes" % (s, limit))
    return bytes((len(raw),)) + raw


def _unpack_str(p, i):
    if i >= len(p):
        raise ProtocolError("text length missing")
    n = p[i]
    if i + 1 + n > len(p):
        raise ProtocolError("text runs past the end of the message")
    try:
        return _text(p[i + 1:i + 1 + n]), i + 1 + n
    except (UnicodeError, ValueError):
        raise ProtocolError("text is not ASCII")


class Hello:
    """Box -> host, at boot and in answer to IDENTIFY."""
    type = HELLO

    def __init__(self, device_id, boot, last_seq, fw="", n_levels=3, pending=0, proto=PROTOCOL_VERSION):
        self.device_id = device_id
        self.boot = boot
        self.last_seq = last_seq
        self.fw = fw
        self.n_levels = n_levels
        self.pending = pending
        self.proto = proto

    def body(self):
        return (struct.pack("<BBIIBB", HELLO, self.proto, self.boot, self.last_seq,
                            self.n_levels, self.pending)
                + _pack_str(self.device_id, 16) + _pack_str(self.fw, 16))

    @classmethod
    def parse(cls, p):
        if len(p) < 13:
            raise ProtocolError("HELLO too short")
        _, proto, boot, last_seq, n_levels, pending = struct.unpack("<BBIIBB", p[:12])
        dev, i = _unpack_str(p, 12)
        fw, i = _unpack_str(p, i)
        if i != len(p):
            raise ProtocolError("HELLO has trailing bytes")
        if not dev:
            raise ProtocolError("HELLO without a device id")
        return cls(dev, boot, last_seq, fw, n_levels, pending, proto)


class Event:
    """Box -> host: one key or rating press, identified by (device, boot, seq)."""
    type = EVENT
    _fmt = "<BIIBBI"

    def __init__(self, boot, seq, source, code, time_ms):
        self.boot = boot
        self.seq = seq
        self.source = source
        self.code = code
        self.time_ms = time_ms

    def body(self):
        return struct.pack(self._fmt, EVENT, self.boot, self.seq, self.source, self.code, self.time_ms)

    @classmethod
    def parse(cls, p):
        if len(p) != 15:
            raise ProtocolError("EVENT must be 15 bytes, got %d" % len(p))
        _, boot, seq, source, code, t = struct.unpack(cls._fmt, p)
        if source == SRC_KEY and code not in KEY_NAMES:
            raise ProtocolError("EVENT with unknown key code %d" % code)
        if source == SRC_RATING and not 1 <= code <= 5:
            raise ProtocolError("EVENT with rating level %d outside 1..5" % code)
        if source not in (SRC_KEY, SRC_RATING):
            raise ProtocolError("EVENT with unknown source %d" % source)
        if seq == 0:
            raise ProtocolError("EVENT with sequence 0")
        return cls(boot, seq, source, code, t)


class Ack:
    """Host -> box: (boot, seq) is delivered; the box may forget it."""
    type = ACK

    def __init__(self, boot, seq):
        self.boot = boot
        self.seq = seq

    def body(self):
        return struct.pack("<BII", ACK, self.boot, self.seq)

    @classmethod
    def parse(cls, p):
        if len(p) != 9:
            raise ProtocolError("ACK must be 9 bytes")
        _, boot, seq = struct.unpack("<BII", p)
        return cls(boot, seq)


class State:
    """Host -> box: everything the box shows, whole, never a delta."""
    type = STATE
    _fmt = "<BI4sBBH"

    def __init__(self, version, text, status, leds, leds_ms):
        self.version = version
        self.text = text
        self.status = status
        self.leds = leds
        self.leds_ms = leds_ms

    def body(self):
        raw = self.text.encode("ascii")
        if len(raw) > 4:
            raise ProtocolError("display text %r is longer than 4 characters" % self.text)
        raw = raw + b" " * (4 - len(raw))
        return struct.pack(self._fmt, STATE, self.version, raw, self.status, self.leds,
                           min(self.leds_ms, 0xFFFF))

    @classmethod
    def parse(cls, p):
        if len(p) != 13:
            raise ProtocolError("STATE must be 13 bytes, got %d" % len(p))
        _, version, raw, status, leds, leds_ms = struct.unpack(cls._fmt, p)
        if status not in STATUS_NAMES:
            raise ProtocolError("STATE with unknown status %d" % status)
        try:
            text = _text(raw)
        except (UnicodeError, ValueError):
            raise ProtocolError("STATE text is not ASCII")
        return cls(version, text, status, leds, leds_ms)


class Heartbeat:
    """Both ways, about once a second: 'I am here'; the box adds its ring fill
    and its clock (ms since boot), so the host can tell how long ago an event
    it receives late was pressed.  A 10-byte HEARTBEAT (no clock) is still read."""
    type = HEARTBEAT

    def __init__(self, boot=0, next_seq=0, pending=0, time_ms=None):
        self.boot = boot
        self.next_seq = next_seq
        self.pending = pending
        self.time_ms = time_ms

    def body(self):
        head = struct.pack("<BIIB", HEARTBEAT, self.boot, self.next_seq, self.pending)
        if self.time_ms is None:
            return head
        return head + struct.pack("<I", self.time_ms & 0xFFFFFFFF)

    @classmethod
    def parse(cls, p):
        if len(p) not in (10, 14):
            raise ProtocolError("HEARTBEAT must be 10 or 14 bytes")
        _, boot, next_seq, pending = struct.unpack("<BIIB", p[:10])
        time_ms = struct.unpack("<I", p[10:])[0] if len(p) == 14 else None
        return cls(boot, next_seq, pending, time_ms)


class Identify:
    """Host -> box: answer with HELLO and replay every unacknowledged event."""
    type = IDENTIFY

    def body(self):
        return bytes((IDENTIFY,))

    @classmethod
    def parse(cls, p):
        if len(p) != 1:
            raise ProtocolError("IDENTIFY has no payload")
        return cls()


class Error:
    """Both ways: something the other side should log."""
    type = ERROR

    def __init__(self, code, text=""):
        self.code = code
        self.text = text

    def body(self):
        return bytes((ERROR, self.code)) + _pack_str(self.text[:40], 40)

    @classmethod
    def parse(cls, p):
        if len(p) < 3:
            raise ProtocolError("ERROR too short")
        text, i = _unpack_str(p, 2)
        if i != len(p):
            raise ProtocolError("ERROR has trailing bytes")
        return cls(p[1], text)


class Beep:
    """Host -> box: sound the buzzer (the core refused a key, for instance)."""
    type = BEEP

    def __init__(self, pattern):
        self.pattern = pattern

    def body(self):
        return bytes((BEEP, self.pattern))

    @classmethod
    def parse(cls, p):
        if len(p) != 2:
            raise ProtocolError("BEEP must be 2 bytes")
        return cls(p[1])


_PARSERS = {HELLO: Hello, EVENT: Event, ACK: Ack, STATE: State, HEARTBEAT: Heartbeat,
            IDENTIFY: Identify, ERROR: Error, BEEP: Beep}


def parse(body):
    """The message in a frame body; ProtocolError for an unknown type or bad layout."""
    if not body:
        raise ProtocolError("empty message")
    cls = _PARSERS.get(body[0])
    if cls is None:
        raise ProtocolError("unknown message type 0x%02x" % body[0])
    try:
        return cls.parse(bytes(body))
    except ProtocolError:
        raise
    except (ValueError, IndexError) as e:  # struct.error is a ValueError subclass on CPython
        raise ProtocolError("%s: %s" % (cls.__name__.upper(), e))


def encode(msg):
    return frame(msg.body())


# ------------------------------------------------------------------ box side
class Pending:
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
        return self.host_seen_ms is not None and _elapsed(now_ms, self.host_seen_ms) < self.host_timeout_ms

    def display(self, now_ms):
        """(text, leds bitmask) to show now: dashes when the host is gone."""
        if not self.host_alive(now_ms) or self.state is None:
            return "----", 0
        leds = self.state.leds
        if leds and _elapsed(now_ms, self.state_at) >= self.state.leds_ms:
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
            if _elapsed(now_ms, p.sent_ms) >= self.retransmit_ms:
                p.sent_ms = now_ms
                self._send(p.event())
        if _elapsed(now_ms, self.last_hb_ms) >= self.heartbeat_ms:
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


def _elapsed(now, then):
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
