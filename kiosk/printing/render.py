"""Print elements -> ESC/POS bytes, in one of three modes.

* ``raster`` (default): Vietnamese lines drawn with Pillow into 1-bit images
  cropped to their ink (GS v 0), the blank rows between them sent as paper
  feeds (ESC J); the number, time and ticket id in the printer's own font
  (GS !); QR as the printer's own command (GS ( k).
* ``tcvn3``: Vietnamese as native text through the TCVN-3 code pages, for
  printers whose profile says they have them.
* ``full_raster``: the whole ticket as one image, for printers that can do
  nothing else.

Every byte goes through a python-escpos ``Dummy`` printer, so the output is
what python-escpos would send; rasters are packed here because its image
path pads to the full paper width and costs time.
"""
from __future__ import annotations

import textwrap
from functools import lru_cache

import qrcode

from kiosk.printing import load_escpos

load_escpos()     # before python-escpos itself (kiosk/printing/__init__.py)
from escpos.constants import PAPER_FULL_CUT, PAPER_PART_CUT
from escpos.magicencode import Encoder
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from . import fonts
from .layout import Cut, Element, Feed, Native, Qr, Rule, TicketView, VText, layout, nfc
from .profiles import PrinterProfile

MODES = ("raster", "tcvn3", "full_raster")
# Font pixels per named size, at 203 dpi (8 dots/mm): 18 px gives capitals
# about 2.3 mm tall, like the printer's own small font.  Each step up costs
# bytes on a 9600-baud line; these keep a typical ticket under 6 KB.
FONT_PX = {"title": 40, "heading": 24, "body": 18, "small": 16}
# Blank rows above and below each raster line, so accents never touch.  Sent
# as paper feed (ESC J, 3 bytes), not as rows of the image (a row is up to 72).
PAD_Y = 1
MARGIN = 8  # dots kept clear at each side of the paper
LINE_CACHE = 256  # drawn lines kept (TicketRenderer._lines)
_INVERT = bytes.maketrans(bytes(range(256)), bytes(255 - b for b in range(256)))
GS = b"\x1d"
ESC = b"\x1b"


class TcvnEncoder(Encoder):
    """python-escpos' encoder with the TCVN-3 upper page fixed.

    Its table puts U+00D0 (Icelandic Eth) where TCVN-3 has Đ (U+0110, byte
    0xA7), so "ĐẤT ĐAI" would leave the TCVN pages for another code page the
    printer may not have.
    """

    @staticmethod
    def _get_codepage_char_list(encoding):
        chars = Encoder._get_codepage_char_list(encoding)
        if encoding == "TCVN-3-2":
            chars = ["Đ" if c == "Ð" else c for c in chars]
        return chars


def raster_command(img: Image.Image) -> bytes:
    """GS v 0 for a 1-bit image whose width is a multiple of 8 (PIL: 0 = black)."""
    if img.mode != "1" or img.width % 8:
        raise ValueError("raster images must be mode '1' and a multiple of 8 dots wide")
    w, h = img.width // 8, img.height
    return GS + b"v0\x00" + bytes((w & 0xFF, w >> 8, h & 0xFF, h >> 8)) + img.tobytes().translate(_INVERT)


class _Job(Dummy):
    """One ticket's bytes, and the alignment the printer is in by now.

    Kept per job, not on the renderer, because the core renders outside the
    printer's lock.  ESC @ starts every ticket, so it starts left-aligned.
    """

    aligned = "left"


