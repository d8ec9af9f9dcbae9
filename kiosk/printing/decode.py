"""ESC/POS bytes -> operations -> a picture of the paper.

Handles what this project (and python-escpos) emits: text with code pages
(TCVN-3 included), ESC ! / GS ! sizes, bold, inverse, alignment, feeds,
GS v 0 rasters, native QR (GS ( k, drawn with the ``qrcode`` library), cut
and DLE EOT status requests.  Anything else is a DecodeError naming the
byte offset, so a renderer bug cannot hide in a picture that looks fine.

Used by the printer simulator (incrementally, through ``StreamParser``) and
by tests that compare decoded rasters with what Pillow drew.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import qrcode

from kiosk.printing import load_escpos

load_escpos()     # before python-escpos itself (kiosk/printing/__init__.py)
from escpos.capabilities import get_profile
from escpos.codepages import CodePages
from PIL import Image, ImageDraw, ImageFont

from . import fonts

ESC, GS, DLE, LF, CR = 0x1B, 0x1D, 0x10, 0x0A, 0x0D


# ESC/POS raster bits are 1 for ink; PIL's mode "1" is 0 for black.
_INVERT = bytes(range(255, -1, -1))


class DecodeError(ValueError):
    pass


class _NeedMore(Exception):
    """The buffer ends inside a command; wait for more bytes."""


@dataclass
class Style:
    align: int = 0
    bold: bool = False
    underline: int = 0
    font_b: bool = False
    width: int = 1
    height: int = 1
    invert: bool = False
    codepage: int = 0
    line_spacing: int = 30


@dataclass
class Run:
    text: str
    width: int
    height: int
    bold: bool
    invert: bool
    font_b: bool
    codepage: str


@dataclass
class TextLine:
    runs: list[Run]
    align: str
    line_spacing: int

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@dataclass
class Raster:
    image: Image.Image  # mode "1", PIL convention (0 = black)
    align: str
    density: int


@dataclass
class QrCode:
    data: str
    module: int
    ec: str
    align: str


@dataclass
class Feed:
    dots: int


@dataclass
class Cut:
    partial: bool


@dataclass
class StatusRequest:
    n: int


Op = TextLine | Raster | QrCode | Feed | Cut | StatusRequest
ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


@lru_cache(maxsize=None)
def _slots() -> dict[int, str]:
    return {int(k): v for k, v in get_profile("default").codePages.items()}


@lru_cache(maxsize=None)
def codepage_table(slot: int) -> tuple[str, list[str]]:
    """Name and the 128 characters of bytes 0x80-0xFF for an ESC t slot."""
    name = _slots().get(slot)
    if name is None:
        raise DecodeError(f"ESC t {slot}: no such code page slot")
    enc = CodePages.get_encoding(name)
    if "data" in enc:
        chars = list("".join(enc["data"]))
        if name == "TCVN-3-2":
            # Same fix as the renderer: TCVN-3 byte 0xA7 is Đ, not Icelandic Ð.
            chars = ["Đ" if c == "Ð" else c for c in chars]
        return name, chars
    codec = enc.get("python_encode")
    if not codec:
        raise DecodeError(f"ESC t {slot}: code page {name} has no known table")
    chars = []
    for b in range(128, 256):
        try:
            chars.append(bytes([b]).decode(codec))
        except UnicodeDecodeError:
            chars.append("\ufffd")
    return name, chars


class StreamParser:
    """Incremental ESC/POS parser: feed bytes, get complete operations."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.offset = 0  # of buf[0] within the whole stream, for error messages
        self.style = Style()
        self.runs: list[Run] = []
        self.line_align = 0
        # Stream offset just after each op returned by the last feed().
        self.ends: list[int] = []

    def feed(self, data: bytes) -> list[Op]:
        self.buf += data
        ops: list[Op] = []
        self.ends = []
        pos = 0
        while pos < len(self.buf):
            try:
                pos = self._one(pos, ops)
            except _NeedMore:
                break
            self.ends += [self.offset + pos] * (len(ops) - len(self.ends))
        del self.buf[:pos]
        self.offset += pos
        return ops

    @property
    def pending(self) -> int:
        return len(self.buf)

    def _need(self, pos: int, n: int) -> None:
        if pos + n > len(self.buf):
            raise _NeedMore

    def _end_line(self, ops: list[Op]) -> None:
        s = self.style
        if self.runs:
            ops.append(TextLine(self.runs, ALIGN.get(self.line_align, "left"), s.line_spacing))
        else:
            ops.append(Feed(max(s.line_spacing, 24 * s.height if not s.font_b else 17 * s.height)))
        self.runs = []

    def _text(self, raw: bytes) -> None:
        s = self.style
        name, table = codepage_table(s.codepage)
        text = "".join(chr(b) if b < 0x80 else table[b - 0x80] for b in raw)
        if not self.runs:
            self.line_align = s.align
        self.runs.append(Run(text, s.width, s.height, s.bold, s.invert, s.font_b, name))

    def _one(self, pos: int, ops: list[Op]) -> int:
        b = self.buf
        c = b[pos]
        s = self.style
        at = self.offset + pos
        if c >= 0x20:
            end = pos
            while end < len(b) and b[end] >= 0x20:
                end += 1
            self._text(bytes(b[pos:end]))
            return end
        if c == LF:
            self._end_line(ops)
            return pos + 1
        if c == CR:
            return pos + 1
        if c == DLE:
            self._need(pos, 3)
            if b[pos + 1] == 0x04:
                ops.append(StatusRequest(b[pos + 2]))
                return pos + 3
            raise DecodeError(f"byte {at}: unsupported DLE command 0x{b[pos + 1]:02x}")
        if c == ESC:
            self._need(pos, 2)
            cmd = chr(b[pos + 1])
            if cmd == "@":
                self.style = Style()
                self.runs = []
                return pos + 2
            if cmd == "2":
                s.line_spacing = 30
                return pos + 2
            self._need(pos, 3)
            n = b[pos + 2]
            if cmd == "a":
                s.align = n
            elif cmd in "EG":
                s.bold = bool(n & 1)
            elif cmd == "-":
                s.underline = n & 3
            elif cmd == "M":
                s.font_b = bool(n & 1)
            elif cmd == "!":
                s.font_b = bool(n & 0x01)
                s.bold = bool(n & 0x08)
                s.height = 2 if n & 0x10 else 1
                s.width = 2 if n & 0x20 else 1
                s.underline = 1 if n & 0x80 else 0
            elif cmd == "t":
                codepage_table(n)
                s.codepage = n
            elif cmd == "3":
                s.line_spacing = n
            elif cmd == "J":
                if self.runs:
                    self._end_line(ops)
                ops.append(Feed(n))
            elif cmd == "d":
                if self.runs:
                    self._end_line(ops)
                ops.append(Feed(n * s.line_spacing))
            elif cmd in "{b":
                pass
            else:
                raise DecodeError(f"byte {at}: unsupported command ESC {cmd!r}")
            return pos + 3
        if c == GS:
            self._need(pos, 3)
            cmd = chr(b[pos + 1])
            n = b[pos + 2]
            if cmd == "!":
                s.width = (n >> 4) + 1
                s.height = (n & 0x0F) + 1
                return pos + 3
            if cmd == "B":
                s.invert = bool(n & 1)
                return pos + 3
            if cmd in "b|":
                return pos + 3
            if cmd == "V":
                if n in (0, 1, 48, 49):
                    ops.append(Cut(partial=n in (1, 49)))
                    return pos + 3
                if n in (65, 66):
                    self._need(pos, 4)
                    ops.append(Feed(b[pos + 3]))
                    ops.append(Cut(partial=n == 66))
                    return pos + 4
                raise DecodeError(f"byte {at}: GS V with unknown mode {n}")
            if cmd == "v":
                self._need(pos, 8)
                if n not in (0, 48):
                    raise DecodeError(f"byte {at}: GS v {n} is not GS v 0")
                m = b[pos + 3]
                w = b[pos + 4] | b[pos + 5] << 8
                h = b[pos + 6] | b[pos + 7] << 8
                if w == 0 or h == 0:
                    raise DecodeError(f"byte {at}: GS v 0 with an empty {w}x{h} image")
                self._need(pos, 8 + w * h)
                data = bytes(b[pos + 8 : pos + 8 + w * h])
                img = Image.frombytes("1", (w * 8, h), data.translate(_INVERT))
                if self.runs:
                    self._end_line(ops)
                ops.append(Raster(img, ALIGN.get(s.align, "left"), m & 3))
                return pos + 8 + w * h
            if cmd == "(":
                self._need(pos, 5)
                ln = b[pos + 3] | b[pos + 4] << 8
                self._need(pos, 5 + ln)
                body = bytes(b[pos + 5 : pos + 5 + ln])
                if chr(n) == "k":
                    self._qr(body, ops, at)
                elif chr(n) != "L":
                    raise DecodeError(f"byte {at}: unsupported command GS ( {chr(n)!r}")
                return pos + 5 + ln
            raise DecodeError(f"byte {at}: unsupported command GS {cmd!r}")
        raise DecodeError(f"byte {at}: unexpected control byte 0x{c:02x}")

    # GS ( k: cn=49 is QR; fn 65 model, 67 module size, 69 EC level, 80 store, 81 print.
    def _qr(self, body: bytes, ops: list[Op], at: int) -> None:
        if len(body) < 2 or body[0] != 49:
            raise DecodeError(f"byte {at}: GS ( k for a 2-D code other than QR")
        fn = body[1]
        q = getattr(self, "_qr_state", None) or {"module": 3, "ec": "L", "data": b""}
        if fn == 67:
            q["module"] = body[2]
        elif fn == 69:
            q["ec"] = "LMQH"[body[2] - 48]
        elif fn == 80:
            q["data"] = body[3:]
        elif fn == 81:
            ops.append(QrCode(q["data"].decode("utf-8"), q["module"], q["ec"], ALIGN.get(self.style.align, "left")))
        self._qr_state = q


