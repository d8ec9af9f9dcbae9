"""Messages: what a frame body means, one class per message type.

Fixed little-endian layouts (docs/serial-protocol.md, "Messages"); every
``parse`` checks its layout and ranges and raises ProtocolError saying why,
so a body that passed the CRC but makes no sense is refused, not guessed at.
"""
try:
    import struct
except ImportError:  # very old MicroPython ports only ship ustruct
    import ustruct as struct  # type: ignore

from .framing import ProtocolError, frame

PROTOCOL_VERSION = 1

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
    """One wire frame for a message."""
    return frame(msg.body())