class TicketRenderer:
    def __init__(self, profile: PrinterProfile, mode: str = "raster", *, font: str = "", qr: bool = True):
        if mode not in MODES:
            raise ValueError(f"[printer] mode: unknown mode {mode!r} (expected one of {MODES})")
        if mode == "tcvn3" and not profile.tcvn3:
            raise ValueError(
                f"[printer] mode = 'tcvn3' but profile {profile.name!r} has no working TCVN-3 code page; "
                "use mode = 'raster'"
            )
        self.profile = profile
        self.mode = mode
        self.qr = qr and (profile.native_qr or mode == "full_raster")
        self.fonts = fonts.find(font)
        self._synthetic_bold = self.fonts.bold == self.fonts.regular
        self.encoder = TcvnEncoder(profile.code_pages)
        self._font = lru_cache(maxsize=16)(self._load_font)
        # Drawing a line with FreeType is most of a ticket's cost, and holds
        # the interpreter while the core has calls to publish.  A site's lines
        # repeat: its name and instruction on every ticket, ten field names,
        # "N people ahead" for the few hundred N of a day.  A line is a few
        # KB, so 256 of them stay well under a megabyte.
        self._lines = lru_cache(maxsize=LINE_CACHE)(self._draw_lines)

    # -- fonts and lines --------------------------------------------------
    def _load_font(self, size: str, bold: bool) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.fonts.bold if bold else self.fonts.regular, FONT_PX[size])

    def wrap(self, el: VText) -> list[str]:
        font = self._font(el.size, el.bold)
        limit = self.profile.width_dots - 2 * MARGIN - (16 if el.invert else 0)
        lines: list[str] = []
        for para in nfc(el.text).split("\n"):
            cur = ""
            for word in para.split(" "):
                trial = f"{cur} {word}" if cur else word
                if font.getlength(trial) <= limit or not cur:
                    cur = trial
                else:
                    lines.append(cur)
                    cur = word
            lines.append(cur)
        return lines

    def text_images(self, el: VText) -> list[Image.Image]:
        """The exact 1-bit images raster mode sends for ``el``, one per wrapped line.

        One image per line, each cropped to its own ink, so a wrapped centre
        name costs two short lines instead of one full-width block.  A plain
        line has no blank rows: PAD_Y above and below it is fed, not drawn
        (``padded`` gives the line with them).  An inverted one keeps its
        black box, pads included.
        """
        return list(self._lines(el))

    def _draw_lines(self, el: VText) -> tuple[Image.Image, ...]:
        return tuple(self._draw_line(el, line) for line in self.wrap(el))

    def _draw_line(self, el: VText, line: str) -> Image.Image:
        font = self._font(el.size, el.bold)
        stroke = 1 if el.bold and self._synthetic_bold else 0
        width = self.profile.width_dots
        ascent, descent = font.getmetrics()
        # Vietnamese capitals carry marks above the ascent (Ấ, Ộ): leave room.
        top_room = FONT_PX[el.size] // 3
        canvas = Image.new("L", (width, ascent + descent + top_room + 2 * PAD_Y), 255)
        tw = font.getlength(line)
        x = {"left": MARGIN, "right": width - MARGIN - tw, "center": (width - tw) / 2}[el.align]
        ImageDraw.Draw(canvas).text((round(x), PAD_Y + top_room), line, font=font, fill=0,
                                    stroke_width=stroke, stroke_fill=0)
        img = canvas.point(lambda v: 0 if v < 128 else 255, "1")
        box = Image.eval(img.convert("L"), lambda v: 255 - v).getbbox()
        if box is None:
            return Image.new("1", (8, 1), 1)
        left, top, right, bottom = box
        if el.invert:
            left, right = max(0, left - 8), min(width, right + 8)
            top, bottom = max(0, top - 4), min(canvas.height, bottom + 4)
        # Crop to the ink, rounded out to whole bytes; ESC a places it.  A
        # printer that ignores ESC a for images keeps the blank left part.
        left = left // 8 * 8 if self.profile.raster_align else 0
        right = min(width, -(-right // 8) * 8)
        pad = PAD_Y if el.invert else 0
        img = img.crop((left, max(0, top - pad), right, min(canvas.height, bottom + pad)))
        if el.invert:
            img = Image.eval(img.convert("L"), lambda v: 255 - v).convert("1", dither=Image.Dither.NONE)
        return img

    # -- public entry points ---------------------------------------------
    def elements(self, view: TicketView) -> list[Element]:
        return layout(view, number_size=self.profile.number_size, qr=self.qr,
                      feed_before_cut=self.profile.feed_before_cut)

    def render(self, view: TicketView) -> bytes:
        return self.encode(self.elements(view))

    @staticmethod
    def padded(el: VText, img: Image.Image) -> Image.Image:
        """``img`` (one of ``text_images(el)``) with the blank rows raster mode feeds around it."""
        if el.invert:
            return img
        out = Image.new("1", (img.width, img.height + 2 * PAD_Y), 1)
        out.paste(img, (0, PAD_Y))
        return out

    def encode(self, elements: list[Element]) -> bytes:
        p = _Job(magic_encode_args={"encoder": self.encoder})
        # ESC @ resets the printer, including its code page (page 0).
        p._raw(ESC + b"@")
        p.magic.encoding = next(iter(self.profile.code_pages))
        if self.mode == "full_raster":
            self._full_raster(p, elements)
            return p.output
        # Blank paper between lines is one ESC J: a layout feed and the pads
        # of the lines either side add up, so the rows land where a padded
        # image would have put them.
        feed = 0
        for el in elements:
            if isinstance(el, Feed):
                feed += el.dots
            elif isinstance(el, VText) and self.mode == "raster":
                self._align(p, el.align if self.profile.raster_align else "left")
                for img in self.text_images(el):
                    self._feed(p, feed + (0 if el.invert else PAD_Y))
                    p._raw(raster_command(img))
                    feed = 0 if el.invert else PAD_Y
            else:
                self._feed(p, feed)
                feed = 0
                self._element(p, el)
        self._feed(p, feed)
        return p.output

    # -- per-element encoding --------------------------------------------
    def _align(self, p: _Job, align: str) -> None:
        # Only a change is sent (3 bytes a line): nothing else here sends ESC a.
        if align != p.aligned:
            p.set(align=align)
            p.aligned = align

    @staticmethod
    def _feed(p: _Job, dots: int) -> None:
        while dots > 0:
            p._raw(ESC + b"J" + bytes((min(255, dots),)))
            dots -= 255

    def _element(self, p: _Job, el: Element) -> None:
        if isinstance(el, VText):   # tcvn3 mode; encode() sends the rasters
            self._tcvn3_text(p, el)
        elif isinstance(el, Native):
            self._native(p, el)
        elif isinstance(el, Qr):
            self._align(p, "center")
            p.qr(el.data, size=el.module, native=True)
            p._raw(b"\n")
        elif isinstance(el, Rule):
            self._align(p, "center")
            p.set(bold=False, custom_size=True, width=1, height=1)
            p.text("-" * (self.profile.width_dots // 12 - 4) + "\n")
        elif isinstance(el, Feed):
            self._feed(p, el.dots)
        elif isinstance(el, Cut):
            self._cut(p)

    def _native(self, p: _Job, el: Native) -> None:
        w = min(el.width, max(1, self.profile.width_dots // (12 * max(1, len(el.text)))))
        h = el.height
        self._align(p, el.align)
        p.set(bold=el.bold, custom_size=True, width=w, height=h)
        p.text(el.text + "\n")
        p.set(bold=False, custom_size=True, width=1, height=1)

    def _tcvn3_text(self, p: _Job, el: VText) -> None:
        # title: 2x2, heading: 1x2 bold, body/small: 1x1.  12-dot cells.
        mult = {"title": 2, "heading": 1, "body": 1, "small": 1}[el.size]
        tall = {"title": 2, "heading": 2, "body": 1, "small": 1}[el.size]
        cols = self.profile.width_dots // (12 * mult)
        self._align(p, el.align)
        p.set(bold=el.bold, custom_size=True, width=mult, height=tall, invert=el.invert)
        # TCVN-3 has no dashes beyond ASCII; everything else Vietnamese it has.
        text = nfc(el.text).replace("–", "-").replace("—", "-")
        # Wrapped at plain spaces only (textwrap never breaks at a no-break
        # space, which keeps "20 phút" whole); TCVN-3 has no no-break space.
        for line in textwrap.wrap(text, cols) or [""]:
            p.text(line.replace("\u00a0", " ") + "\n")
        p.set(bold=False, custom_size=True, width=1, height=1, invert=False)

    def _cut(self, p: _Job) -> None:
        # Every ticket ends with a cut command: it is also where a job ends.
        # Not p.cut(mode): that feeds six lines first (the layout feeds
        # already) and sends nothing when the Dummy's profile lacks the cut.
        if self.profile.cut == "partial":
            p._raw(PAPER_PART_CUT)
        elif self.profile.cut == "full":
            p._raw(PAPER_FULL_CUT)
        else:
            p.cut(feed=False)   # GS V 66 0: feed to the cutter (or tear bar), then cut

    # -- full raster ------------------------------------------------------
    def full_image(self, elements: list[Element]) -> Image.Image:
        """The whole ticket as one image (full_raster mode), all but the cut."""
        width = self.profile.width_dots
        parts: list[tuple[Image.Image, str]] = []
        for el in elements:
            if isinstance(el, VText):
                parts += [(self.padded(el, img), el.align) for img in self.text_images(el)]
            elif isinstance(el, Native):
                parts.append((self._native_image(el), el.align))
            elif isinstance(el, Qr):
                q = qrcode.QRCode(box_size=el.module, border=1, error_correction=qrcode.constants.ERROR_CORRECT_L)
                q.add_data(el.data)
                q.make(fit=True)
                parts.append((q.make_image().get_image().convert("1"), "center"))
            elif isinstance(el, Rule):
                rule = Image.new("1", (width - 4 * MARGIN, 7), 1)
                ImageDraw.Draw(rule).line((0, 3, rule.width, 3), fill=0, width=2)
                parts.append((rule, "center"))
            elif isinstance(el, Feed):
                parts.append((Image.new("1", (8, el.dots), 1), "left"))
        height = sum(im.height for im, _ in parts)
        page = Image.new("1", (width, height), 1)
        y = 0
        for im, align in parts:
            x = {"left": 0, "center": (width - im.width) // 2, "right": width - im.width}[align]
            page.paste(im, (x, y))
            y += im.height
        return page

    def _native_image(self, el: Native) -> Image.Image:
        # The printer's 12x24 font is about a 22 px sans; scale by the height multiplier.
        font = ImageFont.truetype(self.fonts.bold if el.bold else self.fonts.regular, 22 * el.height)
        x0, y0, x1, y1 = font.getbbox(el.text)
        canvas = Image.new("L", (x1 + 8, y1 + 6), 255)
        ImageDraw.Draw(canvas).text((0, 3), el.text, font=font, fill=0)
        img = canvas.point(lambda v: 0 if v < 128 else 255, "1").crop((0, max(0, y0), canvas.width, canvas.height))
        # Breathing room like the printer's own line spacing gives native text.
        pad = 4 * el.height
        framed = Image.new("1", (-(-img.width // 8) * 8, img.height + 2 * pad), 1)
        framed.paste(img, (0, pad))
        return framed

    def full_raster_page(self, elements: list[Element]) -> Image.Image:
        """The image full_raster mode sends: the ticket up to the final feed, cropped to its ink."""
        els = [e for e in elements if not isinstance(e, Cut)]
        while els and isinstance(els[-1], Feed):
            els.pop()
        page = self.full_image(els)
        if self.profile.raster_align:
            box = Image.eval(page.convert("L"), lambda v: 255 - v).getbbox()
            if box:
                left, right = box[0] // 8 * 8, min(page.width, -(-box[2] // 8) * 8)
                page = page.crop((left, 0, right, page.height))
        return page

    def _full_raster(self, p: _Job, elements: list[Element]) -> None:
        page = self.full_raster_page(elements)
        self._align(p, "center" if self.profile.raster_align else "left")
        # Cheap printers have small receive buffers: send bands of 128 rows.
        for top in range(0, page.height, 128):
            p._raw(raster_command(page.crop((0, top, page.width, min(page.height, top + 128)))))
        # Blank paper before the cutter is a feed command, not rows of zeros.
        tail = []
        for e in reversed([e for e in elements if not isinstance(e, Cut)]):
            if not isinstance(e, Feed):
                break
            tail.append(e)
        for e in reversed(tail):
            self._element(p, e)
        if any(isinstance(e, Cut) for e in elements):
            self._cut(p)