def parse(data: bytes) -> list[Op]:
    """Every operation in a complete job; a truncated job is an error."""
    p = StreamParser()
    ops = p.feed(data)
    if p.pending:
        raise DecodeError(f"byte {p.offset}: job ends inside a command ({p.pending} bytes left)")
    if p.runs:
        p._end_line(ops)
    return ops


# -- drawing -----------------------------------------------------------------
@lru_cache(maxsize=4096)
def _glyph(ch: str, bold: bool, font_b: bool) -> Image.Image:
    cw, chh = (9, 17) if font_b else (12, 24)
    font = _mono(bold, 12 if font_b else 17)
    # Vietnamese stacked marks (ầ, ẫ) stick out right of the letter in most
    # fonts; draw wide, then squeeze into the cell as a printer's ROM font is.
    wide = Image.new("L", (cw * 2, chh), 255)
    ImageDraw.Draw(wide).text((cw / 2, chh * 0.8), ch, font=font, fill=0, anchor="ms")
    box = Image.eval(wide, lambda v: 255 - v).getbbox()
    if box is None or box[2] <= cw:
        return wide.crop((0, 0, cw, chh))
    left = min(box[0], cw // 2 - 1)
    return wide.crop((left, 0, box[2], chh)).resize((cw, chh), Image.LANCZOS)


@lru_cache(maxsize=8)
def _mono(bold: bool, px: int) -> ImageFont.FreeTypeFont:
    path = fonts.MONO[0] if bold else fonts.MONO[1]
    return ImageFont.truetype(path, px)


def qr_image(data: str, module: int, ec: str) -> Image.Image:
    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    q = qrcode.QRCode(box_size=module, border=0, error_correction=levels[ec])
    q.add_data(data)
    q.make(fit=True)
    return q.make_image().get_image().convert("L")


def _line_image(line: TextLine) -> Image.Image:
    cells = []
    for r in line.runs:
        cw, chh = (9, 17) if r.font_b else (12, 24)
        for ch in r.text:
            g = _glyph(ch, r.bold, r.font_b)
            if r.invert:
                g = Image.eval(g, lambda v: 255 - v)
            cells.append(g.resize((cw * r.width, chh * r.height), Image.NEAREST))
    width = sum(c.width for c in cells)
    height = max([c.height for c in cells] + [line.line_spacing])
    img = Image.new("L", (max(width, 1), height), 255)
    x = 0
    for c in cells:
        img.paste(c, (x, height - c.height))
        x += c.width
    return img


FRAME = 12  # grey border, in dots, around the paper in a decoded picture


def to_image(ops: list[Op], width: int = 576, *, frame: bool = True) -> Image.Image:
    """Draw the paper: what the printer would print for these operations.

    The picture is ``width`` dots wide plus a grey ``FRAME`` on each side
    (when ``frame``).  Anything wider than the paper is a DecodeError: the
    printer would lose its right-hand part, and a cropped picture would hide
    that.
    """
    placed: list[tuple[Image.Image, str]] = []
    cuts: list[int] = []
    y = 0
    for op in ops:
        if isinstance(op, TextLine):
            im, align = _line_image(op), op.align
            if im.width > width:
                text = "".join(r.text for r in op.runs)
                raise DecodeError(f"text {text!r} is {im.width} dots wide, wider than the {width}-dot paper")
        elif isinstance(op, Raster):
            im, align = op.image.convert("L"), op.align
            sx, sy = (2 if op.density & 1 else 1), (2 if op.density & 2 else 1)
            if (sx, sy) != (1, 1):
                im = im.resize((im.width * sx, im.height * sy), Image.NEAREST)
        elif isinstance(op, QrCode):
            im, align = qr_image(op.data, op.module, op.ec), op.align
        elif isinstance(op, Feed):
            im, align = Image.new("L", (1, max(op.dots, 0) or 1), 255), "left"
        elif isinstance(op, Cut):
            cuts.append(y)
            continue
        else:
            continue
        if im.width > width:
            raise DecodeError(f"a {type(op).__name__.lower()} {im.width} dots wide is wider than the {width}-dot paper")
        placed.append((im, align))
        y += im.height
    margin = FRAME if frame else 0
    page = Image.new("L", (width + 2 * margin, y + 2 * margin), 200 if frame else 255)
    page.paste(255, (margin, margin, margin + width, margin + y))
    y = margin
    for im, align in placed:
        im = im.crop((0, 0, min(im.width, width), im.height))
        x = margin + {"left": 0, "center": (width - im.width) // 2, "right": width - im.width}[align]
        page.paste(im, (x, y))
        y += im.height
    draw = ImageDraw.Draw(page)
    for cy in cuts:
        for x in range(0, page.width, 12):
            draw.line((x, margin + cy, x + 6, margin + cy), fill=128)
    return page


def decode(data: bytes, width: int = 576) -> Image.Image:
    return to_image(parse(data), width)
