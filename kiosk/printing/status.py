"""DLE EOT replies -> one printer state.  Pure: bytes in, state out.

Real-time status (Epson ESC/POS, also Xprinter and most clones):
  DLE EOT 1  printer status   bit 3: offline
  DLE EOT 2  offline cause    bit 2: cover open, bit 5: stopped by paper end, bit 6: error
  DLE EOT 3  error cause      bit 3: cutter error, bit 5: unrecoverable, bit 6: auto-recoverable
  DLE EOT 4  paper sensor     bits 2+3: near end, bits 5+6: paper end
Every valid reply has bit 1 and bit 4 set and bits 0 and 7 clear (0x12 mask).

No reply means "unknown", never "ok": python-escpos' paper_status() says
"paper adequate" when nothing answers, which would print into the void.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["ok", "paper_near_end", "paper_out", "cover_open", "offline", "unplugged", "unknown"]
STATES: tuple[str, ...] = ("ok", "paper_near_end", "paper_out", "cover_open", "offline", "unplugged", "unknown")
# A ticket may be printed in these states; the others keep it for reprint.
PRINTABLE = ("ok", "paper_near_end")
QUERIES = (1, 2, 3, 4)

# What the kiosk can tell the citizen, and staff, for each state.
MESSAGE_VI = {
    "ok": "Máy in sẵn sàng",
    "paper_near_end": "Máy in sắp hết giấy",
    "paper_out": "Máy in hết giấy",
    "cover_open": "Nắp máy in đang mở",
    "offline": "Máy in đang lỗi hoặc tạm dừng",
    "unplugged": "Máy in chưa được kết nối",
    "unknown": "Không rõ trạng thái máy in",
}


@dataclass(frozen=True)
class PrinterStatus:
    state: State
    detail: str

    @property
    def printable(self) -> bool:
        return self.state in PRINTABLE


def valid(byte: int | None) -> bool:
    return byte is not None and byte & 0x93 == 0x12


def request(n: int) -> bytes:
    return b"\x10\x04" + bytes((n,))


def classify(replies: dict[int, int | None]) -> PrinterStatus:
    """The state from DLE EOT 1..4 replies (None: that query got no answer)."""
    bad = {n: b for n, b in replies.items() if b is not None and not valid(b)}
    if bad:
        shown = ", ".join(f"DLE EOT {n} -> 0x{b:02x}" for n, b in sorted(bad.items()))
        return PrinterStatus("unknown", f"garbled status reply ({shown}); wrong baud rate or not an ESC/POS printer?")
    r1, r2, r3, r4 = (replies.get(n) for n in QUERIES)
    if r1 is None and r2 is None and r4 is None:
        return PrinterStatus("unknown", "no reply to DLE EOT (printer off, wrong port or baud rate, or status not supported)")
    if r2 is not None and r2 & 0x04:
        return PrinterStatus("cover_open", "cover open (DLE EOT 2 bit 2)")
    if (r4 is not None and r4 & 0x60) or (r2 is not None and r2 & 0x20):
        return PrinterStatus("paper_out", "paper end sensor (DLE EOT 4 bits 5-6)" if r4 and r4 & 0x60 else "stopped by paper end (DLE EOT 2 bit 5)")
    if r3 is not None and r3 & 0x68:
        causes = [name for bit, name in ((0x08, "cutter error"), (0x20, "unrecoverable error"), (0x40, "auto-recoverable error (head too hot?)")) if r3 & bit]
        return PrinterStatus("offline", ", ".join(causes) + " (DLE EOT 3)")
    if (r1 is not None and r1 & 0x08) or (r2 is not None and r2 & 0x40):
        return PrinterStatus("offline", "printer reports offline (DLE EOT 1 bit 3)")
    if r1 is None or r4 is None:
        missing = [str(n) for n in (1, 4) if replies.get(n) is None]
        return PrinterStatus("unknown", f"no reply to DLE EOT {', '.join(missing)}")
    if r4 & 0x0C:
        return PrinterStatus("paper_near_end", "paper near end (DLE EOT 4 bits 2-3)")
    return PrinterStatus("ok", "online, paper present, cover closed")


def reply_for(state: str) -> dict[int, int | None]:
    """The bytes a printer in ``state`` answers (used by the simulator)."""
    base = 0x12
    r = {1: base, 2: base, 3: base, 4: base}
    if state == "paper_near_end":
        r[4] |= 0x0C
    elif state == "paper_out":
        r[1] |= 0x08
        r[2] |= 0x20
        r[4] |= 0x6C
    elif state == "cover_open":
        r[1] |= 0x08
        r[2] |= 0x04
    elif state == "offline":
        r[1] |= 0x08
        r[2] |= 0x40
        r[3] |= 0x40
    elif state in ("unknown", "unplugged"):
        return {1: None, 2: None, 3: None, 4: None}
    elif state != "ok":
        raise ValueError(f"unknown printer state {state!r} (expected one of {STATES})")
    return r
