"""Framing: a COBS-encoded body, a 0x00 delimiter, a CRC-16/CCITT-FALSE trailer.

Bytes in, message bodies (type + payload) out, and back; what a body means
is ``messages``' business.
"""
MAX_BODY = 64           # type + payload + CRC; keeps a frame inside one 64-byte USB packet
MAX_FRAME = MAX_BODY + 2  # COBS adds at most one byte per 254, plus the delimiter


class ProtocolError(ValueError):
    """A frame or message that does not follow the protocol; the text says why."""


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
